"""Post dates as people write them on a page, in Swedish and English, for the page fallback.

A captured page dates its posts in many ways: ``<time datetime="2026-11-12T10:00:00+01:00">``,
"12 nov.", "12 nov. 2026 kl. 10:00", "Nov 12, 2026 at 10:00 AM", "torsdag 12 november",
"igår kl. 14:05", "för 3 dagar sedan", "3 d", "2 v", "5 tim", "3 days ago", "2w", "just nu".
:func:`parse_span` reads one such text into a :class:`When`: the instant written plus the bounds
of when the post may have been made; :func:`parse_when` gives just the instant. Both are pure
(the only clock is the *now* passed in) and never raise on any text.

How a text is read:

* Times without an offset, dates and day words are Swedish local time (Europe/Stockholm).
* A date without a time means the whole day in Stockholm (00:00 up to the next midnight, 23 or
  25 hours on the days the clocks change); :attr:`When.at` is the day's start.
* A date without a year is the most recent such date not after *now*'s date in Stockholm
  ("12 dec" read on 28 Nov 2026 is 12 Dec 2025; a 29 February goes back to the last leap year).
* Relative texts are resolved against *now* (the capture time). "N units ago" is taken as the
  platforms write it, rounded down: "3 d" is 3 to 4 days before *now*, so :attr:`When.at` is
  ``now - 3 days`` and the bounds are ``now - 4 days`` .. ``now - 3 days``. Seconds, minutes,
  hours, days and weeks are elapsed time (a day is 24 hours, also across a clock change);
  months and years are calendar steps on the Stockholm wall clock. "idag", "igår", "förrgår",
  "today", "yesterday" and weekday names ("tisdag", "Tuesday": the most recent such day, not
  after today) are whole Stockholm days.
* Numeric dates are read only where they are unambiguous: ISO (``2026-11-12``, with a time and
  an offset or ``Z``) and day.month.year (``12.11.2026``); ``11/12/2026`` (month or day first?)
  is not read.
* The whole text must be a date: "Möte 12 nov" or "Vägarbete vecka 47–48" is not one. Parts
  joined by "·", "•" or "|" are also tried one by one ("3 d · Redigerad" is 3 days ago).

:func:`counts_in` (with :func:`decisive_instant`) decides whether a :class:`When` falls in a
counting :class:`~tasks.metrics.core.Window`; its docstring states the rule at the window's edges.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from tasks.metrics.core import STOCKHOLM, Window

__all__ = [
    "MONTHS",
    "Precision",
    "When",
    "counts_in",
    "day_bounds",
    "decisive_instant",
    "parse_epoch",
    "parse_span",
    "parse_when",
]

Precision = Literal["second", "minute", "hour", "day", "week", "month", "year"]

_MAX_TEXT = 120  # a date is short; longer texts are not dates (and cost nothing to refuse)
_TINY = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class When:
    """One date read from a page.

    All times are aware UTC (see :func:`_utc` for why); read them on the Stockholm clock with
    ``.astimezone(STOCKHOLM)``. ``at``: the instant written: the exact time, the start of the day
    for a date without time, ``now - N units`` for "N units ago". ``earliest`` .. ``latest``
    (inclusive): when the post may have been made given what was written. ``relative``: resolved
    against *now* ("3 d", "igår", "tisdag"); ``year_inferred``: a date written without a year.
    """

    at: dt.datetime
    earliest: dt.datetime
    latest: dt.datetime
    precision: Precision
    relative: bool = False
    year_inferred: bool = False

    @property
    def exact(self) -> bool:
        """A full timestamp (to the second): compared with a window as it is, not as a span."""
        return self.precision == "second"


# --------------------------------------------------------------------------------------------
# Words


MONTHS: dict[str, int] = {
    "januari": 1, "january": 1, "jan": 1,
    "februari": 2, "february": 2, "febr": 2, "feb": 2,
    "mars": 3, "march": 3, "mar": 3,
    "april": 4, "apr": 4,
    "maj": 5, "may": 5,
    "juni": 6, "june": 6, "jun": 6,
    "juli": 7, "july": 7, "jul": 7,
    "augusti": 8, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9,
    "oktober": 10, "october": 10, "okt": 10, "oct": 10,
    "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}
_WEEKDAYS: dict[str, int] = {
    "måndag": 0, "mån": 0, "monday": 0, "mon": 0,
    "tisdag": 1, "tis": 1, "tuesday": 1, "tues": 1, "tue": 1,
    "onsdag": 2, "ons": 2, "wednesday": 2, "wed": 2,
    "torsdag": 3, "tors": 3, "tor": 3, "thursday": 3, "thurs": 3, "thur": 3, "thu": 3,
    "fredag": 4, "fre": 4, "friday": 4, "fri": 4,
    "lördag": 5, "lör": 5, "saturday": 5, "sat": 5,
    "söndag": 6, "sön": 6, "sunday": 6, "sun": 6,
}
_NUMBER_WORDS: dict[str, int] = {
    "en": 1, "ett": 1, "one": 1, "a": 1, "an": 1, "två": 2, "two": 2, "tre": 3, "three": 3, "fyra": 4, "four": 4,
    "fem": 5, "five": 5, "sex": 6, "six": 6, "sju": 7, "seven": 7, "åtta": 8, "eight": 8, "nio": 9, "nine": 9,
    "tio": 10, "ten": 10, "elva": 11, "eleven": 11, "tolv": 12, "twelve": 12,
}
_UNITS: dict[str, tuple[str, ...]] = {
    "second": ("sekunder", "sekund", "sek", "seconds", "second", "secs", "sec", "s"),
    "minute": ("minuter", "minut", "minutes", "minute", "mins", "min", "m"),
    "hour": ("timmar", "timme", "tim", "hours", "hour", "hrs", "hr", "h", "t"),
    "day": ("dagar", "dag", "dygn", "days", "day", "d"),
    "week": ("veckor", "vecka", "weeks", "week", "wks", "wk", "v", "w"),
    "month": ("månader", "månad", "mån", "months", "month", "mths", "mth", "mos", "mo"),
    "year": ("years", "year", "yrs", "yr", "år", "y"),
}
_UNIT_OF = {word: unit for unit, words in _UNITS.items() for word in words}
_FIXED = {"second": dt.timedelta(seconds=1), "minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1),
          "day": dt.timedelta(days=1), "week": dt.timedelta(weeks=1)}

_L = r"a-zåäöéü"  # letters a word may not run on into


def _alternatives(words: Iterable[str]) -> str:
    """A regex alternation, longest first ("mars" before "mar")."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_MONTH = r"(?P<month>" + _alternatives(MONTHS) + r")\.?(?![" + _L + r"])"
