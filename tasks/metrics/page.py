"""The fallback: counts read from the captured start page when there is no API or credential.

A page says how many follow an account in three ways, in falling order of trust:
structured data for machines (JSON-LD ``InteractionCounter``; confidence medium), meta tags
(``og:description`` "4 812 följare"; medium, low if rounded) and the visible counter
("1,2 tn prenumeranter"; low, platforms round these). Numbers come in Swedish and English forms:
spaces, no-break (U+00A0) and narrow no-break (U+202F) spaces or commas between thousands,
decimal comma or point before ``tn``/``mn``/``K``/``M``; :func:`parse_count` reads them all and
never raises.

Posts in the window are counted when the page shows dated posts. A post is an ``<article>``, an
element with ``role="article"`` or a block with a post class (``post``, ``status``, ``tweet``,
``h-entry``...); a post element without a date of its own around several others is a feed, and
post elements inside a dated post (comments, the post it shares) are not counted. Its date is
read from ``<time datetime>`` or a ``data-utime`` timestamp, else the ``aria-label``/``title`` of
an element in it, else the text of an element that holds only a date ("12 nov.", "Nov 12",
"igår", "för 3 dagar sedan", "3 d", "2 v", "5 tim", "2w"), in Swedish or English
(:mod:`tasks.metrics.dates`); relative dates are resolved against the capture time in
Europe/Stockholm. A date known only to the day (or "3 d") counts when most of that span lies in
the window (:func:`tasks.metrics.dates.counts_in`). Posts marked as shared, boosted or reposted
("X delade ett inlägg.", "X boostade", "Reposted by X", a ``repost``/``boosted`` class; never a
"Dela"/"Boost" button) are counted apart as reposts; reposts are given only when the page marks
at least one post so (else the page does not tell them apart). Confidence is low and the detail
says how the dates were read and that only posts loaded on the page were counted.
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
from tasks.metrics.dates import When, counts_in, decisive_instant, parse_epoch, parse_span

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


_BLOCKS = {"article", "div", "li", "section"}
_POST_CLASSES = {"post", "status", "tweet", "toot", "h-entry", "feed-item", "timeline-item"}
_INTERACTIVE_TAGS = {"button", "select", "textarea", "option", "form"}
_INTERACTIVE_ROLES = {"button", "menuitem", "menu", "switch", "checkbox", "tab", "toolbar"}
_DATE_TEXT_TAGS = {"time", "a", "abbr", "span", "small", "div", "header", "footer", "p"}
_DATE_CLASS = re.compile(r"date|time|ago|published|datum|tid", re.IGNORECASE)
_MAX_ELEMENT_TEXT = 160  # an element's text is kept up to here: dates and "X delade ett inlägg" are short
_HOW = {"datetime": "<time datetime>", "epoch": "data-utime", "aria-label": "aria-label", "title": "title",
        "text": "visible text"}

# A post shared from someone else: on the post element a class such as "repost"/"boosted"/"shared";
# inside it a class in the past tense (a "repost" or "share" inside a post is its button or counter),
# or a short text or label such as "Perstorps kommun delade ett inlägg.", "Perstorp boostade",
# "Reposted by Perstorp", "Perstorps kommun reposted this". Buttons and menus are never read for it
# (every post has a "Dela"/"Boost"/"Repost" button).
_CLASS_HEAD = r"(?:[a-z0-9]+(?:--?|__?))*"  # "status__wrapper-reblog", "is-reposted"; not "feed-shared-update-v2"
_REPOST_CLASS_ON_POST = re.compile(_CLASS_HEAD + r"(?:re-?post(?:ed)?|reblog(?:ged)?|boost(?:ed)?|re-?tweet(?:ed)?|"
                                   r"re-?share[d]?|share[d]?)(?:[-_]+(?:post|item|status|entry|card))?")
_REPOST_CLASS_INSIDE = re.compile(_CLASS_HEAD + r"(?:re-?posted|reblogged|boosted|re-?tweeted|re-?shared|shared)"
                                  r"(?:[-_]+(?:by|header|post|item|status|entry|card|label|context))?")
_OBJECTS = (r"inlägg|inlägget|länk|länken|bild|bilder|bilden|foto|fotot|video|videon|minne|evenemang|händelse|album|"
            r"livesändning|reel|status|statusuppdatering|uppdatering|artikel|post|link|photo|photos|picture|"
            r"memory|event|live video|update|article")
_WHOSE = r"(?:(?:ett|en|sitt|sin|sina|a|an|their|its|his|her) |[^.!?]{1,60}(?:s|'s|’s) )?"
_REPOST_TEXT = [
    re.compile(r"(?:[^.!?]{1,80} )?(?:delade|har delat|shared|has shared) " + _WHOSE + r"(?:" + _OBJECTS + r")\.?",
               re.IGNORECASE),
    re.compile(r"[^.!?]{1,80} (?:boostade|boostat|knuffade|puffade|återpublicerade|har återpublicerat|reblogade|"
               r"retweetade|reposted|retweeted|reblogged|boosted|reposted this|delade detta|delade det här|"
               r"shared this)", re.IGNORECASE),
    re.compile(r"(?:boostad|boostat|knuffad|delad|delat|återpublicerad|återpublicerat|omdelad|reposted|retweeted|"
               r"boosted|shared|reblogged) (?:av|by|från|from) [^.!?]{1,80}", re.IGNORECASE),
    re.compile(r"(?:delat inlägg|delad länk|delat|delad|reposted|retweeted|boosted|boostad|reblogged|"
               r"återpublicerat|repost|retweet|boost|reblog|share)\.?", re.IGNORECASE),
]
_REPOST_BARE = {"repost", "retweet", "boost", "reblog", "share"}  # bare nouns/verbs: only on the post element
_REPOST_WORD = re.compile(r"delade|delat|delad|boost|knuff|puffade|återpublic|reblog|re-?post|re-?tweet|share",
                          re.IGNORECASE)  # a quick look before the patterns


def _repost_text(text: str, *, on_post: bool) -> bool:
    if not text or len(text) > 400 or not _REPOST_WORD.search(text):
        return False
    text = _clean(text).rstrip(":")
    if len(text) > 140:
        return False
    for regex in _REPOST_TEXT:
        if regex.fullmatch(text):
            return on_post or text.lower().rstrip(".") not in _REPOST_BARE
    return False


def _repost_class(classes: list[str], *, on_post: bool) -> str | None:
    regex = _REPOST_CLASS_ON_POST if on_post else _REPOST_CLASS_INSIDE
    return next((c for c in classes if regex.fullmatch(c)), None)


class _Post:
    """One post element on the page (``<article>``, ``role="article"``, ``class="post"``, ...)."""

    __slots__ = ("best", "children", "dates", "repost")

    def __init__(self) -> None:
        self.children: list[_Post] = []
        self.dates: list[tuple[int, int, str, When]] = []  # (rank, order on the page, how read, date)
        self.best = 99  # the best rank among its dates: a date of the same or a worse rank is not read
        self.repost: str | None = None  # what marked it as shared/boosted/reposted

    def date(self) -> tuple[str, When] | None:
        """The post's date: its own best one, else (a wrapper around one post) that post's."""
        if self.dates:
            _, _, how, when = min(self.dates, key=lambda d: (d[0], d[1]))
            return how, when
        if len(self.children) == 1:
            return self.children[0].date()
        return None

    def marked(self) -> str | None:
        """What marks it as shared; a wrapper without a date of its own also by what marks the post inside."""
        if self.repost or self.dates or len(self.children) != 1:
            return self.repost
        return self.children[0].marked()


def _posts_of(nodes: list[_Post]) -> list[_Post]:
    """The posts: a post element without a date of its own around two or more post elements is a
    feed, and the elements in it are the posts; one with a date of its own is a post, and the post
    elements in it (comments, the post it shares) are not counted."""
    found: list[_Post] = []
    for node in nodes:
        if len(node.children) >= 2 and not node.dates:
            found.extend(_posts_of(node.children))
        else:
            found.append(node)
    return found


class _Open:
    """An element still open while parsing."""

    __slots__ = ("hidden", "interactive", "post", "rank", "tag", "text", "text_size")

    def __init__(self, tag: str, hidden: bool, interactive: bool, post: _Post | None, rank: int | None) -> None:
        self.tag = tag
        self.hidden = hidden
        self.interactive = interactive
        self.post = post  # the innermost post this element is in
        self.rank = rank  # how much its text is trusted as the post's date; None: not read for one
        self.text: list[str] | None = [] if post is not None and not hidden else None
        self.text_size = 0


class _Page(HTMLParser):
    """One pass over the HTML: meta tags, JSON-LD, visible text outside posts, and the posts.

    A post's date is read, most trusted first, from ``<time datetime>`` or a ``data-utime``
    timestamp; from the ``aria-label`` or ``title`` of an element in the post; from the text of
    an element that holds nothing but a date (a ``<time>``, ``<a>``, ``<abbr>`` or an element
    whose class says date/time first, then ``<span>``, ``<small>``, ``<div>``...). Among equals
    the first on the page wins (the header's date before a date in the post's text).
    """

    def __init__(self, now: dt.datetime) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.json_ld: list[str] = []
        self.text: list[str] = []
        self.roots: list[_Post] = []
        self._now = now
        self._stack: list[_Open] = []
        self._in_json_ld = False
        self._order = 0
        self._read: dict[str, When | None] = {}  # a page repeats its date texts ("3 d", "Gilla", ...)

    def _date(self, post: _Post, rank: int, how: str, text: str) -> None:
        if rank >= post.best:
            return  # a date as trusted was found before it: the first one wins
        if text not in self._read:
            if len(self._read) > 10_000:
                self._read.clear()
            self._read[text] = (parse_epoch(text) or parse_span(text, self._now)) if how == "epoch" \
                else parse_span(text, self._now)
        when = self._read[text]
        if when is not None:
            self._order += 1
            post.dates.append((rank, self._order, how, when))
            post.best = rank

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or values.get("itemprop") or "").lower()
            if key and "content" in values:
                self.meta.setdefault(key, values["content"])
        if tag == "script" and values.get("type", "").lower() == "application/ld+json":
            self._in_json_ld = True
        parent = self._stack[-1] if self._stack else None
        hidden = (parent.hidden if parent else False) or tag in _HIDDEN or "hidden" in values
        role = values.get("role", "").lower()
        interactive = ((parent.interactive if parent else False) or tag in _INTERACTIVE_TAGS
                       or role in _INTERACTIVE_ROLES)
        post = parent.post if parent else None
        classes = values.get("class", "").lower().split()
        if not hidden and (tag == "article" or role == "article" or values.get("data-testid") == "tweet"
                           or (tag in _BLOCKS and not _POST_CLASSES.isdisjoint(classes))):
            opened = _Post()
            (post.children if post is not None else self.roots).append(opened)
            post = opened
            marker = _repost_class(classes, on_post=True)
            post.repost = f"class {marker!r}" if marker else None
            for name in ("aria-label", "title"):
                if not post.repost and _repost_text(values.get(name, ""), on_post=True):
                    post.repost = f"{name} {_clean(values[name])!r}"
        elif post is not None and not hidden and not interactive and not post.repost:
            marker = _repost_class(classes, on_post=False)
            post.repost = f"class {marker!r}" if marker else None
            for name in ("aria-label", "title"):
                if not post.repost and _repost_text(values.get(name, ""), on_post=False):
                    post.repost = f"{name} {_clean(values[name])!r}"
        if post is not None and not hidden:
            if tag == "time" and values.get("datetime"):
                self._date(post, 0, "datetime", values["datetime"])
            for name in ("data-utime", "data-timestamp", "data-time"):
                if values.get(name):
                    self._date(post, 0, "epoch", values[name])
            if not interactive:
                for name in ("aria-label", "title"):
                    if values.get(name):
                        self._date(post, 1, name, values[name])
        if tag in _VOID:
            return
        rank = None
        if tag in _DATE_TEXT_TAGS and not interactive:
            rank = 2 if tag in ("time", "a", "abbr") or any(_DATE_CLASS.search(c) for c in classes) else 3
        self._stack.append(_Open(tag, hidden, interactive, post, rank))  # aria-hidden text is still seen

    def _close(self, element: _Open) -> None:
        if element.text is None or element.text_size > _MAX_ELEMENT_TEXT or element.post is None:
            return
        text = _clean("".join(element.text))
        if not text:
            return
        if element.rank is not None:
            self._date(element.post, element.rank, "text", text)
        if not element.interactive and not element.post.repost and _repost_text(text, on_post=False):
            element.post.repost = f"text {text!r}"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_json_ld = False
        if not any(open_tag.tag == tag for open_tag in self._stack):
            return
        while self._stack:
            element = self._stack.pop()
            self._close(element)
            if element.tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_json_ld:
            self.json_ld.append(data)
            return
        top = self._stack[-1] if self._stack else None
        if top is not None and top.post is not None and not top.hidden:
            for element in reversed(self._stack):  # an element's text holds its children's
                if element.text is None or element.text_size > _MAX_ELEMENT_TEXT:
                    break  # and so every element around it is too long as well
                element.text.append(data)
                element.text_size += len(data)
            return
        if top is not None and (top.post is not None or top.hidden):
            return
        self.text.append(data)

    def finish(self) -> None:
        """Close what the page left open (its dates and markers are read too)."""
        while self._stack:
            self._close(self._stack.pop())


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


def _how(dated: list[tuple[str, When, str | None]]) -> str:
    counts: dict[str, int] = {}
    for how, _, _ in dated:
        counts[_HOW[how]] = counts.get(_HOW[how], 0) + 1
    return ", ".join(f"{name} ({n})" for name, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _posts(roots: list[_Post], window: Window, read_at: dt.datetime,
           captured_at: dt.datetime) -> tuple[MetricValue, MetricValue | None]:
    """(own posts, reposts) in *window* among the posts on the page; reposts None when none is marked."""
    dated: list[tuple[str, When, str | None]] = []
    undated = marked_undated = 0
    for post in _posts_of(roots):
        found, marker = post.date(), post.marked()
        if found is None:
            undated += 1
            marked_undated += marker is not None
        else:
            dated.append((found[0], found[1], marker))
    own = [when for _, when, marker in dated if marker is None]
    shared = [(when, marker) for _, when, marker in dated if marker is not None]
    if not dated:
        why = "the page shows no dated posts"
        if undated:
            why += f" ({undated} post{'s' if undated != 1 else ''} without a readable date)"
        reposts = (missing_value(f"the page marks {marked_undated} shared posts but shows no dates for them",
                                 SOURCE, read_at) if marked_undated else None)
        return missing_value(why, SOURCE, read_at), reposts
    inside = sum(1 for when in own if counts_in(when, window, captured_at))
    local = captured_at.astimezone(STOCKHOLM)
    notes = [f"dates read from {_how(dated)}"]
    if any(when.relative for _, when, _ in dated):
        notes.append(f"relative dates ('3 d', 'igår') resolved against the capture time "
                     f"{local:%Y-%m-%d %H:%M} Europe/Stockholm")
    if any(not when.exact for _, when, _ in dated):
        notes.append("a date without a time (or '3 d', '2 v') counts when most of its span is in the window")
    notes.append("only posts loaded on the page were counted")
    if shared or marked_undated:
        marked = len(shared) + marked_undated
        notes.append(f"{marked} post{'s' if marked != 1 else ''} marked as shared/boosted/reposted counted apart")
    else:
        notes.append("reposts not told apart (no post on the page is marked as shared/boosted)")
    if undated:
        notes.append(f"{undated} post{'s' if undated != 1 else ''} without a readable date not counted")
    oldest = min(decisive_instant(when, captured_at) for _, when, _ in dated)
    if oldest > window.start:
        notes.append(f"the page reaches back to {oldest.astimezone(STOCKHOLM):%Y-%m-%d} only, so there may be more")
    posts = MetricValue(value=inside, source=SOURCE, read_at=read_at, confidence=Confidence.low,
                        detail=f"{inside} of {len(own)} dated own posts on the page fall in {window.describe()}; "
                               + "; ".join(notes))
    if not shared and not marked_undated:
        return posts, None
    if not shared:
        return posts, missing_value(f"the page marks {marked_undated} shared posts but shows no dates for them",
                                    SOURCE, read_at)
    shared_inside = sum(1 for when, _ in shared if counts_in(when, window, captured_at))
    reposts = MetricValue(
        value=shared_inside, source=SOURCE, read_at=read_at, confidence=Confidence.low,
        detail=(f"{shared_inside} of {len(shared)} dated posts marked as shared/boosted/reposted on the page "
                f"(e.g. {shared[0][1]}) fall in {window.describe()}; dated by the date the page shows (for a "
                "boost often the original post's); only posts loaded on the page were counted"))
    return posts, reposts


def read_page_metrics(html: str, platform: Platform, read_at: dt.datetime, window: Window | None = None, *,
                      captured_at: dt.datetime | None = None) -> Metrics:
    """Followers, total posts and (where the page has dated posts) posts and reposts in *window*.

    *window* defaults to the 30 days up to *read_at*. Relative dates on the page ("3 d", "igår")
    are resolved against *captured_at*, the time the page was captured (default *read_at*).
    Nothing read is ever turned into 0: a count the page does not show is None with
    'unavailable: ...'; reposts are given only when the page marks posts as shared/boosted.
    """
    window = window or Window.last_30_days(read_at)
    captured_at = captured_at or read_at
    page = _Page(captured_at)
    try:
        page.feed(html if isinstance(html, str) else "")
        page.close()
    except (AssertionError, ValueError):  # html.parser on very broken markup: keep what was read
        pass
    page.finish()
    text = _NODE.join(page.text)
    ld = _interaction_counts(page.json_ld)
    followers = _counter(_FOLLOWERS_RE, page.meta, text, "FollowAction", ld, read_at, "follower count")
    if followers.value is None and "SubscribeAction" in ld:
        followers = _counter(_FOLLOWERS_RE, {}, "", "SubscribeAction", ld, read_at, "follower count")
    total = _counter(_POSTS_RE, page.meta, text, "WriteAction", ld, read_at, "post count")
    posts, reposts = _posts(page.roots, window, read_at, captured_at)
    return Metrics(
        followers=followers,
        posts_last_month=posts,
        reposts_last_month=reposts,
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
    # reposts from the page only beside posts from the page: both then come from the same posts
    reposts = api.reposts_last_month
    if posts is not api.posts_last_month and page.reposts_last_month is not None:
        reposts = pick(api.reposts_last_month, page.reposts_last_month)
    return api.model_copy(update={
        "followers": followers,
        "posts_last_month": posts,
        "reposts_last_month": reposts,
        "total_posts": pick(api.total_posts, page.total_posts),
    })
