"""YouTube: the Data API v3 with an API key (SOMEARKIV_YOUTUBE_TOKEN).

``channels?part=statistics,contentDetails&forHandle=@x`` (or ``id=UC...``) gives
``statistics.subscriberCount`` (YouTube rounds it to three significant figures), ``videoCount``
and the uploads playlist; ``playlistItems?part=snippet,contentDetails&playlistId=UU..&pageToken=..``
lists the uploads, 50 a page, with ``snippet.publishedAt`` (when the video was added to the
playlist, i.e. uploaded) and ``contentDetails.videoPublishedAt`` (when it was published). A video
is YouTube's post; there are no reposts. Private or deleted videos have no publish date and are
not counted.

Paging: the playlist is in upload order, but videos are counted by publication, and the two
differ for scheduled videos and premieres: uploaded (private) first, published later. Such a
video sits among the uploads of its upload day, so the first page that reaches back before the
window's start can leave one that was published inside the window on a later page (the count
was once 11 where 12 was right). So reading goes on until the upload dates are ``ORDER_LAG``
(90 days) before the window's start (``order_field``/``order_lag``, see ``core.tally``). YouTube
documents no limit on how far ahead a video can be scheduled or a premiere set, so no bound is a
guarantee; 90 days is a quarter ahead, past any plan a municipality schedules videos for, and
costs little: a page or two more of 50 uploads, one quota unit each. And it is checked: if a
video read was published more than 90 days after its upload, the channel does schedule that far
ahead, and the count is reported as "at least", medium confidence. ``videos.list`` for
candidates would not help: a video has to be read from the playlist to be a candidate, and the
playlist item already carries its ``videoPublishedAt``; the ones not read are the problem.

The key is sent in the ``X-Goog-Api-Key`` header, not as ``?key=``, so it is never part of a URL.

Rate limits (:func:`youtube_throttle`): the reason in ``error.errors[].reason`` tells them apart.
``quotaExceeded`` (and ``dailyLimitExceeded``) is the project's daily quota, which resets at
midnight Pacific time: never a short wait, so reported at once. ``rateLimitExceeded`` and
``userRateLimitExceeded`` (403 or 429), and any 429, are short-term: Retry-After if sent, else
an exponential backoff of 1, 2, 4 s.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from somearkiv.models import Account, Platform
from tasks.metrics.core import (
    MAX_RETRIES,
    STOCKHOLM,
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
    iter_pages,
    parse_time,
    retry_wait,
)

__all__ = ["YouTubeAdapter", "channel_query", "quota_reset", "youtube_throttle"]

PACIFIC = ZoneInfo("America/Los_Angeles")
_DAILY = ("quotaExceeded", "dailyLimitExceeded", "dailyLimitExceededUnreg")
_SHORT = ("rateLimitExceeded", "userRateLimitExceeded")
ORDER_LAG = dt.timedelta(days=90)  # the longest upload-to-publication gap paging allows for (see above)

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


def quota_reset(now: dt.datetime | None = None) -> dt.datetime:
    """When the daily quota resets: the next midnight in Pacific time (DST-aware)."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(PACIFIC)
    return dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=PACIFIC)


def youtube_throttle(status: int, headers: Any, body: bytes, attempt: int,
                     now: dt.datetime | None = None) -> Throttle | None:
    """YouTube's rule: quotaExceeded is given up at once (daily); rateLimitExceeded is backed off."""
    errors = error_object(body).get("errors")
    reasons = [str(e.get("reason")) for e in (errors if isinstance(errors, list) else [])
               if isinstance(e, dict) and e.get("reason")]
    daily = next((r for r in reasons if r in _DAILY), None)
    if daily:
        now = now or dt.datetime.now(dt.UTC)
        reset = quota_reset(now)
        return Throttle(f"{status} YouTube daily quota exceeded ({daily}); it resets at midnight Pacific time "
                        f"({reset.astimezone(STOCKHOLM):%H:%M} Swedish time, in "
                        f"{duration_text((reset - now).total_seconds())})")
    short = next((r for r in reasons if r in _SHORT), None)
    if short or status == 429:
        told = retry_wait(headers, names=("Retry-After",))
        head = f"{status} YouTube rate limit ({short or 'too many requests'})"
        if told is not None:
            return Throttle(f"{head}; retry after {math.ceil(told)} s", told)
        return Throttle(head, backoff(attempt), MAX_RETRIES)
    return default_throttle(status, headers, body, attempt)


class YouTubeAdapter(MetricsAdapter):
    platform = Platform.youtube
    default_base = "https://www.googleapis.com/youtube/v3"
    reposts_apart = False
    posts_note = "public videos (uploads playlist), by publish date"
    order_field = "upload date"
    order_lag = ORDER_LAG

    def auth_headers(self, credential: str) -> dict[str, str]:
        return {"X-Goog-Api-Key": credential}

    def throttle(self, status: int, headers: Any, body: bytes, attempt: int) -> Throttle | None:
        return youtube_throttle(status, headers, body, attempt)

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
            params = {"part": "snippet,contentDetails", "playlistId": profile.id, "maxResults": 50,
                      "pageToken": token}
            data, _ = http.get_json("playlistItems", params)
            if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
                raise Unavailable("playlistItems gave no items")
            items = [_item(entry) for entry in data.get("items", []) if isinstance(entry, dict)]
            return items, data.get("nextPageToken") or None

        return iter_pages(lambda: fetch(None), fetch)


def _item(entry: dict[str, Any]) -> Item:
    """A playlist item: counted by its publication, placed in the playlist by its upload."""
    details = entry.get("contentDetails") if isinstance(entry.get("contentDetails"), dict) else {}
    snippet = entry.get("snippet") if isinstance(entry.get("snippet"), dict) else {}
    resource = snippet.get("resourceId")
    video = details.get("videoId") or (resource.get("videoId") if isinstance(resource, dict) else None)
    return Item(at=parse_time(details.get("videoPublishedAt")), order_at=parse_time(snippet.get("publishedAt")),
                key=str(video) if video else None)