_WEEKDAY = r"(?P<weekday>" + _alternatives(_WEEKDAYS) + r")\.?(?![" + _L + r"])"
_DAY = r"(?P<day>[0-9]{1,2})(?::?e|:?a|st|nd|rd|th|\.)?"
_YEAR = r"(?P<year>[0-9]{4})(?![0-9:.])"
_TIME = (r"(?P<kl>(?:kl\.?|klockan|at|@) ?)?"
         r"(?P<hour>[0-9]{1,2})(?:[:.](?P<minute>[0-9]{2})(?:[:.](?P<second>[0-9]{2}))?)?"
         r"(?: ?(?P<ampm>a\.?m\.?|p\.?m\.?|f\.?m\.?|e\.?m\.?)(?![" + _L + r"]))?"
         r"(?: ?(?P<zone>utc|gmt|z|cet|cest|[+-][0-9]{2}:?[0-9]{2}))?")
_WEEKDAY_PREFIX = r"(?:(?:" + _WEEKDAY.replace("?P<weekday>", "?:") + r")[,.]? )?"

_DATE_FORMS = [
    # 12 nov. 2026 / den 12 november / torsdag 12 november 2026 / 12th of November / 1:a maj
    re.compile(_WEEKDAY_PREFIX + r"(?:den )?" + _DAY + r" ?(?:of )?" + _MONTH + r"(?:,? ?" + _YEAR + r")?"),
    # Nov 12, 2026 / November 12th / Thursday, November 12, 2026
    re.compile(_WEEKDAY_PREFIX + _MONTH + r" ?" + _DAY + r"(?:,? ?" + _YEAR + r")?"),
    # 2026-11-12 / 12.11.2026
    re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})"),
    re.compile(r"(?P<day>[0-9]{1,2})\.(?P<month>[0-9]{1,2})\.(?P<year>[0-9]{4})"),
]
_WEEKDAY_FORM = re.compile(r"(?P<before>i (?=[a-zåäö]+s$)|förra |last )?(?P<weekday>" + _alternatives(_WEEKDAYS)
                           + r")(?:en|s)?\.?(?![" + _L + r"])")
