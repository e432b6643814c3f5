"""X (Twitter): API v2 with an app bearer token (SOMEARKIV_X_TOKEN).

``/users/by/username/{u}?user.fields=public_metrics`` gives the user id, ``followers_count`` and
``tweet_count``; ``/users/{id}/tweets?start_time=..&max_results=100&tweet.fields=created_at,
referenced_tweets`` the timeline newest first, paged by ``meta.next_token`` →
``pagination_token``. A tweet that references another as ``retweeted`` is a retweet (counted
apart); ``replied_to`` and ``quoted`` are written posts. ``start_time`` already keeps older tweets
out; ``end_time`` is sent only for a window that ended in the past (X refuses an end_time that is
not some seconds old), and the capture time is enforced here either way.

Rate limits (:func:`x_throttle`): a 429 whose ``x-rate-limit-reset`` (epoch seconds; or
Retry-After) is near is waited out once; a 24-hour cap (``x-app-limit-24hour-remaining`` or
``x-user-limit-24hour-remaining`` 0) waits for its own reset; a 429 that names no reset time is
backed off (1, 2, 4 s). All within the read's SOMEARKIV_METRICS_MAX_WAIT_S.
"""

from __future__ import annotations

import datetime as dt
import math
import re
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
    header,
    iter_pages,
    parse_time,
    retry_wait,
)

__all__ = ["XAdapter", "username_of", "x_throttle"]

_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")


def username_of(account: Account) -> str | None:
    handle = account.handle.strip().lstrip("@")
    if _USERNAME.match(handle):
        return handle
    path = urllib.parse.urlsplit(str(account.url)).path.strip("/").split("/")
    return path[0] if path and _USERNAME.match(path[0]) else None


def x_throttle(status: int, headers: Any, body: bytes, attempt: int) -> Throttle | None:
    """X's rule: 429 is a rate limit; when it lifts is in x-rate-limit-reset (or a 24-hour cap's reset)."""
    if status != 429:
        return default_throttle(status, headers, body, attempt)
    wait = retry_wait(headers, names=("Retry-After", "x-rate-limit-reset"))
    caps = [retry_wait(headers, names=(f"{cap}-reset",)) for cap in ("x-app-limit-24hour", "x-user-limit-24hour")
            if (header(headers, f"{cap}-remaining") or "").strip() == "0"]
    daily = max((c for c in caps if c is not None), default=None)
    if daily is not None and (wait is None or daily > wait):
        return Throttle(f"429 X 24-hour limit reached (retry after {math.ceil(daily)} s)", daily)
    if wait is None:
        return Throttle("429 rate limited (no reset time given)", backoff(attempt), MAX_RETRIES)
    return Throttle(f"429 rate limited (retry after {math.ceil(wait)} s)", wait)


def _x_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class XAdapter(MetricsAdapter):
    platform = Platform.x
    default_base = "https://api.x.com/2"
    posts_note = "tweets incl. replies and quotes, retweets apart"

    def throttle(self, status: int, headers: Any, body: bytes, attempt: int) -> Throttle | None:
        return x_throttle(status, headers, body, attempt)

    def profile(self, http: HttpClient, account: Account) -> Profile:
        username = username_of(account)
        if username is None:
            raise Unavailable(f"cannot tell the X username from handle {account.handle!r}")
        data, _ = http.get_json(f"users/by/username/{username}", {"user.fields": "public_metrics"})
        user = data.get("data") if isinstance(data, dict) else None
        if not isinstance(user, dict) or not user.get("id"):
            raise Unavailable(f"404 not found: {_first_error(data) or 'no such user'}")
        metrics = user.get("public_metrics") or {}
        return Profile(id=str(user["id"]), followers=as_count(metrics.get("followers_count")),
                       followers_detail="public_metrics.followers_count",
                       total_posts=as_count(metrics.get("tweet_count")),
                       total_detail="public_metrics.tweet_count (retweets included)")

    def pages(self, http: HttpClient, account: Account, profile: Profile, window: Window) -> Iterator[list[Item]]:
        params: dict[str, Any] = {"start_time": _x_time(window.start), "max_results": 100,
                                  "tweet.fields": "created_at,referenced_tweets"}
        if window.end < dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30):
            params["end_time"] = _x_time(window.end)

        timeline = f"users/{urllib.parse.quote(profile.id, safe='')}/tweets"

        def fetch(token: str | None) -> tuple[list[Item], str | None]:
            data, _ = http.get_json(timeline, {**params, "pagination_token": token})
            if not isinstance(data, dict):
                raise Unavailable("the timeline answer is not an object")
            tweets = data.get("data") or []
            if not tweets and data.get("errors") and not data.get("meta"):
                raise Unavailable(f"timeline error: {_first_error(data)}")
            items = [_item(tweet) for tweet in tweets if isinstance(tweet, dict)]
            return items, (data.get("meta") or {}).get("next_token") or None

        return iter_pages(lambda: fetch(None), fetch)


def _first_error(data: Any) -> str:
    """The detail of X's first error object (X answers 200 with {"errors": [...]} for unknown users)."""
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("detail") or errors[0].get("title") or "")[:160]
    return ""


def _item(tweet: dict[str, Any]) -> Item:
    refs = tweet.get("referenced_tweets") or []
    retweet = any(isinstance(r, dict) and r.get("type") == "retweeted" for r in refs)
    return Item(at=parse_time(tweet.get("created_at")), repost=retweet)
