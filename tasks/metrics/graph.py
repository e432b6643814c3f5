"""Facebook Pages and Instagram professional accounts: the Meta Graph API (SOMEARKIV_FACEBOOK_TOKEN,
SOMEARKIV_INSTAGRAM_TOKEN: the same Meta token may be given to both).

Facebook: ``/{page}?fields=followers_count,fan_count`` and
``/{page}/published_posts?fields=created_time&since=..&until=..`` (only published posts: not
scheduled, not drafts), paged by ``paging.next``. The page is the handle (page user name), the
first segment of the page URL, or ``api_id`` in the register.

Instagram: ``/{ig-user-id}?fields=followers_count,media_count`` and
``/{ig-user-id}/media?fields=timestamp``. The numeric IG user id comes from
``api_id`` in the register or from a numeric handle; the user name alone is not
enough for the API.

Graph does not tell a shared post from a written one, so ``reposts_last_month`` is not given and
shares are inside ``posts_last_month`` (said in its detail). Graph echoes the access token into
``paging.next``; it is taken out of the URL before the next page is fetched (the token travels in
the Authorization header only).

Rate limits (:func:`graph_throttle`): Graph says "too many calls" in the error body, not with
429: ``code`` 4 (app), 17 (user), 32 (page), 613 (custom), 80000-80014 (business use case), or
any error with ``is_transient`` true, mostly as 403 or 400. How long until access is regained
is in the usage headers (``X-Business-Use-Case-Usage`` and the like:
``estimated_time_to_regain_access`` in minutes; ``X-Ad-Account-Usage``: ``reset_time_duration``
in seconds); ``X-App-Usage`` only gives percentages of the hourly budget, so without an estimate
the wait is a short backoff.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import Iterator
from typing import Any, ClassVar

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
    error_object,
    header,
    iter_pages,
    parse_time,
    without_query_keys,
)

__all__ = ["FacebookAdapter", "InstagramAdapter", "facebook_page", "graph_throttle", "graph_usage", "instagram_user"]

#: Graph's throttling codes: app, user, page, custom rate limits, and the business use case ones.
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
_USAGE_HEADERS = {"X-Business-Use-Case-Usage": "", "X-App-Usage": "app", "X-Page-Usage": "page",
                  "X-Ad-Account-Usage": "ad account"}
_PERCENTS = ("call_count", "total_cputime", "total_time", "acc_id_util_pct")


def facebook_page(account: Account, env: Any = None) -> str | None:
    if account.api_id:
        return account.api_id
    handle = account.handle.strip().lstrip("@")
    if handle and all(c.isalnum() or c in ".-_" for c in handle):
        return handle
    path = urllib.parse.urlsplit(str(account.url)).path.strip("/").split("/")
    if path and path[0] and path[0] != "profile.php":
        return path[0]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(str(account.url)).query)
    return query.get("id", [None])[0]


def instagram_user(account: Account, env: Any = None) -> str | None:
    if account.api_id:
        return account.api_id
    handle = account.handle.strip().lstrip("@")
    return handle if handle.isdigit() else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def graph_usage(headers: Any) -> tuple[float | None, str]:
    """From Graph's usage headers: seconds until access is regained (the longest estimate, None if
    none is given) and the highest usage, as text (e.g. "app usage call_count at 100%")."""
    regain: float | None = None
    peak, peak_text = -1.0, ""
    for name, label in _USAGE_HEADERS.items():
        raw = header(headers, name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        entries: list[tuple[str, Any]] = []
        if label:
            entries.append((label, data))
        else:  # {"<business id>": [{"type": "pages", "call_count": ..., ...}, ...], ...}
            for value in data.values():
                entries += [(str(e.get("type") or "business use case"), e) for e in
                            (value if isinstance(value, list) else []) if isinstance(e, dict)]
        for kind, entry in entries:
            if not isinstance(entry, dict):
                continue
            minutes = _number(entry.get("estimated_time_to_regain_access"))
            seconds = _number(entry.get("reset_time_duration"))
            for estimate in (None if minutes is None else minutes * 60, seconds):
                if estimate:
                    regain = max(regain or 0.0, estimate)
            for key in _PERCENTS:
                percent = _number(entry.get(key))
                if percent is not None and percent > peak:
                    peak, peak_text = percent, f"{kind} usage {key} at {percent:g}%"
    return regain, peak_text


def graph_throttle(status: int, headers: Any, body: bytes, attempt: int) -> Throttle | None:
    """Graph's rule: a throttling code or ``is_transient`` is a throttle, whatever the HTTP status.

    Waited: the usage headers' estimate of when access is regained, if they give one (once);
    else a backoff of 2, 4, 8 s (a throttled app's further calls count too, so few and short).
    Anything else (code 10 permission, 190 token, 100 field, ...) is an ordinary error.
    """
    error = error_object(body)
    code = error.get("code") if isinstance(error.get("code"), int) else None
    transient = error.get("is_transient") is True
    if code not in RATE_LIMIT_CODES and not transient:
        return default_throttle(status, headers, body, attempt)
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    what = ", ".join(part for part in (f"code {code}" if code is not None else "",
                                       f"subcode {subcode}" if subcode else "",
                                       "is_transient" if transient else "") if part)
    kind = "Graph rate limit" if code in RATE_LIMIT_CODES else "Graph transient error"
    head = f"{status} {kind} ({what})"
    regain, usage = graph_usage(headers)
    if regain is not None:
        return Throttle(f"{head}; access regained in {duration_text(regain)}", regain)
    return Throttle(head + (f"; {usage}" if usage else ""), backoff(attempt, 2.0), MAX_RETRIES)


class _GraphAdapter(MetricsAdapter):
    default_base = "https://graph.facebook.com/v21.0"
    reposts_apart = False
    edge: ClassVar[str]
    fields: ClassVar[str]
    date_field: ClassVar[str]

    def node(self, account: Account) -> str | None:
        raise NotImplementedError

    def not_configured(self, account: Account) -> str | None:
        return super().not_configured(account) or (None if self.node(account) else self.no_node)

    no_node: ClassVar[str] = "no Graph id for the account"

    def throttle(self, status: int, headers: Any, body: bytes, attempt: int) -> Throttle | None:
        return graph_throttle(status, headers, body, attempt)

    def get_node(self, http: HttpClient, account: Account) -> tuple[str, dict[str, Any]]:
        node = self.node(account)
        assert node is not None
        data, _ = http.get_json(urllib.parse.quote(node, safe=""), {"fields": self.fields})
        if not isinstance(data, dict):
            raise Unavailable("the Graph node is not an object")
        return str(data.get("id") or node), data

    def pages(self, http: HttpClient, account: Account, profile: Profile, window: Window) -> Iterator[list[Item]]:
        def fetch(url: str) -> tuple[list[Item], str | None]:
            data, _ = http.get_json(url)
            if not isinstance(data, dict) or not isinstance(data.get("data", []), list):
                raise Unavailable(f"{self.edge} gave no data")
            items = [Item(at=parse_time(entry.get(self.date_field)))
                     for entry in data.get("data", []) if isinstance(entry, dict)]
            following = (data.get("paging") or {}).get("next")
            return items, without_query_keys(following, "access_token") if following else None

        first = http.url(f"{urllib.parse.quote(profile.id, safe='')}/{self.edge}", self.edge_params(window))
        return iter_pages(lambda: fetch(first), fetch)

    def edge_params(self, window: Window) -> dict[str, Any]:
        return {"fields": self.date_field, "limit": 100}


class FacebookAdapter(_GraphAdapter):
    platform = Platform.facebook
    edge = "published_posts"
    fields = "followers_count,fan_count"
    date_field = "created_time"
    posts_note = "published posts of the page (shares included: Graph does not mark them)"
    no_node = "no Facebook page id (set api_id in the register, or a page name as handle)"

    def node(self, account: Account) -> str | None:
        return facebook_page(account, self.env)

    def profile(self, http: HttpClient, account: Account) -> Profile:
        page_id, data = self.get_node(http, account)
        fans = as_count(data.get("fan_count"))
        return Profile(id=page_id, followers=as_count(data.get("followers_count")),
                       followers_detail="followers_count" + (f"; fan_count (likes) {fans}" if fans is not None else ""))

    def edge_params(self, window: Window) -> dict[str, Any]:
        # since/until narrow the answer to the window; the edge is still watched in tally().
        return {"fields": self.date_field, "limit": 100, "since": int(window.start.timestamp()),
                "until": int(window.end.timestamp()) + 1}


class InstagramAdapter(_GraphAdapter):
    platform = Platform.instagram
    edge = "media"
    fields = "followers_count,media_count"
    date_field = "timestamp"
    posts_note = "published media (posts, reels, carousels; stories are not in the API)"
    no_node = ("no Instagram user id (set api_id in the register: the Graph API needs "
               "the numeric id of the professional account)")

    def node(self, account: Account) -> str | None:
        return instagram_user(account, self.env)

    def profile(self, http: HttpClient, account: Account) -> Profile:
        user_id, data = self.get_node(http, account)
        return Profile(id=user_id, followers=as_count(data.get("followers_count")), followers_detail="followers_count",
                       total_posts=as_count(data.get("media_count")), total_detail="media_count")
