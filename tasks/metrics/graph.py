"""Facebook Pages and Instagram professional accounts: the Meta Graph API (SOMEARKIV_META_ACCESS_TOKEN).

Facebook: ``/{page}?fields=followers_count,fan_count`` and
``/{page}/published_posts?fields=created_time&since=..&until=..`` (only published posts: not
scheduled, not drafts), paged by ``paging.next``. The page is the handle (page user name), the
first segment of the page URL, or ``SOMEARKIV_FACEBOOK_PAGE_ID[_<ACCOUNT>]``.

Instagram: ``/{ig-user-id}?fields=followers_count,media_count`` and
``/{ig-user-id}/media?fields=timestamp``. The numeric IG user id comes from
``SOMEARKIV_INSTAGRAM_USER_ID[_<ACCOUNT>]`` or from a numeric handle; the user name alone is not
enough for the API.

Graph does not tell a shared post from a written one, so ``reposts_last_month`` is not given and
shares are inside ``posts_last_month`` (said in its detail). Graph echoes the access token into
``paging.next``; it is taken out of the URL before the next page is fetched (the token travels in
the Authorization header only).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any, ClassVar

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
    iter_pages,
    parse_time,
    without_query_keys,
)

__all__ = ["FacebookAdapter", "InstagramAdapter", "facebook_page", "instagram_user"]


def facebook_page(account: Account, env: Any) -> str | None:
    explicit = account_setting(env, "FACEBOOK_PAGE_ID", account)
    if explicit:
        return explicit
    handle = account.handle.strip().lstrip("@")
    if handle and all(c.isalnum() or c in ".-_" for c in handle):
        return handle
    path = urllib.parse.urlsplit(str(account.url)).path.strip("/").split("/")
    if path and path[0] and path[0] != "profile.php":
        return path[0]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(str(account.url)).query)
    return query.get("id", [None])[0]


def instagram_user(account: Account, env: Any) -> str | None:
    explicit = account_setting(env, "INSTAGRAM_USER_ID", account)
    if explicit:
        return explicit
    handle = account.handle.strip().lstrip("@")
    return handle if handle.isdigit() else None


class _GraphAdapter(MetricsAdapter):
    base_env = "SOMEARKIV_GRAPH_API_BASE"
    default_base = "https://graph.facebook.com/v21.0"
    credential_env = "SOMEARKIV_META_ACCESS_TOKEN"
    reposts_apart = False
    edge: ClassVar[str]
    fields: ClassVar[str]
    date_field: ClassVar[str]

    def node(self, account: Account) -> str | None:
        raise NotImplementedError

    def not_configured(self, account: Account) -> str | None:
        return super().not_configured(account) or (None if self.node(account) else self.no_node)

    no_node: ClassVar[str] = "no Graph id for the account"

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
    no_node = "no Facebook page id (set SOMEARKIV_FACEBOOK_PAGE_ID_<ACCOUNT> or a page name as handle)"

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
    no_node = ("no Instagram user id (set SOMEARKIV_INSTAGRAM_USER_ID_<ACCOUNT>: the Graph API needs "
               "the numeric id of the professional account)")

    def node(self, account: Account) -> str | None:
        return instagram_user(account, self.env)

    def profile(self, http: HttpClient, account: Account) -> Profile:
        user_id, data = self.get_node(http, account)
        return Profile(id=user_id, followers=as_count(data.get("followers_count")), followers_detail="followers_count",
                       total_posts=as_count(data.get("media_count")), total_detail="media_count")
