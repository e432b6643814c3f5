"""What every metrics reader shares: the counting window, the HTTP helper, the adapter interface.

Policy P4 ("Dokumentera antal följare och antal skrivna inlägg den senaste månaden") asks for two
numbers per account and capture. Each platform has its own API, so each has its own small module
behind one interface (:class:`MetricsAdapter`); this module holds what they share, so that the
rules are the same everywhere:

* a number is only ever what was read; an unknown number is ``None`` with a reason, never 0;
* posts are counted in a :class:`Window`, [capture − 30 days, capture) or a Swedish calendar
  month, reading newest first and stopping only where the timeline's order proves that nothing
  further can fall in it (:func:`tally`; the whole history is never fetched), and a count that
  stopped short (the page cap) says "at least" and is not high confidence;
* reposts (boosts, retweets) are not written posts and are counted apart; replies are posts;
* credentials come from the environment and never leave the request headers: not in URLs, log
  lines, exception texts or the returned :class:`~somearkiv.models.Metrics`.

This is the bottom of the package: the platform modules and the page fallback import it, and it
imports none of them. The table of adapters and :func:`~tasks.metrics.base.read_metrics`, which
need all of them, sit above in ``base``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import http.client
import json
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from somearkiv.models import Account, Confidence, Metrics, MetricValue, Platform

__all__ = [
    "STOCKHOLM",
    "HttpClient",
    "Item",
    "MetricsAdapter",
    "Profile",
    "Tally",
    "Throttle",
    "Unavailable",
    "Window",
    "as_count",
    "backoff",
    "default_throttle",
    "duration_text",
    "error_object",
    "header",
    "iter_pages",
    "missing_value",
    "parse_time",
    "retry_wait",
    "tally",
    "unavailable_metrics",
    "without_query_keys",
]

STOCKHOLM = ZoneInfo("Europe/Stockholm")
USER_AGENT = "somearkiv/0.1 (archiving a municipality's own accounts; P4 metrics)"
DEFAULT_TIMEOUT_S = 15.0
DEFAULT_MAX_WAIT_S = 10.0  # the most one read (all requests for one account) waits on rate limits, in total
MAX_RETRIES = 3  # a throttled request is tried again at most this often, however short the waits
MAX_PAGES = 100  # 100 pages of 40-100 posts: far more than a municipality writes in a month
_MAX_BODY = 8 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# The window


@dataclass(frozen=True)
class Window:
    """The period posts are counted in, half-open: ``start`` counts, ``end`` does not; in UTC.

    "The last 30 days before the capture" is [capture − 30 days, capture): a post dated exactly
    at the capture time, or after it (scheduled ones, ones written while the capture ran), is not
    counted. A calendar month is [the 1st 00:00, the next 1st 00:00) in Swedish time, so a post
    at the stroke of midnight belongs to the month it opens, and to that one only.
    """

    start: dt.datetime
    end: dt.datetime
    kind: Literal["30d", "calendar-month"] = "30d"

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"Window.{name} must be timezone-aware")
            object.__setattr__(self, name, value.astimezone(dt.UTC))
        if self.start > self.end:
            raise ValueError("Window.start is after Window.end")

    @classmethod
    def last_30_days(cls, now: dt.datetime) -> Window:
        """The 30 days up to *now* (the capture time): the default, comparable between captures."""
        return cls(now - dt.timedelta(days=30), now, "30d")

    @classmethod
    def calendar_month_before(cls, now: dt.datetime) -> Window:
        """The previous full calendar month in Swedish time, e.g. all of October for a capture on 1 November.

        The month's bounds are midnights in Europe/Stockholm (the municipality's month), stored in UTC.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        local = now.astimezone(STOCKHOLM)
        this_month = dt.datetime(local.year, local.month, 1, tzinfo=STOCKHOLM)
        year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
        start = dt.datetime(year, month, 1, tzinfo=STOCKHOLM)
        return cls(start, this_month, "calendar-month")

    def contains(self, when: dt.datetime) -> bool:
        """``start`` ≤ *when* < ``end``."""
        return self.start <= when < self.end

    def describe(self) -> str:
        return f"{_stamp(self.start)} – {_stamp(self.end)}"


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def parse_time(value: Any) -> dt.datetime | None:
    """An API timestamp (ISO 8601 with Z or +0000, or epoch milliseconds) as aware UTC, else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, int | float):
            return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
        if isinstance(value, str) and value.strip():
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)  # APIs speak UTC when they say nothing
            return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


# --------------------------------------------------------------------------------------------
# Errors and the HTTP helper


class Unavailable(Exception):
    """A number cannot be read; ``reason`` says why, starting with 'unavailable: ', without secrets."""

    def __init__(self, reason: str) -> None:
        reason = reason.strip()
        self.reason = reason if reason.startswith("unavailable: ") else f"unavailable: {reason}"
        super().__init__(self.reason)


_STATUS_TEXT = {
    400: "bad request",
    401: "unauthorized (credential missing, invalid or expired)",
    403: "forbidden (no permission, or quota exceeded)",
    404: "not found",
    410: "gone",
    426: "upgrade required (API version no longer supported)",
    429: "rate limited",
}


@dataclass(frozen=True)
class Throttle:
    """A platform's answer that says "not now": a rate limit, a quota, a transient overload.

    Each adapter decides from (status, headers, body) whether an error answer is one, in its
    platform's terms (:meth:`MetricsAdapter.throttle`); :class:`HttpClient` decides what to do
    with it, the same way for every platform: wait ``wait`` seconds and try again if that keeps
    the read's total wait within ``max_wait`` and the request has been retried fewer than
    ``retries`` times, else give up with ``reason`` (no number is ever guessed).

    ``reason`` is the head of the 'unavailable: ...' text (the API's own message is appended),
    e.g. "403 Graph rate limit (code 17, is_transient); access regained in ~30 min".
    ``wait`` None: the limit does not lift soon (a daily quota), so there is no point waiting.
    ``retries``: 1 where the platform said when the limit lifts (trying again after that and
    being refused again means it was wrong: stop); more for a backoff that guesses.
    """

    reason: str
    wait: float | None = None
    retries: int = 1


def backoff(attempt: int, base: float = 1.0) -> float:
    """Exponential backoff: base, 2·base, 4·base, ... seconds for attempt 0, 1, 2, ..."""
    return base * 2 ** min(max(attempt, 0), 10)


def duration_text(seconds: float) -> str:
    """A wait for a reason text: '~45 s', '~25 min', '~7 h'."""
    if seconds < 90:
        return f"~{math.ceil(seconds)} s"
    if seconds < 90 * 60:
        return f"~{round(seconds / 60)} min"
    return f"~{round(seconds / 3600)} h"


def header(headers: Any, name: str) -> str | None:
    """A response header's value by name, case-insensitively (a plain dict in tests, an HTTPMessage live)."""
    if headers is None:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, Mapping):
        wanted = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
    return None if value is None else str(value)