_DAY_WORDS = {
    "idag": 0, "i dag": 0, "today": 0,
    "igår": 1, "i går": 1, "igar": 1, "i gar": 1, "yesterday": 1,
    "förrgår": 2, "i förrgår": 2, "day before yesterday": 2, "the day before yesterday": 2,
}
_DAY_WORD_FORM = re.compile(r"(?P<word>" + _alternatives(_DAY_WORDS) + r")")
_NOW_WORDS = {"just nu", "nu", "nyss", "alldeles nyss", "now", "just now", "right now", "några sekunder sedan",
              "för några sekunder sedan", "a few seconds ago", "few seconds ago", "seconds ago", "moments ago",
              "a moment ago"}
_RELATIVE = re.compile(
    r"(?P<for>för |for )?(?P<n>[0-9]{1,4}|" + _alternatives(_NUMBER_WORDS) + r") ?"
    r"(?P<unit>" + _alternatives(_UNIT_OF) + r")\.?(?![" + _L + r"])(?: (?P<ago>sedan|ago|tidigare|earlier))?")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[t ][0-9]{2}:[0-9]{2}(?P<second>:[0-9]{2}(?:[.,][0-9]{1,6})?)?"
                  r"(?:z|[+-][0-9]{2}:?[0-9]{2})?)?")
_TIME_AT_END = re.compile(r"(?P<date>.+?)(?:,? |,|(?= ?(?:kl|klockan|at|@)))" + _TIME)
_TIME_AT_START = re.compile(_TIME + r"(?:,? ?(?:on |den )?)(?P<date>.+)")
_FILLER = re.compile(
    r"(?:(?:publicerad|publicerat|publicerades|postad|postat|postades|skrevs|skriven|uppdaterad|uppdaterat"
    r"|redigerad|redigerat|sändes|sänt|streamades|hade premiär|premiär|uppladdad|uppladdat|laddades upp"
    r"|posted|published|updated|edited|streamed|premiered|uploaded|added|tillagd)"
    r"(?: (?:den|on|at|kl\.?|för))?:? )+")
_SEPARATORS = re.compile(r" ?[·•|] ?")


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]", "", text).lower()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" ,;:()[]\"'")


# --------------------------------------------------------------------------------------------
# Pieces


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The first and last microsecond (aware UTC) of *day* in Stockholm (a day of 23, 24 or 25 hours)."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=STOCKHOLM)
    following = day + dt.timedelta(days=1)
    end = dt.datetime(following.year, following.month, following.day, tzinfo=STOCKHOLM)
    return _utc(start), _utc(end) - _TINY


def _utc(when: dt.datetime) -> dt.datetime:
    """An aware instant in UTC: what :class:`When` holds (arithmetic and == on Stockholm times go wrong
    across a clock change: Python subtracts wall clocks, and a time in the repeated hour of October
    never equals the same instant in another zone)."""
    return when.astimezone(dt.UTC)


def _local(when: dt.datetime) -> dt.datetime:
    """An aware instant on the Stockholm clock, for reading its date and wall-clock fields only."""
    return when.astimezone(dt.UTC).astimezone(STOCKHOLM)


def _whole_day(day: dt.date, *, relative: bool = False, year_inferred: bool = False) -> When:
    start, end = day_bounds(day)
    return When(start, start, end, "day", relative=relative, year_inferred=year_inferred)


