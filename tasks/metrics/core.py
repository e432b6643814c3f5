"""What every metrics reader shares: the counting window, the HTTP helper, the adapter interface.

Policy P4 ("Dokumentera antal följare och antal skrivna inlägg den senaste månaden") asks for two
numbers per account and capture. Each platform has its own API, so each has its own small module
behind one interface (:class:`MetricsAdapter`); this module holds what they share, so that the
rules are the same everywhere:

* a number is only ever what was read; an unknown number is ``None`` with a reason, never 0;
* posts are counted in a :class:`Window` that ends at the capture time, reading newest first and
  stopping at the window's start (the whole history is never fetched);
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
    "Unavailable",
    "Window",
    "account_setting",
    "as_count",
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
DEFAULT_MAX_WAIT_S = 10.0
MAX_PAGES = 100  # 100 pages of 40-100 posts: far more than a municipality writes in a month
_MAX_BODY = 8 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# The window


@dataclass(frozen=True)
class Window:
    """The period posts are counted in, both ends inclusive, in UTC.

    ``end`` is the capture time (or the end of the month counted): posts dated after it, e.g.
    scheduled ones or ones written while the capture ran, are not counted.
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
        return cls(start, this_month - dt.timedelta(microseconds=1), "calendar-month")

    def contains(self, when: dt.datetime) -> bool:
        return self.start <= when <= self.end

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

        A 429 or 503 whose Retry-After / rate-limit reset is at most ``max_wait`` seconds away is
        waited out and retried once; a longer one is reported at once, without waiting.
        """
        url = self.url(path, params)
        parts = urllib.parse.urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) != self._origin:
            raise Unavailable("refused to follow a link to another host than the API's")
        for attempt in (0, 1):
            status, headers, body = self._get(url)
            if 200 <= status < 300:
                try:
                    return json.loads(body.decode("utf-8")), headers
                except (UnicodeDecodeError, json.JSONDecodeError):
                    raise Unavailable(f"{status} response is not JSON") from None
            if status in (429, 503):
                wait = retry_wait(headers)
                if attempt == 0 and wait is not None and wait <= self.max_wait:
                    self.sleep(wait)
                    continue
            raise Unavailable(self._reason(status, headers, body))
        raise AssertionError("unreachable")  # pragma: no cover

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret and len(secret) >= 4:
                for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}:
                    text = text.replace(form, "[redacted]")
        return text

    def _get(self, url: str) -> tuple[int, http.client.HTTPMessage, bytes]:
        request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
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


def retry_wait(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds until a rate limit lifts, from Retry-After or the platforms' reset headers; None if not said.

    Retry-After: seconds or an HTTP date. x-rate-limit-reset (X) and ratelimit-reset (Bluesky):
    epoch seconds (small numbers are taken as seconds from now). X-RateLimit-Reset (Mastodon):
    an ISO 8601 time.
    """
    if headers is None:
        return None
    now = time.time() if now is None else now
    for name in ("Retry-After", "x-rate-limit-reset", "ratelimit-reset", "X-RateLimit-Reset"):
        value = headers.get(name)
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
    """One entry of a timeline: when it was published, and what it is.

    ``at`` None: not dated (e.g. a private video); ``counted`` False: dated but not a published
    own post (private, scheduled, draft, someone else's); ``repost``: a boost/repost/retweet.
    """

    at: dt.datetime | None
    repost: bool = False
    counted: bool = True


@dataclass
class Tally:
    posts: int = 0
    reposts: int = 0
    pages: int = 0
    reached_start: bool = False  # read back past window.start: the count is complete
    oldest: dt.datetime | None = None