def error_object(body: bytes) -> dict[str, Any]:
    """The ``error`` object of a Graph or Google error body ({"error": {"code", "message", ...}}), else {}."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except (json.JSONDecodeError, ValueError):
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def default_throttle(status: int, headers: Any, body: bytes, attempt: int) -> Throttle | None:
    """The rule for platforms without their own: 429 and 503 are throttles, waited out once per
    Retry-After or a reset header (see :func:`retry_wait`), not at all when neither says when."""
    if status not in (429, 503):
        return None
    text = "service unavailable" if status == 503 else _STATUS_TEXT[429]
    wait = retry_wait(headers)
    if wait is None:
        return Throttle(f"{status} {text}")
    return Throttle(f"{status} {text} (retry after {math.ceil(wait)} s)", wait)


ThrottleRule = Callable[[int, Any, bytes, int], Throttle | None]  # (status, headers, body, attempt)


@dataclass
class HttpClient:
    """GET JSON from one API over urllib, with timeouts, and every failure as :class:`Unavailable`.

    Why urllib and not httpx: httpx logs each request URL at INFO, and a URL can carry a token
    (Graph's ``paging.next`` does). Here nothing is logged, credentials go in headers that are not
    forwarded on redirects, only the API's own origin is ever contacted (a next-page link to
    another host is refused, so a token never travels elsewhere), and every text that leaves
    (reasons) has the secrets replaced.
    """

    base: str
    headers: Mapping[str, str] = field(default_factory=dict)
    secrets: Sequence[str] = ()
    timeout: float = DEFAULT_TIMEOUT_S
    max_wait: float = DEFAULT_MAX_WAIT_S
    sleep: Callable[[float], None] = time.sleep
    requests: int = 0
    throttle: ThrottleRule = default_throttle  # the platform's rule: is this answer a rate limit, how long to wait
    waited: float = 0.0  # seconds slept on rate limits so far, by all requests of this client (≤ max_wait)

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        parts = urllib.parse.urlsplit(self.base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Unavailable(f"invalid API base URL scheme or host ({parts.scheme or 'none'})")
        self._origin = (parts.scheme, parts.netloc.lower())
        self._host = parts.hostname or "?"  # for messages: never the userinfo a base URL might carry
        self._opener = urllib.request.build_opener()

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The base plus *path* (already quoted where needed) plus query parameters."""
        url = path if path.startswith(("http://", "https://")) else f"{self.base}/{path.lstrip('/')}"
        return add_query(url, params)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[Any, http.client.HTTPMessage]:
        """GET and decode; 401/403/404/429/5xx and network failures raise Unavailable.

        An error answer that the platform's rule (``throttle``) calls a rate limit is waited out
        (with ``sleep``) and tried again, at most ``Throttle.retries`` (≤ ``MAX_RETRIES``) times,
        as long as all waits of this client together stay within ``max_wait`` seconds; a longer
        one is reported at once, without waiting, as 'unavailable: <the platform's reason>'.
        """
        url = self.url(path, params)
        parts = urllib.parse.urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) != self._origin:
            raise Unavailable("refused to follow a link to another host than the API's")
        attempt = 0
        while True:
            status, headers, body = self._get(url)
            if 200 <= status < 300:
                try:
                    return json.loads(body.decode("utf-8")), headers
                except (UnicodeDecodeError, json.JSONDecodeError):
                    raise Unavailable(f"{status} response is not JSON") from None
            throttle = self.throttle(status, headers, body, attempt)
            if throttle is None:
                raise Unavailable(self._reason(status, headers, body))
            wait = throttle.wait
            if (wait is not None and math.isfinite(wait) and wait >= 0
                    and attempt < min(throttle.retries, MAX_RETRIES) and self.waited + wait <= self.max_wait):
                self.sleep(wait)
                self.waited += wait
                attempt += 1
                continue
            detail = error_detail(body)
            raise Unavailable(self.redact(throttle.reason + (f": {detail}" if detail else "")))

    def post_json(self, path: str, body: Any, params: Mapping[str, Any] | None = None
                  ) -> tuple[Any, http.client.HTTPMessage]:
        """POST *body* as JSON, otherwise exactly as get_json (origin check, rate-limit waits, reasons).

        Only for APIs that read with POST (TikTok's video/list): a retried request sends the body again.
        """
        self._post_body = json.dumps(body, separators=(",", ":")).encode("utf-8")
        try:
            return self.get_json(path, params)
        finally:
            self._post_body = None

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret and len(secret) >= 4:
                for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}:
                    text = text.replace(form, "[redacted]")
        return text

    def _get(self, url: str) -> tuple[int, http.client.HTTPMessage, bytes]:
        data: bytes | None = getattr(self, "_post_body", None)  # set by post_json: a JSON body makes it a POST
        request = urllib.request.Request(url, data, {"Accept": "application/json", "User-Agent": USER_AGENT})
        if data is not None:
            request.add_header("Content-Type", "application/json; charset=UTF-8")
        for name, value in self.headers.items():
            request.add_unredirected_header(name, value)  # never sent on to a redirect target
        self.requests += 1
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status, response.headers, response.read(_MAX_BODY)
        except urllib.error.HTTPError as error:
            with error:
                try:
                    body = error.read(_MAX_BODY)
                except (OSError, http.client.HTTPException):
                    body = b""
                return error.code, error.headers, body
        except TimeoutError:
            raise Unavailable(f"no answer within {self.timeout:g} s (timeout)") from None
        except urllib.error.URLError as error:
            kind = type(error.reason).__name__ if not isinstance(error.reason, str) else "URLError"
            raise Unavailable(f"network error ({kind}) reaching {self._host}") from None
        except (OSError, http.client.HTTPException) as error:
            raise Unavailable(f"network error ({type(error).__name__}) reaching {self._host}") from None

    def _reason(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> str:
        text = _STATUS_TEXT.get(status) or ("server error" if status >= 500 else f"HTTP {status}")
        if status == 503:
            text = "service unavailable"
        if status in (429, 503):
            wait = retry_wait(headers)
            if wait is not None:
                text += f" (retry after {math.ceil(wait)} s)"
        detail = error_detail(body)
        reason = f"{status} {text}" + (f": {detail}" if detail else "")
        return self.redact(reason)


def add_query(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
    return f"{url}{'&' if '?' in url else '?'}{query}" if query else url


def without_query_keys(url: str, *keys: str) -> str:
    """*url* without the given query parameters, e.g. an access_token an API echoed into a next link."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k not in keys]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


RESET_HEADERS = ("Retry-After", "x-rate-limit-reset", "ratelimit-reset", "X-RateLimit-Reset")


def retry_wait(headers: Mapping[str, str] | None, now: float | None = None,
               names: Sequence[str] = RESET_HEADERS) -> float | None:
    """Seconds until a rate limit lifts, from Retry-After or the platforms' reset headers; None if not said.

    Retry-After: seconds or an HTTP date. x-rate-limit-reset (X) and ratelimit-reset (Bluesky):
    epoch seconds (small numbers are taken as seconds from now). X-RateLimit-Reset (Mastodon):
    an ISO 8601 time. *names*: the headers to look at, first found wins.
    """
    if headers is None:
        return None
    now = time.time() if now is None else now
    for name in names:
        value = header(headers, name)
        if value is None or not str(value).strip():
            continue
        value = str(value).strip()
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None:
            if not math.isfinite(number):
                continue
            return max(0.0, number - now) if number >= 1_000_000_000 else max(0.0, number)
        when = parse_time(value)
        if when is None:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            return max(0.0, when.timestamp() - now)
    return None


def error_detail(body: bytes) -> str:
    """The API's own short error text (Graph, YouTube, X, LinkedIn, Mastodon, Bluesky shapes), or ''."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except (json.JSONDecodeError, ValueError):
        return ""
    parts: list[str] = []
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):  # Graph and Google: {"error": {"message", "code", "errors": [...]}}
            parts.append(str(error.get("message") or ""))
            errors = error.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("reason"):
                parts.append(f"({errors[0]['reason']})")
        elif isinstance(error, str):  # Mastodon {"error": "..."}, Bluesky {"error": "...", "message": "..."}
            parts.append(error)
            if isinstance(data.get("message"), str):
                parts.append(data["message"])
        else:  # X {"title", "detail"}, LinkedIn {"message", "serviceErrorCode"}
            for key in ("detail", "message", "title"):
                if isinstance(data.get(key), str):
                    parts.append(data[key])
                    break
    text = " ".join(p for p in parts if p).split()
    return " ".join(text)[:200]


# --------------------------------------------------------------------------------------------
# Counting posts


@dataclass(frozen=True)
class Item:
    """One entry of a timeline: when it was published, where the timeline's order puts it, what it is.

    ``at`` is the date counted (publication); ``order_at`` the date the platform sorts the
    timeline by, where that is another field (YouTube: the upload, LinkedIn: the creation,
    Bluesky: the indexing), else None, which means ``at``. ``at`` None: not dated (e.g. a private
    video), never counted, but its ``order_at`` still tells how far back the reading has come.
    ``counted`` False: dated but not a published own post (private, scheduled, draft, someone
    else's); ``repost``: a boost/repost/retweet. ``pinned``: shown first whatever its age, so it
    says nothing about how far back the reading has come (counted if it falls in the window).
    ``key``: the platform's id of the entry, so that one met twice (a pin that also sits in its
    place further down; an offset page that shifted as a post was added meanwhile) counts once.
    """

    at: dt.datetime | None
    repost: bool = False
    counted: bool = True
    order_at: dt.datetime | None = None
    pinned: bool = False
    key: str | None = None

    def __post_init__(self) -> None:
        if self.order_at is None:
            object.__setattr__(self, "order_at", self.at)


REACHED_START = "reached the window's start"
TIMELINE_ENDED = "the timeline ended"


@dataclass
class Tally:
    """What :func:`tally` counted, how much it read, and why it stopped.

    ``reached_start`` (the name is historical): paging stopped because nothing further can fall
    in the window, either since the order proved it (``stopped`` == :data:`REACHED_START`) or
    because there was nothing more (:data:`TIMELINE_ENDED`); False when the page cap stopped it,
    so the numbers are lower bounds. ``oldest``: the oldest ``order_at`` read, pins left out.
    ``lag_seen``: the longest an item read was published after its ``order_at``; if that is more
    than the ``order_lag`` paging relied on, ``lag_exceeded`` is True: items like it further back
    may not have been reached, so the count is not known to be complete either.
    """

    posts: int = 0
    reposts: int = 0
    pages: int = 0
    items: int = 0
    reached_start: bool = False
    oldest: dt.datetime | None = None
    stopped: str = ""
    order_lag: dt.timedelta = dt.timedelta(0)
    lag_seen: dt.timedelta = dt.timedelta(0)

    @property
    def lag_exceeded(self) -> bool:
        return self.lag_seen > self.order_lag

    @property
    def complete(self) -> bool:
        return self.reached_start and not self.lag_exceeded


def tally(pages: Iterator[Sequence[Item]], window: Window, *, order_lag: dt.timedelta = dt.timedelta(0),
          max_pages: int | None = None) -> Tally:
    """Count own posts and reposts in *window*, reading pages (newest first) only as far as the order proves necessary.

    The timeline is sorted by ``order_at``, newest first, and *order_lag* is the most an item's
    counted date (``at``) can come after its ``order_at`` (0 where the order follows the date
    counted). So once an item (pins aside) is ordered before ``window.start − order_lag``, every
    item after it was published before the window: reading stops after that page, and only
    then. A single old item does stop it, which is right only because ``order_at`` is the
    order's own field: a back-dated post, dated long before the platform listed it, does not
    look old there. Reading also stops when the timeline ends, or after *max_pages* pages
    (default :data:`MAX_PAGES`), and then the count is incomplete. ``stopped`` says which.

    *pages* is a lazy iterator that makes one request per page, so stopping here is what keeps
    the history from being fetched.
    """
    cap = MAX_PAGES if max_pages is None else max_pages
    edge = window.start - order_lag
    result = Tally(order_lag=order_lag)
    seen: set[str] = set()
    try:
        for page in pages:
            result.pages += 1
            for item in page:
                result.items += 1
                if item.order_at is not None and not item.pinned:
                    result.oldest = item.order_at if result.oldest is None else min(result.oldest, item.order_at)
                if item.at is None or not item.counted:
                    continue
                if item.order_at is not None and item.at - item.order_at > result.lag_seen:
                    result.lag_seen = item.at - item.order_at
                if not window.contains(item.at):
                    continue
                if item.key is not None:
                    if item.key in seen:
                        continue
                    seen.add(item.key)
                if item.repost:
                    result.reposts += 1
                else:
                    result.posts += 1
            if result.oldest is not None and result.oldest < edge:
                result.reached_start, result.stopped = True, REACHED_START
                break
            if result.pages >= cap:
                result.stopped = f"page cap ({cap} pages) hit — count incomplete"
                break
        else:
            result.reached_start, result.stopped = True, TIMELINE_ENDED  # everything there is was read
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()
    return result


# --------------------------------------------------------------------------------------------
# Building the result


@dataclass(frozen=True)
class Profile:
    """What an adapter read about the account itself."""

    id: str
    followers: int | None
    followers_detail: str
    total_posts: int | None = None
    total_detail: str | None = None
    followers_unavailable: str | None = None  # e.g. a channel that hides its subscriber count


def missing_value(reason: str, source: str, read_at: dt.datetime) -> MetricValue:
    reason = reason if reason.startswith("unavailable: ") else f"unavailable: {reason}"
    return MetricValue(value=None, source=source, read_at=read_at, unavailable=reason)


def unavailable_metrics(reason: str, window: Window, source: str, read_at: dt.datetime,
                        *, reposts: bool = True) -> Metrics:
    """Metrics where nothing could be read: every value None with the same reason (never 0)."""
    missing = missing_value(reason, source, read_at)
    return Metrics(followers=missing, posts_last_month=missing, reposts_last_month=missing if reposts else None,
                   total_posts=missing, window_start=window.start, window_end=window.end, window=window.kind)


def as_count(value: Any) -> int | None:
    """A count from JSON (YouTube sends strings); None for anything that is not a whole number ≥ 0."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 18:
        return int(value.strip())
    return None


# --------------------------------------------------------------------------------------------
# The adapter interface


class MetricsAdapter(ABC):
    """Reads one platform's API. Subclasses say where (env vars) and how (profile, pages).

    ``read`` never raises for what the platform does (401, 429, outages): it returns Metrics whose
    values carry ``unavailable``. Followers and posts fail separately, so a 403 on the timeline
    still keeps a follower count that was read.
    """

    platform: ClassVar[Platform]
    default_base: ClassVar[str | None] = None
    uses_token: ClassVar[bool] = True  # False: a public API that takes no token
    token_optional: ClassVar[bool] = False  # True: a public API that takes one where an instance requires it
    reposts_apart: ClassVar[bool] = True  # False: the API does not tell reposts from own posts
    posts_note: ClassVar[str] = "replies counted, reposts apart"
    #: Where the timeline is not sorted by the date counted: what it is sorted by (for the record),
    #: and the most an item's counted date can come after that order date, so that paging goes on
    #: until the order has passed ``window.start − order_lag`` (see :func:`tally`).
    order_field: ClassVar[str | None] = None  # e.g. "upload date"
    order_lag: ClassVar[dt.timedelta] = dt.timedelta(0)

    def __init__(self, env: Mapping[str, str] | None = None, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.sleep = sleep

    @property
    def source(self) -> str:
        return f"api:{self.platform.value}"

    @property
    def base_env(self) -> str:
        """``SOMEARKIV_<PLATFORM>_API_BASE``: one naming scheme for every platform (README, "Platform APIs")."""
        return f"SOMEARKIV_{self.platform.value.upper()}_API_BASE"

    def credential_env(self, account: Account | None = None) -> str | None:
        """Where the token is: the account's own variable (``api_token_env`` in the register), else
        ``SOMEARKIV_<PLATFORM>_TOKEN``; None for a public API that takes none."""
        if not self.uses_token:
            return None
        if account is not None and account.api_token_env:
            return account.api_token_env
        return f"SOMEARKIV_{self.platform.value.upper()}_TOKEN"

    def credential(self, account: Account | None = None) -> str | None:
        name = self.credential_env(account)
        value = self.env.get(name, "").strip() if name else ""
        return value or None

    def base_url(self, account: Account) -> str | None:
        return (self.env.get(self.base_env) or "").strip() or self.default_base

    def not_configured(self, account: Account) -> str | None:
        """Why this adapter cannot be used for *account* (None if it can): no credential, no base."""
        name = self.credential_env(account)
        if name is not None and not self.token_optional and self.credential(account) is None:
            return f"no API credential ({name} is not set)"
        if not self.base_url(account):
            return f"no API base URL ({self.base_env} is not set and none follows from the account)"
        return None

    def auth_headers(self, credential: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {credential}"}

    def throttle(self, status: int, headers: Any, body: bytes, attempt: int) -> Throttle | None:
        """Is this error answer the platform saying "not now", and how long to wait (see :class:`Throttle`)?

        *attempt*: how often this request was already throttled and retried (0 the first time),
        for a backoff. None: an ordinary error, reported at once. Platforms override this with
        their own signals (error codes in the body, usage headers); the default is
        :func:`default_throttle` (429/503 with Retry-After or a reset header).
        """
        return default_throttle(status, headers, body, attempt)

    def client(self, account: Account) -> HttpClient:
        credential = self.credential(account)
        base = self.base_url(account)
        assert base is not None
        return HttpClient(
            base=base,
            headers=self.auth_headers(credential) if credential else {},
            secrets=[credential] if credential else [],
            timeout=_env_float(self.env, "SOMEARKIV_METRICS_TIMEOUT_S", DEFAULT_TIMEOUT_S),
            max_wait=_env_float(self.env, "SOMEARKIV_METRICS_MAX_WAIT_S", DEFAULT_MAX_WAIT_S),
            sleep=self.sleep,
            throttle=self.throttle,
        )

    @abstractmethod
    def profile(self, http: HttpClient, account: Account) -> Profile:
        """Followers (and total posts where the API has it) and the platform's id of the account."""

    @abstractmethod
    def pages(self, http: HttpClient, account: Account, profile: Profile, window: Window) -> Iterator[list[Item]]:
        """The account's timeline, newest first, one request per page, lazily."""

    def read(self, account: Account, window: Window) -> Metrics:
        read_at = dt.datetime.now(dt.UTC)
        why = self.not_configured(account)
        if why:
            return unavailable_metrics(why, window, self.source, read_at, reposts=self.reposts_apart)
        try:
            http = self.client(account)
            profile = self.profile(http, account)
        except Unavailable as error:
            return unavailable_metrics(error.reason, window, self.source, read_at, reposts=self.reposts_apart)
        if profile.followers is not None and not profile.followers_unavailable:
            followers = self._value(profile.followers, read_at, profile.followers_detail)
        else:
            followers = missing_value(profile.followers_unavailable or "the API gave no follower count",
                                      self.source, read_at)
        total = (self._value(profile.total_posts, read_at, profile.total_detail)
                 if profile.total_posts is not None else None)
        try:
            counted = tally(self.pages(http, account, profile, window), window, order_lag=self.order_lag)
        except Unavailable as error:
            posts = missing_value(error.reason, self.source, read_at)
            reposts = posts if self.reposts_apart else None
        else:
            posts, reposts = self._counts(counted, window, read_at)
        return Metrics(followers=followers, posts_last_month=posts, reposts_last_month=reposts, total_posts=total,
                       window_start=window.start, window_end=window.end, window=window.kind)

    def _value(self, value: int | None, read_at: dt.datetime, detail: str | None,
               confidence: Confidence = Confidence.high) -> MetricValue:
        return MetricValue(value=value, source=self.source, read_at=read_at, confidence=confidence, detail=detail)

    def _counts(self, counted: Tally, window: Window, read_at: dt.datetime) -> tuple[MetricValue, MetricValue | None]:
        """The two counts with what was read and why paging stopped; high confidence only when complete."""
        read = (f"{counted.pages} page{'s' if counted.pages != 1 else ''} and "
                f"{counted.items} item{'s' if counted.items != 1 else ''} read; paging stopped: {counted.stopped}")
        if self.order_field and counted.stopped == REACHED_START:
            read += (f" (by {self.order_field}: read back to {_stamp(window.start - counted.order_lag)}, "
                     f"{_days(counted.order_lag)} before the start)")
        note = ""
        if counted.lag_exceeded:
            note += (f"; an item was published {_days(counted.lag_seen)} after its {self.order_field or 'place'}, "
                     f"more than the {_days(counted.order_lag)} paging allows for, so older ones may not have "
                     f"been reached")
        if not counted.complete:
            note += "; this is at least the number shown"
        confidence = Confidence.high if counted.complete else Confidence.medium
        span = f"{window.describe()} (end not included)"
        posts = self._value(counted.posts, read_at, f"published {span}; {self.posts_note}; {read}{note}", confidence)
        if not self.reposts_apart:
            return posts, None
        reposts = self._value(counted.reposts, read_at, f"reposts {span}; {read}{note}", confidence)
        return posts, reposts


def _days(lag: dt.timedelta) -> str:
    days = round(lag.total_seconds() / 86400, 1)
    return f"{days:g} day{'' if days == 1 else 's'}" if days >= 1 else f"{math.ceil(lag.total_seconds() / 60)} min"


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(env.get(name, default))
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) and value >= 0 else default


def iter_pages(first: Callable[[], tuple[list[Item], Any]], following: Callable[[Any], tuple[list[Item], Any]]
               ) -> Iterator[list[Item]]:
    """Pages from *first*() then *following*(cursor) while a cursor comes back: the lazy paging loop."""
    items, cursor = first()
    yield items
    seen: set[str] = set()
    while cursor:
        key = str(cursor)
        if key in seen:  # an API that hands back the same cursor would loop forever
            return
        seen.add(key)
        items, cursor = following(cursor)
        yield items