def _with_time(day: dt.date, match: re.Match[str], *, relative: bool = False,
               year_inferred: bool = False) -> When | None:
    hour = int(match["hour"])
    minute = int(match["minute"]) if match["minute"] else 0
    second = int(match["second"]) if match["second"] else 0
    ampm = (match["ampm"] or "").replace(".", "")
    if not match["minute"] and not ampm and not match["kl"]:
        return None  # "12 nov 10": a bare number is no time
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm in ("pm", "em") else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    zone = match["zone"]
    tzinfo: dt.tzinfo = STOCKHOLM
    if zone in ("utc", "gmt", "z"):
        tzinfo = dt.UTC
    elif zone in ("cet", "cest"):
        tzinfo = dt.timezone(dt.timedelta(hours=1 if zone == "cet" else 2))
    elif zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if offset > dt.timedelta(hours=14):
            return None
        tzinfo = dt.timezone(offset if zone[0] == "+" else -offset)
    at = dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tzinfo)
    precision: Precision = "second" if match["second"] else "minute" if match["minute"] else "hour"
    step = {"second": dt.timedelta(seconds=1), "minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1)}
    at = _utc(at)
    latest = at + step[precision] - _TINY
    return When(at, at, latest, precision, relative=relative, year_inferred=year_inferred)


def _recent_date(month: int, day: int, today: dt.date) -> dt.date | None:
    """The most recent *day* of *month* not after *today* (29 February: the last leap year's)."""
    for year in range(today.year, today.year - 9, -1):
        if day > calendar.monthrange(year, month)[1]:
            continue
        candidate = dt.date(year, month, day)
        if candidate <= today:
            return candidate
    return None


def _date_of(match: re.Match[str], today: dt.date) -> tuple[dt.date, bool] | None:
    """(the date, whether its year was inferred) from one of _DATE_FORMS."""
    month_text = match["month"]
    month = int(month_text) if month_text.isdigit() else MONTHS[month_text]
    day = int(match["day"])
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return None
    if match["year"]:
        year = int(match["year"])
        if not 1900 <= year <= 2200 or day > calendar.monthrange(year, month)[1]:
            return None
        return dt.date(year, month, day), False
    recent = _recent_date(month, day, today)
    return (recent, True) if recent is not None else None


def _months_back(when: dt.datetime, months: int) -> dt.datetime:
    """*when* (Stockholm) *months* calendar months earlier on the wall clock, the day clamped to the month."""
    index = when.year * 12 + when.month - 1 - months
    year, month = divmod(index, 12)
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return _utc(dt.datetime(year, month + 1, day, when.hour, when.minute, when.second, when.microsecond,
                              tzinfo=STOCKHOLM))


def _ago(now: dt.datetime, count: int, unit: str) -> When:
    """"*count* *units* ago", rounded down as platforms write it: from now-(count+1) to now-count units."""
    if unit in _FIXED:
        utc = now.astimezone(dt.UTC)
        at, earliest = utc - count * _FIXED[unit], utc - (count + 1) * _FIXED[unit]
    else:
        months = 12 if unit == "year" else 1
        local = _local(now)
        at, earliest = _months_back(local, count * months), _months_back(local, (count + 1) * months)
    precision: Precision = unit  # type: ignore[assignment]
    return When(_utc(at), _utc(earliest), _utc(at), precision, relative=True)


# --------------------------------------------------------------------------------------------
# Readers, one form each


def _iso(text: str) -> When | None:
    match = _ISO.fullmatch(text)
    if not match:
        return None
    parsed = dt.datetime.fromisoformat(text.upper().replace(",", "."))
    if len(text) == 10:  # a date alone: the whole day
        return _whole_day(parsed.date())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=STOCKHOLM)
    precision: Precision = "second" if match["second"] else "minute"
    at = _utc(parsed)
    return When(at, at, at, precision)


def _keyword(text: str, now: dt.datetime) -> When | None:
    if text in _NOW_WORDS:
        utc = now.astimezone(dt.UTC)
        return When(utc, utc - dt.timedelta(minutes=1), utc, "minute", relative=True)
    return None


def _relative(text: str, now: dt.datetime) -> When | None:
    match = _RELATIVE.fullmatch(text)
    if not match:
        return None
    ago = match["ago"]
    if match["for"] and ago != "sedan" and not (match["for"] == "for " and ago == "ago"):
        return None  # "för 3 dagar" is a duration, not a date
    number = match["n"]
    if not number.isdigit() and not ago:
        return None  # "en dag", "a day": only with "sedan"/"ago"
    return _ago(now, int(number) if number.isdigit() else _NUMBER_WORDS[number], _UNIT_OF[match["unit"]])


def _date_only(text: str, today: dt.date) -> tuple[dt.date, bool, bool] | None:
    """(date, relative, year inferred) for a text that is a date with no time, else None."""
    for form in _DATE_FORMS:
        match = form.fullmatch(text)
        if match:
            found = _date_of(match, today)
            return (found[0], False, found[1]) if found else None
    match = _DAY_WORD_FORM.fullmatch(text)
    if match:
        return today - dt.timedelta(days=_DAY_WORDS[match["word"]]), True, False
    match = _WEEKDAY_FORM.fullmatch(text)
    if match:
        back = (today.weekday() - _WEEKDAYS[match["weekday"]]) % 7
        if match["before"] and back == 0:
            back = 7  # "i tisdags", "last Tuesday" said on a Tuesday: a week ago
        return today - dt.timedelta(days=back), True, False
    return None