def tally(pages: Iterator[Sequence[Item]], window: Window, *, max_pages: int = MAX_PAGES) -> Tally:
    """Count own posts and reposts in *window*, reading pages (newest first) only until its start.

    *pages* is a lazy iterator that makes one request per page, so stopping here is what keeps
    the history from being fetched: after the first page that reaches back before
    ``window.start`` no further page is requested.
    """
    result = Tally()
    try:
        for page in pages:
            result.pages += 1
            for item in page:
                if item.at is None:
                    continue
                result.oldest = item.at if result.oldest is None else min(result.oldest, item.at)
                if item.counted and window.contains(item.at):
                    if item.repost:
                        result.reposts += 1
                    else:
                        result.posts += 1
            if result.oldest is not None and result.oldest < window.start:
                result.reached_start = True
                break
            if result.pages >= max_pages:
                break
        else:
            result.reached_start = True  # the timeline ended: everything there is was read
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


def account_setting(env: Mapping[str, str], name: str, account: Account) -> str | None:
    """``SOMEARKIV_<NAME>_<ACCOUNT_ID>`` (dashes as underscores, upper case), else ``SOMEARKIV_<NAME>``.

    For ids a platform needs that the register does not hold, e.g. the numeric Instagram user id.
    """
    specific = f"SOMEARKIV_{name}_{account.id.upper().replace('-', '_')}"
    value = env.get(specific) or env.get(f"SOMEARKIV_{name}")
    return value.strip() if value and value.strip() else None


# --------------------------------------------------------------------------------------------
# The adapter interface


class MetricsAdapter(ABC):
    """Reads one platform's API. Subclasses say where (env vars) and how (profile, pages).

    ``read`` never raises for what the platform does (401, 429, outages): it returns Metrics whose
    values carry ``unavailable``. Followers and posts fail separately, so a 403 on the timeline
    still keeps a follower count that was read.
    """

    platform: ClassVar[Platform]
    base_env: ClassVar[str]
    default_base: ClassVar[str | None] = None
    credential_env: ClassVar[str | None] = None  # None: a public API
    reposts_apart: ClassVar[bool] = True  # False: the API does not tell reposts from own posts
    posts_note: ClassVar[str] = "replies counted, reposts apart"

    def __init__(self, env: Mapping[str, str] | None = None, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.sleep = sleep

    @property
    def source(self) -> str:
        return f"api:{self.platform.value}"

    def credential(self) -> str | None:
        if self.credential_env is None:
            return None
        value = self.env.get(self.credential_env, "").strip()
        return value or None

    def base_url(self, account: Account) -> str | None:
        return (self.env.get(self.base_env) or "").strip() or self.default_base

    def not_configured(self, account: Account) -> str | None:
        """Why this adapter cannot be used for *account* (None if it can): no credential, no base."""
        if self.credential_env is not None and self.credential() is None:
            return f"no API credential ({self.credential_env} is not set)"
        if not self.base_url(account):
            return f"no API base URL ({self.base_env} is not set and none follows from the account)"
        return None

    def auth_headers(self, credential: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {credential}"}

    def client(self, account: Account) -> HttpClient:
        credential = self.credential()
        base = self.base_url(account)
        assert base is not None
        return HttpClient(
            base=base,
            headers=self.auth_headers(credential) if credential else {},
            secrets=[credential] if credential else [],
            timeout=_env_float(self.env, "SOMEARKIV_METRICS_TIMEOUT_S", DEFAULT_TIMEOUT_S),
            max_wait=_env_float(self.env, "SOMEARKIV_METRICS_MAX_WAIT_S", DEFAULT_MAX_WAIT_S),
            sleep=self.sleep,
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
            counted = tally(self.pages(http, account, profile, window), window)
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
        pages = f"{counted.pages} page{'s' if counted.pages != 1 else ''} read"
        complete = counted.reached_start
        note = "" if complete else f"; stopped after {counted.pages} pages, so this is at least the number shown"
        confidence = Confidence.high if complete else Confidence.medium
        posts = self._value(counted.posts, read_at,
                            f"published {window.describe()}; {self.posts_note}; {pages}{note}", confidence)
        if not self.reposts_apart:
            return posts, None
        reposts = self._value(counted.reposts, read_at, f"reposts {window.describe()}; {pages}{note}", confidence)
        return posts, reposts


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
