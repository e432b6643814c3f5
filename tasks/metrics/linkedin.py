"""LinkedIn organization pages: the versioned Community Management REST API (SOMEARKIV_LINKEDIN_TOKEN).

Followers: ``/networkSizes/urn:li:organization:{id}?edgeType=COMPANY_FOLLOWED_BY_MEMBER`` →
``firstDegreeSize``. Posts: ``/posts?author=urn:li:organization:{id}&q=author&count=..&start=..
&sortBy=CREATED`` newest first, each with ``publishedAt``/``createdAt`` (epoch ms) and
``lifecycleState`` (only PUBLISHED counts: not drafts, not scheduled or failed ones). A post with
``reshareContext`` is a reshare: counted apart, unless the organization wrote its own text on it
(``commentary``), which makes it a written post like a quote.

The numeric organization id comes from ````api_id`` in the register``, a
numeric handle, or a linkedin.com/company/<number> URL. Every call sends ``LinkedIn-Version``
(``SOMEARKIV_LINKEDIN_VERSION``, default below) and ``X-Restli-Protocol-Version: 2.0.0``.
Comments are not posts in this API and are not counted.

Paging: the posts come sorted by creation (``sortBy=CREATED``: ``createdAt``) but are counted by
publication (``publishedAt``), and a post scheduled in LinkedIn's scheduler is created when it is
scheduled and published when its time comes. So a post created before the window and published
inside it sits further down than the first post created before the start, and stopping there
missed it. Reading goes on until creation dates are ``ORDER_LAG`` (90 days) before the window's
start (``order_field``/``order_lag``, see ``core.tally``): LinkedIn's scheduler offers dates up
to three months ahead, so a scheduled post is published at most that long after it was created.
A post read that was published longer than that after its creation would show the bound wrong
for this page: the count is then "at least", medium confidence. The cost is small: a
municipality's 90 + 30 days of posts fit in a page or two of 100. ``sortBy=LAST_MODIFIED`` would
need no lag only if publishing always set ``lastModifiedAt``, which LinkedIn does not document.
Offset paging can shift when a post is added meanwhile; a post met twice is counted once (its id).

Rate limits (:func:`linkedin_throttle`): a 429. Retry-After, when sent, is authoritative and
waited out once; without it the wait is a backoff (1, 2, 4 s). LinkedIn's application and member
limits are daily and reset at midnight UTC, which the reason says when the backoff does not help.
"""

from __future__ import annotations

import datetime as dt
import math
import urllib.parse
from collections.abc import Iterator
from typing import Any

from somearkiv.models import Account, Platform
from tasks.metrics.core import (
    MAX_RETRIES,
    HttpClient,
    Item,
    MetricsAdapter,
    Profile,
    Throttle,
    Unavailable,
    Window,
    as_count,
    backoff,
    default_throttle,
    duration_text,
    parse_time,
    retry_wait,
)

__all__ = ["LinkedInAdapter", "linkedin_throttle", "organization_id"]

DEFAULT_VERSION = "202607"  # LinkedIn supports each monthly version for at least a year
PAGE_SIZE = 100
ORDER_LAG = dt.timedelta(days=90)  # the longest creation-to-publication gap paging allows for (see above)


def organization_id(account: Account, env: Any = None) -> str | None:
    explicit = (account.api_id or "").removeprefix("urn:li:organization:")
    if explicit.isdigit():
        return explicit
    handle = account.handle.strip().lstrip("@").removeprefix("urn:li:organization:")
    if handle.isdigit():
        return handle
    path = urllib.parse.urlsplit(str(account.url)).path.strip("/").split("/")
    if len(path) >= 2 and path[0] == "company" and path[1].isdigit():
        return path[1]
    return None


def linkedin_throttle(status: int, headers: Any, body: bytes, attempt: int,
                      now: dt.datetime | None = None) -> Throttle | None:
    """LinkedIn's rule: 429 is a rate limit; Retry-After says how long, else back off."""
    if status != 429:
        return default_throttle(status, headers, body, attempt)
    told = retry_wait(headers, names=("Retry-After",))
    if told is not None:
        return Throttle(f"429 LinkedIn rate limit (retry after {math.ceil(told)} s)", told)
    now = now or dt.datetime.now(dt.UTC)
    midnight = dt.datetime.combine(now.astimezone(dt.UTC).date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return Throttle(f"429 LinkedIn rate limit (no Retry-After; the daily limits reset at midnight UTC, in "
                    f"{duration_text((midnight - now).total_seconds())})", backoff(attempt), MAX_RETRIES)


class LinkedInAdapter(MetricsAdapter):
    platform = Platform.linkedin
    default_base = "https://api.linkedin.com/rest"
    posts_note = "published posts of the organization, reshares without own text apart"
    order_field = "creation date"
    order_lag = ORDER_LAG

    def not_configured(self, account: Account) -> str | None:
        return super().not_configured(account) or (
            None if organization_id(account, self.env)
            else "no LinkedIn organization id (set api_id in the register)")

    def throttle(self, status: int, headers: Any, body: bytes, attempt: int) -> Throttle | None:
        return linkedin_throttle(status, headers, body, attempt)

    def auth_headers(self, credential: str) -> dict[str, str]:
        version = (self.env.get("SOMEARKIV_LINKEDIN_VERSION") or DEFAULT_VERSION).strip()
        return {"Authorization": f"Bearer {credential}", "LinkedIn-Version": version,
                "X-Restli-Protocol-Version": "2.0.0"}

    def profile(self, http: HttpClient, account: Account) -> Profile:
        org = organization_id(account, self.env)
        assert org is not None
        urn = urllib.parse.quote(f"urn:li:organization:{org}", safe="")
        data, _ = http.get_json(f"networkSizes/{urn}", {"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"})
        if not isinstance(data, dict):
            raise Unavailable("networkSizes gave no object")
        return Profile(id=f"urn:li:organization:{org}", followers=as_count(data.get("firstDegreeSize")),
                       followers_detail="networkSizes firstDegreeSize (COMPANY_FOLLOWED_BY_MEMBER)")

    def pages(self, http: HttpClient, account: Account, profile: Profile, window: Window) -> Iterator[list[Item]]:
        start = 0
        while True:
            params = {"author": profile.id, "q": "author", "count": PAGE_SIZE, "start": start, "sortBy": "CREATED"}
            data, _ = http.get_json("posts", params)
            elements = data.get("elements") if isinstance(data, dict) else None
            if not isinstance(elements, list):
                raise Unavailable("posts gave no elements")
            yield [_item(post) for post in elements if isinstance(post, dict)]
            total = as_count((data.get("paging") or {}).get("total"))
            start += len(elements)
            if not elements or (total is not None and start >= total):
                return


def _item(post: dict[str, Any]) -> Item:
    published = post.get("lifecycleState") == "PUBLISHED"
    created = parse_time(post.get("createdAt"))
    at = parse_time(post.get("publishedAt")) or created
    reshare = bool(post.get("reshareContext")) and not str(post.get("commentary") or "").strip()
    key = post.get("id")
    return Item(at=at, repost=reshare, counted=published, order_at=created, key=str(key) if key else None)
