"""Bluesky: the public AppView (XRPC over HTTPS), no credential needed.

``app.bsky.actor.getProfile?actor=<handle>`` gives ``followersCount`` and ``postsCount``;
``app.bsky.feed.getAuthorFeed?actor=..&cursor=..`` the author feed newest first (posts, replies
and reposts; pins are left out by default). An entry whose ``reason.$type`` is
``app.bsky.feed.defs#reasonRepost`` is a repost, dated by ``reason.indexedAt`` (when it was
reposted); own posts are dated by ``post.record.createdAt``, the time the author's client wrote
down, except that a ``createdAt`` later than ``post.indexedAt`` (a clock ahead, or a post dated
into the future) is taken as ``indexedAt``: a post cannot have been written after the AppView
received it.

Paging: ``createdAt`` is the client's word, and ``indexedAt`` is when the AppView received the
post; they differ a lot for back-dated posts (e.g. imported from another service: old
``createdAt``, recent ``indexedAt``). The AppView sorts the feed by ``sortAt``, which is
``min(indexedAt, createdAt)`` in its source (packages/bsky, the post indexer), and an older
reading of it is ``indexedAt`` alone. Each entry's place in the order (``Item.order_at``) is
taken as the later of its two dates: never earlier than its sort key under either reading, and
never earlier than the date counted. So the first entry placed before the window's start
proves that everything after it was written before the window, whichever of the two the
AppView sorts by, and paging stops there (``order_lag`` 0); a back-dated post near the top does
not look old, so it no longer ends the reading early, as it did when the first entry *written*
before the start stopped it. A pinned post (``reason.$type`` ``app.bsky.feed.defs#reasonPin``,
first in the feed when pins are asked for or sent anyway) says nothing about how far back the
feed has been read: it is left out of that judgement, and counted only if it is the account's
own post written in the window, once (the same post also sits in its place in the feed).
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
    token_optional = True  # public; a token only where an instance or AppView requires one
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
        uri = reason.get("uri")  # the repost record's own uri, where the AppView sends it
        return Item(at=parse_time(reason.get("indexedAt")), repost=True, key=str(uri) if uri else None)
    record = post.get("record") if isinstance(post.get("record"), dict) else {}
    author = post.get("author") if isinstance(post.get("author"), dict) else {}
    own = author.get("did") in (None, did)
    created, indexed = parse_time(record.get("createdAt")), parse_time(post.get("indexedAt"))
    written = min(created, indexed) if created and indexed else created  # not after the AppView had it
    placed = max(created, indexed) if created and indexed else (indexed or created)  # not before its sort key
    uri = post.get("uri")
    return Item(at=written, counted=own, order_at=placed, pinned=kind == PIN, key=str(uri) if uri else None)