def _absolute(text: str, now: dt.datetime) -> When | None:
    today = _local(now).date()
    found = _date_only(text, today)
    if found:
        day, relative, inferred = found
        return _whole_day(day, relative=relative, year_inferred=inferred)
    for form in (_TIME_AT_END, _TIME_AT_START):
        match = form.fullmatch(text)
        if not match:
            continue
        found = _date_only(match["date"].strip(" ,"), today)
        if found:
            day, relative, inferred = found
            when = _with_time(day, match, relative=relative, year_inferred=inferred)
            if when is not None:
                return when
    return None


def _one(text: str, now: dt.datetime) -> When | None:
    text = _FILLER.sub("", text, count=1) if _FILLER.match(text) else text
    text = text.strip(" ,;:()[]")
    if not text or len(text) > _MAX_TEXT:
        return None
    for reader in (_iso, lambda t: _keyword(t, now), lambda t: _relative(t, now), lambda t: _absolute(t, now)):
        found = reader(text)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------------------------
# The interface


def parse_span(text: object, now: dt.datetime) -> When | None:
    """*text* read as a post date at capture time *now* (aware), with its bounds; None if it is no date.

    Never raises on any *text*; raises ValueError only for a naive *now*.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not isinstance(text, str) or len(text) > 4 * _MAX_TEXT:
        return None
    try:
        normal = _normalise(text)
        if not normal or len(normal) > 2 * _MAX_TEXT:
            return None
        found = _one(_SEPARATORS.sub(" ", normal), now)
        if found is None and _SEPARATORS.search(normal):
            for part in _SEPARATORS.split(normal):
                found = _one(part, now)
                if found is not None:
                    break
        return found
    except (ValueError, OverflowError, ArithmeticError, KeyError, IndexError):
        return None


def parse_when(text: object, now: dt.datetime) -> dt.datetime | None:
    """The instant *text* dates (aware UTC), or None: see :func:`parse_span`.

    A date without time gives the start of that day in Stockholm (its bounds: :func:`parse_span`
    or :func:`day_bounds`); "N units ago" gives exactly ``now - N units``.
    """
    found = parse_span(text, now)
    return found.at if found is not None else None


def parse_epoch(value: object) -> When | None:
    """A machine timestamp from a data attribute (``data-utime="1763110800"``, seconds or milliseconds)."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{9,13}", value.strip()):
        return None
    number = int(value.strip())
    seconds = number / 1000 if number > 10**11 else number
    try:
        at = dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return When(at, at, at, "second")


def decisive_instant(when: When, captured_at: dt.datetime) -> dt.datetime:
    """The instant (UTC) that decides whether *when* is in a window (see :func:`counts_in`)."""
    if when.exact:
        return when.at.astimezone(dt.UTC)
    # a post shown on the page was made before the page was captured
    latest = min(when.latest.astimezone(dt.UTC), captured_at.astimezone(dt.UTC))
    earliest = min(when.earliest.astimezone(dt.UTC), latest)
    return earliest + (latest - earliest) / 2  # in UTC: a 25-hour day's middle is 12 h 30 min after its start


def counts_in(when: When, window: Window, captured_at: dt.datetime) -> bool:
    """Whether a post dated *when* on a page captured at *captured_at* is counted in *window*.

    The rule at the window's edges. A full timestamp (``<time datetime>`` to the second, a
    ``data-utime``) counts when :meth:`Window.contains` it (start counted, end not). Anything
    coarser is the span of time it may mean - a minute for "kl. 14:05", an hour for "kl 14",
    the Stockholm day for "12 nov." or "igår", ``now-4d .. now-3d`` for "3 d", a minute for
    "just nu" - and counts when the middle of that span is in the window, i.e. when most of the
    span is, after the span is cut off at the capture time (a post shown on the page was made
    before the page was captured: "idag" on a page captured at 08:00 means 00:00-08:00, so it
    counts; "just nu" is the last minute, so it counts although the window's end does not).
    So a day cut by the window's start counts only if the greater part of it is inside; a
    calendar month (Stockholm midnights) takes each day whole or not at all; on a 30-day window
    "29 d" counts and "30 d" (30-31 days ago) does not, nor "4 v" (28-35 days) or "1 mån"
    (1-2 months). A span after the capture time is cut to the capture time, which a window
    ending at the capture does not hold.
    """
    return window.contains(decisive_instant(when, captured_at))
