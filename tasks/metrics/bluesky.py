"""Bluesky: the public AppView (XRPC over HTTPS), no credential needed.

``app.bsky.actor.getProfile?actor=<handle>`` gives ``followersCount`` and ``postsCount``;
``app.bsky.feed.getAuthorFeed?actor=..&cursor=..`` the author feed newest first (posts, replies
and reposts; pins are left out by default). An entry whose ``reason.$type`` is
``app.bsky.feed.defs#reasonRepost`` is a repost, dated by ``reason.indexedAt`` (when it was
reposted); own posts are dated by ``post.record.createdAt``.
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
    as_count,
    iter_pages,
    parse_time,
)

__all__ = ["BlueskyAdapter", "actor_of"]

REPOST = "app.bsky.feed.defs#reasonRepost"
PIN = "app.bsky.feed.defs#reasonPin"


def actor_of(account: Account) -> str | None:
    """'perstorp.bsky.social' (or a did:plc:...) from the handle, else from bsky.app/profile/<actor>."""
    handle = account.handle.strip().lstrip("@")
    if handle.startswith("did:") or ("." in handle and "/" not in handle and " " not in handle):
        return handle
    path = urllib.parse.urlsplit(str(account.url)).path.strip("/").split("/")
    if len(path) >= 2 and path[0] == "profile" and path[1]:
        return urllib.parse.unquote(path[1])
    return None


class BlueskyAdapter(MetricsAdapter):
    platform = Platform.bluesky
    base_env = "SOMEARKIV_BLUESKY_API_BASE"
    default_base = "https://public.api.bsky.app"
    posts_note = "posts and replies counted, reposts apart"

    def profile(self, http: HttpClient, account: Account) -> Profile:
        actor = actor_of(account)
        if actor is None:
            raise Unavailable(f"cannot tell the Bluesky handle from {account.handle!r}")
        data, _ = http.get_json("xrpc/app.bsky.actor.getProfile", {"actor": actor})
        if not isinstance(data, dict) or not data.get("did"):
            raise Unavailable("getProfile gave no did")
        return Profile(id=str(data["did"]), followers=as_count(data.get("followersCount")),
                       followers_detail="followersCount", total_posts=as_count(data.get("postsCount")),
                       total_detail="postsCount (reposts not included)")

    def pages(self, http: HttpClient, account: Account, profile: Profile, window: Window) -> Iterator[list[Item]]:
        def fetch(cursor: str | None) -> tuple[list[Item], str | None]:
            params = {"actor": profile.id, "limit": 100, "filter": "posts_with_replies", "cursor": cursor}
            data, _ = http.get_json("xrpc/app.bsky.feed.getAuthorFeed", params)
            if not isinstance(data, dict) or not isinstance(data.get("feed"), list):
                raise Unavailable("getAuthorFeed gave no feed")
            items = [_item(entry, profile.id) for entry in data["feed"] if isinstance(entry, dict)]
            return items, data.get("cursor") or None

        return iter_pages(lambda: fetch(None), fetch)


def _item(entry: dict[str, Any], did: str) -> Item:
    post = entry.get("post") if isinstance(entry.get("post"), dict) else {}
    reason = entry.get("reason") if isinstance(entry.get("reason"), dict) else {}
    kind = reason.get("$type")
    if kind == REPOST:
        return Item(at=parse_time(reason.get("indexedAt")), repost=True)
    if kind == PIN:  # a pinned post sits on top whatever its age: neither counted nor the window's edge
        return Item(at=None, counted=False)
    record = post.get("record") if isinstance(post.get("record"), dict) else {}
    author = post.get("author") if isinstance(post.get("author"), dict) else {}
    own = author.get("did") in (None, did)
    return Item(at=parse_time(record.get("createdAt")), counted=own)
