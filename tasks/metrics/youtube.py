"""YouTube: the Data API v3 with an API key (SOMEARKIV_YOUTUBE_API_KEY).

``channels?part=statistics,contentDetails&forHandle=@x`` (or ``id=UC...``) gives
``statistics.subscriberCount`` (YouTube rounds it to three significant figures), ``videoCount``
and the uploads playlist; ``playlistItems?part=contentDetails&playlistId=UU..&pageToken=..`` lists
the uploads newest first with ``contentDetails.videoPublishedAt``. A video is YouTube's post;
there are no reposts. Private or deleted videos have no publish date and are not counted.

The key is sent in the ``X-Goog-Api-Key`` header, not as ``?key=``, so it is never part of a URL.
"""

from __future__ import annotations

import re
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

__all__ = ["YouTubeAdapter", "channel_query"]

_CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}$")


def channel_query(account: Account) -> dict[str, str] | None:
    """{'id': 'UC...'} or {'forHandle': '@x'} from the handle or the channel URL."""
    handle = account.handle.strip()
    if _CHANNEL_ID.match(handle):
        return {"id": handle}
    path = urllib.parse.urlsplit(str(account.url)).path.strip("/").split("/")
    if len(path) >= 2 and path[0] == "channel" and _CHANNEL_ID.match(path[1]):
        return {"id": path[1]}
    if handle and " " not in handle:
        return {"forHandle": handle if handle.startswith("@") else f"@{handle}"}
    if path and path[0].startswith("@") and len(path[0]) > 1:
        return {"forHandle": urllib.parse.unquote(path[0])}
    return None


class YouTubeAdapter(MetricsAdapter):
    platform = Platform.youtube
    base_env = "SOMEARKIV_YOUTUBE_API_BASE"
    default_base = "https://www.googleapis.com/youtube/v3"
    credential_env = "SOMEARKIV_YOUTUBE_API_KEY"
    reposts_apart = False
    posts_note = "public videos (uploads playlist), by publish date"

    def auth_headers(self, credential: str) -> dict[str, str]:
        return {"X-Goog-Api-Key": credential}

    def profile(self, http: HttpClient, account: Account) -> Profile:
        query = channel_query(account)
        if query is None:
            raise Unavailable(f"cannot tell the channel from handle {account.handle!r}")
        data, _ = http.get_json("channels", {"part": "statistics,contentDetails", **query})
        items = data.get("items") if isinstance(data, dict) else None
        if not items or not isinstance(items[0], dict):
            raise Unavailable(f"404 no channel found for {next(iter(query.values()))}")
        channel: dict[str, Any] = items[0]
        stats = channel.get("statistics") or {}
        uploads = ((channel.get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads")
        if not uploads:
            raise Unavailable("the channel has no uploads playlist")
        hidden = "the channel hides its subscriber count" if stats.get("hiddenSubscriberCount") else None
        return Profile(
            id=str(uploads),
            followers=as_count(stats.get("subscriberCount")),
            followers_detail="statistics.subscriberCount (rounded by YouTube to three significant figures)",
            total_posts=as_count(stats.get("videoCount")),
            total_detail="statistics.videoCount (public videos)",
            followers_unavailable=hidden,
        )

    def pages(self, http: HttpClient, account: Account, profile: Profile, window: Window) -> Iterator[list[Item]]:
        def fetch(token: str | None) -> tuple[list[Item], str | None]:
            params = {"part": "contentDetails", "playlistId": profile.id, "maxResults": 50, "pageToken": token}
            data, _ = http.get_json("playlistItems", params)
            if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
                raise Unavailable("playlistItems gave no items")
            items = [Item(at=parse_time((entry.get("contentDetails") or {}).get("videoPublishedAt")))
                     for entry in data.get("items", []) if isinstance(entry, dict)]
            return items, data.get("nextPageToken") or None

        return iter_pages(lambda: fetch(None), fetch)
