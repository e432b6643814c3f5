"""TikTok: the Display API v2 with the creator's own user access token (SOMEARKIV_TIKTOK_TOKEN).

The Display API only ever shows the user who authorized the app, so the token is the account:
``GET /user/info/?fields=open_id,union_id,display_name,follower_count,video_count`` gives
``data.user.follower_count`` and ``video_count`` (scopes user.info.basic and user.info.stats);
``POST /video/list/?fields=id,create_time`` with the JSON body ``{"max_count": 20, "cursor": ms}``
(scope video.list) lists the user's public videos newest first, ``create_time`` in Unix seconds,
the next page's ``cursor`` (Unix milliseconds) given while ``has_more`` is true.

Every answer carries ``error.code``, "ok" on success; failures come as 401 access_token_invalid,
403 scope_not_authorized, 429 rate_limit_exceeded (TikTok's message is kept in the reason). The
video list holds only the account's own published videos, so reposts are neither in it nor
counted (``reposts_last_month`` is not given). The username is not read (it needs one more scope,
user.info.profile): the follower detail names the token's display name, so a token of the wrong
account shows in the record.
"""

from __future__ import annotations

import datetime as dt
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

__all__ = ["TikTokAdapter", "create_time"]

USER_FIELDS = "open_id,union_id,display_name,follower_count,video_count"
VIDEO_FIELDS = "id,create_time"
PAGE_SIZE = 20  # the most video/list gives per request


def create_time(value: Any) -> dt.datetime | None:
    """A TikTok ``create_time`` (Unix seconds) as aware UTC, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return parse_time(value * 1000)  # parse_time reads numbers as epoch milliseconds


def _checked(data: Any, what: str, http: HttpClient) -> dict[str, Any]:
    """The ``data`` object of a TikTok answer; an error code other than "ok" (even in a 200) is Unavailable."""
    if not isinstance(data, dict):
        raise Unavailable(f"the {what} answer is not an object")
    error = data.get("error")
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    if code and code != "ok":
        message = " ".join(str(error.get("message") or "").split())[:160]
        raise Unavailable(http.redact(f"TikTok error {code}" + (f": {message}" if message else "")))
    payload = data.get("data")
    if not isinstance(payload, dict):
        raise Unavailable(f"the {what} answer has no data")
    return payload


class TikTokAdapter(MetricsAdapter):
    platform = Platform.tiktok
    default_base = "https://open.tiktokapis.com/v2"
    reposts_apart = False  # reposts are not in the video list at all: not counted, not claimed
    posts_note = "public videos of the token's user (reposts are not in the API)"

    def profile(self, http: HttpClient, account: Account) -> Profile:
        data, _ = http.get_json("user/info/", {"fields": USER_FIELDS})
        user = _checked(data, "user/info", http).get("user")
        if not isinstance(user, dict) or not user.get("open_id"):
            raise Unavailable("user/info gave no user")
        name = " ".join(str(user.get("display_name") or "").split())[:80]
        whose = f" of the token's user {name!r}" if name else " of the token's user"
        return Profile(id=str(user["open_id"]), followers=as_count(user.get("follower_count")),
                       followers_detail=f"user/info follower_count{whose}",
                       total_posts=as_count(user.get("video_count")), total_detail="user/info video_count")

    def pages(self, http: HttpClient, account: Account, profile: Profile, window: Window) -> Iterator[list[Item]]:
        def fetch(cursor: int | None) -> tuple[list[Item], int | None]:
            body: dict[str, Any] = {"max_count": PAGE_SIZE}
            if cursor is not None:
                body["cursor"] = cursor
            data, _ = http.post_json("video/list/", body, {"fields": VIDEO_FIELDS})
            payload = _checked(data, "video/list", http)
            videos = payload.get("videos") or []
            if not isinstance(videos, list):
                raise Unavailable("video/list gave no list of videos")
            items = [Item(at=create_time(video.get("create_time"))) for video in videos if isinstance(video, dict)]
            if payload.get("has_more") is not True:
                return items, None
            following = payload.get("cursor")
            if isinstance(following, bool) or not isinstance(following, int) or following <= 0:
                raise Unavailable("video/list said has_more but gave no cursor")
            return items, following

        return iter_pages(lambda: fetch(None), fetch)
