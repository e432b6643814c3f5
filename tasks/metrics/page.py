"""The fallback: counts read from the captured start page when there is no API or credential.

A page says how many follow an account in three ways, in falling order of trust:
structured data for machines (JSON-LD ``InteractionCounter``; confidence medium), meta tags
(``og:description`` "4 812 följare"; medium, low if rounded) and the visible counter
("1,2 tn prenumeranter"; low, platforms round these). Numbers come in Swedish and English forms:
spaces, no-break (U+00A0) and narrow no-break (U+202F) spaces or commas between thousands,
decimal comma or point before ``tn``/``mn``/``K``/``M``; :func:`parse_count` reads them all and
never raises.

Posts in the window are normally unknown from a page (no dates); when the page carries dated
posts (``<article>`` with ``<time datetime>``) those inside the window are counted, with
confidence low and a detail saying only posts loaded on the page were counted. Reposts cannot
be told apart on a page and are not given.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any

from somearkiv.models import Confidence, Metrics, MetricValue, Platform
from tasks.metrics.core import STOCKHOLM, Window, as_count, missing_value

__all__ = ["merge_with_page", "parse_count", "read_page_metrics"]

SOURCE = "page"
_SPACES = " \u00a0\u202f\u2009"
_NUMBER = (
    r"(?<![\w.,])"
    r"(?P<int>\d{1,3}(?P<sep>[" + _SPACES + r".,])\d{3}(?:(?P=sep)\d{3})*(?!\d)|\d{1,15}(?!\d))"
    r"(?:(?P<dsep>[.,])(?P<frac>\d{1,3})(?!\d))?"
    r"(?:[" + _SPACES + r"]?(?P<suffix>tusen|tn|miljoner|milj\.?|mn|miljarder|mdr|md|thousand|million|billion"
    r"|bn|k|m|b)(?![\w]))?"
)
_MULTIPLIERS = {
    "k": 1_000, "tn": 1_000, "tusen": 1_000, "thousand": 1_000,
    "m": 1_000_000, "mn": 1_000_000, "milj": 1_000_000, "milj.": 1_000_000, "miljoner": 1_000_000,
    "million": 1_000_000,
    "b": 1_000_000_000, "bn": 1_000_000_000, "md": 1_000_000_000, "mdr": 1_000_000_000,
    "miljarder": 1_000_000_000, "billion": 1_000_000_000,
}
_NUMBER_RE = re.compile(_NUMBER, re.IGNORECASE)
_FOLLOWERS = r"följare|followers?|prenumeranter|prenumerant|subscribers?"
_POSTS = r"inlägg|posts?|videor|videos?|tweets|poster"
_NODE = "\x1f"  # joins the page's text nodes: a number never runs on into the next element's
_FOLLOWERS_RE = re.compile(_NUMBER + r"[\s" + _NODE + r"]*(?P<label>" + _FOLLOWERS + r")(?!\w)", re.IGNORECASE)
_POSTS_RE = re.compile(_NUMBER + r"[\s" + _NODE + r"]*(?P<label>" + _POSTS + r")(?!\w)", re.IGNORECASE)
_HIDDEN = {"script", "style", "noscript", "template", "head", "svg"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
         "wbr"}


def _value(match: re.Match[str]) -> int | None:
    digits = re.sub(r"[" + _SPACES + r".,]", "", match["int"])
    frac = match["frac"] or ""
    suffix = (match["suffix"] or "").lower()
    if suffix and match["sep"] in (".", ",") and match["int"].count(match["sep"]) == 1:
        # "12,345 K" would be odd; "1,234 tn" is a decimal comma: one group before a suffix is a fraction
        whole, frac = match["int"].split(match["sep"])
        digits = whole
    if not suffix and frac:
        return None  # "4,5" without a multiplier is no count
    number = Decimal(f"{int(digits)}.{frac or 0}") * _MULTIPLIERS.get(suffix, 1)
    return int(number.to_integral_value(rounding=ROUND_HALF_UP))


def parse_count(text: Any) -> int | None:
    """The first count in *text*: '4 812' → 4812, '1,2 tn' → 1200, '1.2K' → 1200, '1,2 mn' → 1200000.

    None when there is none. Never raises, whatever it is given.
    """
    if not isinstance(text, str):
        return None
    try:
        for match in _NUMBER_RE.finditer(text):
            value = _value(match)
            if value is not None:
                return value
        return None
    except (ValueError, ArithmeticError, InvalidOperation, TypeError):
        return None


def _rounded(match: re.Match[str]) -> bool:
    return bool(match["suffix"])


def _clean(text: str) -> str:
    return re.sub(r"[" + _SPACES + _NODE + r"\s]+", " ", text).strip()


class _Page(HTMLParser):
    """One pass over the HTML: meta tags, JSON-LD, visible text outside posts, and the posts' dates."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.json_ld: list[str] = []
        self.text: list[str] = []
        self.post_dates: list[str | None] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, hides its text)
        self._article_depth = 0
        self._in_json_ld = False
        self._post_dated = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or values.get("itemprop") or "").lower()
            if key and "content" in values:
                self.meta.setdefault(key, values["content"])
        if tag == "script" and values.get("type", "").lower() == "application/ld+json":
            self._in_json_ld = True
        if tag == "time" and self._article_depth and not self._post_dated and values.get("datetime"):
            self.post_dates[-1] = values["datetime"]
            self._post_dated = True
        if tag in _VOID:
            return
        if tag == "article":
            self._article_depth += 1
            if self._article_depth == 1:
                self.post_dates.append(None)
                self._post_dated = False
        self._stack.append((tag, tag in _HIDDEN or "hidden" in values))  # aria-hidden text is still seen

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_json_ld = False
        if not any(open_tag == tag for open_tag, _ in self._stack):
            return
        while self._stack:
            open_tag, _ = self._stack.pop()
            if open_tag == "article":
                self._article_depth = max(0, self._article_depth - 1)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_json_ld:
            self.json_ld.append(data)
            return
        if self._article_depth or any(hidden for _, hidden in self._stack):
            return
        self.text.append(data)


