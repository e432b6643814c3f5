"""LinkedIn organization pages: the versioned Community Management REST API (SOMEARKIV_LINKEDIN_ACCESS_TOKEN).

Followers: ``/networkSizes/urn:li:organization:{id}?edgeType=COMPANY_FOLLOWED_BY_MEMBER`` →
``firstDegreeSize``. Posts: ``/posts?author=urn:li:organization:{id}&q=author&count=..&start=..
&sortBy=CREATED`` newest first, each with ``publishedAt``/``createdAt`` (epoch ms) and
``lifecycleState`` (only PUBLISHED counts: not drafts, not scheduled or failed ones). A post with
``reshareContext`` is a reshare: counted apart, unless the organization wrote its own text on it
(``commentary``), which makes it a written post like a quote.

The numeric organization id comes from ``SOMEARKIV_LINKEDIN_ORGANIZATION_ID[_<ACCOUNT>]``, a
numeric handle, or a linkedin.com/company/<number> URL. Every call sends ``LinkedIn-Version``
(``SOMEARKIV_LINKEDIN_VERSION``, default below) and ``X-Restli-Protocol-Version: 2.0.0``.
Comments are not posts in this API and are not counted.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

from somearkiv.models import Account, Platform
from tasks.metrics.core import (
    HttpClient,
    Item,
    MetricsAdapter,
    Profile,
    Unavailable,
    Window,
    account_setting,
    as_count,
    parse_time,
)

__all__ = ["LinkedInAdapter", "organization_id"]

DEFAULT_VERSION = "202607"  # LinkedIn supports each monthly version for at least a year
PAGE_SIZE = 100


def organization_id(account: Account, env: Any) -> str | None:
    explicit = account_setting(env, "LINKEDIN_ORGANIZATION_ID", account)
    if explicit and explicit.isdigit():
        return explicit
    handle = account.handle.strip().lstrip("@").removeprefix("urn:li:organization:")
    if handle.isdigit():
        return handle
    path = urllib.parse.urlsplit(str(account.url)).path.strip("/").split("/")
    if len(path) >= 2 and path[0] == "company" and path[1].isdigit():
        return path[1]
    return None


class LinkedInAdapter(MetricsAdapter):
    platform = Platform.linkedin
    base_env = "SOMEARKIV_LINKEDIN_API_BASE"
    default_base = "https://api.linkedin.com/rest"
    credential_env = "SOMEARKIV_LINKEDIN_ACCESS_TOKEN"
    posts_note = "published posts of the organization, reshares without own text apart"

    def not_configured(self, account: Account) -> str | None:
        return super().not_configured(account) or (
            None if organization_id(account, self.env)
            else "no LinkedIn organization id (set SOMEARKIV_LINKEDIN_ORGANIZATION_ID_<ACCOUNT>)")

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
    at = parse_time(post.get("publishedAt")) or parse_time(post.get("createdAt"))
    reshare = bool(post.get("reshareContext")) and not str(post.get("commentary") or "").strip()
    return Item(at=at, repost=reshare, counted=published)