def _walk(node: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 20:
        return
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, depth + 1)


def _interaction_counts(blocks: list[str]) -> dict[str, int]:
    """{'FollowAction': 4812, 'WriteAction': 97, ...} from JSON-LD InteractionCounter entries."""
    found: dict[str, int] = {}
    for block in blocks:
        try:
            data = json.loads(block)
        except (ValueError, RecursionError):
            continue
        for node in _walk(data):
            kinds = node.get("@type")
            if "InteractionCounter" not in (kinds if isinstance(kinds, list) else [kinds]):
                continue
            action = node.get("interactionType")
            if isinstance(action, dict):
                action = action.get("@type")
            count = node.get("userInteractionCount")
            value = as_count(count) if not isinstance(count, str) else parse_count(count)
            if isinstance(action, str) and value is not None:
                found.setdefault(action.rsplit("/", 1)[-1], value)
    return found


def _page_time(value: str) -> dt.datetime | None:
    """A <time datetime> as aware UTC; a date or a time without offset is Swedish local time."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (ValueError, TypeError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=STOCKHOLM)
    return parsed.astimezone(dt.UTC)


def _counter(regex: re.Pattern[str], meta: dict[str, str], text: str, action: str, ld: dict[str, int],
             read_at: dt.datetime, what: str) -> MetricValue:
    if action in ld:
        return MetricValue(value=ld[action], source=SOURCE, read_at=read_at, confidence=Confidence.medium,
                           detail=f"JSON-LD InteractionCounter {action}: {ld[action]}")
    for key in ("og:description", "description", "twitter:description"):
        match = regex.search(meta.get(key, ""))
        if match and (value := _value(match)) is not None:
            confidence = Confidence.low if _rounded(match) else Confidence.medium
            return MetricValue(value=value, source=SOURCE, read_at=read_at, confidence=confidence,
                               detail=f"{key}: {_clean(match.group(0))}")
    match = regex.search(text)
    if match and (value := _value(match)) is not None:
        return MetricValue(value=value, source=SOURCE, read_at=read_at, confidence=Confidence.low,
                           detail=f"visible counter: {_clean(match.group(0))}")
    return missing_value(f"the page shows no {what}", SOURCE, read_at)


def _posts(dates: list[str | None], window: Window, read_at: dt.datetime) -> MetricValue:
    times = [t for t in (_page_time(d) for d in dates if d) if t is not None]
    if not times:
        return missing_value("the page shows no dated posts", SOURCE, read_at)
    inside = sum(1 for t in times if window.contains(t))
    oldest = min(times)
    detail = (f"{inside} of {len(times)} dated posts on the page fall in {window.describe()}; "
              "only posts loaded on the page were counted (reposts not told apart)")
    if oldest > window.start:
        detail += f"; the page reaches back to {oldest:%Y-%m-%d} only, so there may be more"
    return MetricValue(value=inside, source=SOURCE, read_at=read_at, confidence=Confidence.low, detail=detail)


def read_page_metrics(html: str, platform: Platform, read_at: dt.datetime, window: Window | None = None) -> Metrics:
    """Followers, total posts and (where the page has dated posts) posts in *window* from a captured page.

    *window* defaults to the 30 days up to *read_at*. Nothing read is ever turned into 0: a count
    the page does not show is None with 'unavailable: ...'.
    """
    window = window or Window.last_30_days(read_at)
    page = _Page()
    try:
        page.feed(html if isinstance(html, str) else "")
        page.close()
    except (AssertionError, ValueError):  # html.parser on very broken markup: keep what was read
        pass
    text = _NODE.join(page.text)
    ld = _interaction_counts(page.json_ld)
    followers = _counter(_FOLLOWERS_RE, page.meta, text, "FollowAction", ld, read_at, "follower count")
    if followers.value is None and "SubscribeAction" in ld:
        followers = _counter(_FOLLOWERS_RE, {}, "", "SubscribeAction", ld, read_at, "follower count")
    total = _counter(_POSTS_RE, page.meta, text, "WriteAction", ld, read_at, "post count")
    return Metrics(
        followers=followers,
        posts_last_month=_posts(page.post_dates, window, read_at),
        reposts_last_month=None,
        total_posts=total if total.value is not None else None,
        window_start=window.start,
        window_end=window.end,
        window=window.kind,
    )


def merge_with_page(api: Metrics, page: Metrics) -> Metrics:
    """The API's values, with the page's where the API had none; the API's reason kept in ``detail``."""

    def pick(from_api: MetricValue | None, from_page: MetricValue | None) -> MetricValue | None:
        if from_api is not None and from_api.value is not None:
            return from_api
        if from_page is not None and from_page.value is not None:
            if from_api is None or not from_api.unavailable:
                return from_page
            note = f"API {from_api.unavailable}"
            return from_page.model_copy(update={"detail": f"{from_page.detail}; {note}" if from_page.detail else note})
        if from_api is not None and from_page is not None and from_api.unavailable and from_page.unavailable:
            why = f"{from_api.unavailable}; the page: {from_page.unavailable.removeprefix('unavailable: ')}"
            return from_api.model_copy(update={"unavailable": why})
        return from_api if from_api is not None else from_page

    followers = pick(api.followers, page.followers)
    posts = pick(api.posts_last_month, page.posts_last_month)
    assert followers is not None and posts is not None
    return api.model_copy(update={
        "followers": followers,
        "posts_last_month": posts,
        "total_posts": pick(api.total_posts, page.total_posts),
    })
