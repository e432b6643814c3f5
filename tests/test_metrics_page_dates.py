"""Post dates as people write them (tasks.metrics.dates) and the page fallback that counts posts by them.

Pure functions and small HTML snippets: nothing is started, nothing is contacted.
"""

from __future__ import annotations

import datetime as dt

import pytest

from somearkiv.models import Confidence, Metrics, MetricValue, Platform
from tasks.metrics import Window, merge_with_page, read_page_metrics
from tasks.metrics.core import STOCKHOLM
from tasks.metrics.dates import counts_in, day_bounds, decisive_instant, parse_epoch, parse_span, parse_when

try:
    from hypothesis import assume, example, given, settings
    from hypothesis import strategies as st

    HAVE_HYPOTHESIS = True
except ImportError:  # pragma: no cover - the table tests still run
    HAVE_HYPOTHESIS = False

# Saturday 28 November 2026, 23:00 in Stockholm (CET, UTC+1)
NOW = dt.datetime(2026, 11, 28, 22, 0, tzinfo=dt.UTC)
HOUR, DAY, WEEK = dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(weeks=1)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)


# ------------------------------------------------------------------------------------------------
# The parser: a table in both languages


@pytest.mark.parametrize("text,expected,precision", [
    # absolute, with a year
    ("12 nov. 2026", local(2026, 11, 12), "day"),
    ("12 nov 2026", local(2026, 11, 12), "day"),
    ("12 november 2026", local(2026, 11, 12), "day"),
    ("den 12 november 2026", local(2026, 11, 12), "day"),
    ("torsdag 12 november 2026", local(2026, 11, 12), "day"),
    ("12 Nov 2026", local(2026, 11, 12), "day"),
    ("Nov 12, 2026", local(2026, 11, 12), "day"),
    ("November 12, 2026", local(2026, 11, 12), "day"),
    ("November 12th, 2026", local(2026, 11, 12), "day"),
    ("12th of November 2026", local(2026, 11, 12), "day"),
    ("Thursday, November 12, 2026", local(2026, 11, 12), "day"),
    ("1:a maj 2026", local(2026, 5, 1), "day"),
    ("3 mars 2026", local(2026, 3, 3), "day"),
    ("3 mar. 2026", local(2026, 3, 3), "day"),
    ("March 3, 2026", local(2026, 3, 3), "day"),
    ("31 maj 2026", local(2026, 5, 31), "day"),
    ("May 31, 2026", local(2026, 5, 31), "day"),
    ("6 juni 2026", local(2026, 6, 6), "day"),
    ("6 jun 2026", local(2026, 6, 6), "day"),
    ("June 6 2026", local(2026, 6, 6), "day"),
    ("17 juli 2026", local(2026, 7, 17), "day"),
    ("Jul. 17, 2026", local(2026, 7, 17), "day"),
    ("2 aug. 2026", local(2026, 8, 2), "day"),
    ("7 sept. 2026", local(2026, 9, 7), "day"),
    ("7 sep 2026", local(2026, 9, 7), "day"),
    ("Sept 7, 2026", local(2026, 9, 7), "day"),
    ("5 okt. 2026", local(2026, 10, 5), "day"),
    ("Oct 5, 2026", local(2026, 10, 5), "day"),
    ("24 dec. 2025", local(2025, 12, 24), "day"),
    ("14 januari 2026", local(2026, 1, 14), "day"),
    ("Feb 2, 2026", local(2026, 2, 2), "day"),
    ("17 april 2026", local(2026, 4, 17), "day"),
    ("2026-11-12", local(2026, 11, 12), "day"),
    ("12.11.2026", local(2026, 11, 12), "day"),
    # absolute, with a time (Swedish local time unless an offset is given)
    ("12 november 2026 kl. 10:00", local(2026, 11, 12, 10, 0), "minute"),
    ("12 nov. 2026 kl 10.05", local(2026, 11, 12, 10, 5), "minute"),
    ("12 nov. 2026, 14:05", local(2026, 11, 12, 14, 5), "minute"),
    ("12 nov. 2026 · 14:05", local(2026, 11, 12, 14, 5), "minute"),
    ("Nov 12, 2026 at 2:05 PM", local(2026, 11, 12, 14, 5), "minute"),
    ("Thursday, November 12, 2026 at 10:00 AM", local(2026, 11, 12, 10, 0), "minute"),
    ("2:05 PM · Nov 12, 2026", local(2026, 11, 12, 14, 5), "minute"),
    ("12 nov 2026 kl 14", local(2026, 11, 12, 14, 0), "hour"),
    ("2026-11-12T10:00:00+01:00", local(2026, 11, 12, 10, 0), "second"),
    ("2026-11-12T09:00:00Z", local(2026, 11, 12, 10, 0), "second"),
    ("2026-11-12T10:00", local(2026, 11, 12, 10, 0), "minute"),
    ("2026-11-12 10:00", local(2026, 11, 12, 10, 0), "minute"),
    ("2026-11-12T09:00:00.000Z", local(2026, 11, 12, 10, 0), "second"),
    ("12 nov. 2026 10:00 CET", local(2026, 11, 12, 10, 0), "minute"),
    ("12 nov. 2026 09:00 UTC", local(2026, 11, 12, 10, 0), "minute"),
    ("１２ nov. ２０２６", local(2026, 11, 12), "day"),
    # without a year: the most recent such date not after now (28 Nov 2026)
    ("12 nov.", local(2026, 11, 12), "day"),
    ("12 nov", local(2026, 11, 12), "day"),
    ("Nov 12", local(2026, 11, 12), "day"),
    ("28 nov", local(2026, 11, 28), "day"),
    ("29 nov", local(2025, 11, 29), "day"),
    ("12 dec", local(2025, 12, 12), "day"),
    ("Dec 12", local(2025, 12, 12), "day"),
    ("29 feb", local(2024, 2, 29), "day"),
    ("12 nov. kl. 10:00", local(2026, 11, 12, 10, 0), "minute"),
    ("Nov 12 at 10:00 AM", local(2026, 11, 12, 10, 0), "minute"),
    ("Publicerad 12 nov.", local(2026, 11, 12), "day"),
    # day words and weekdays (Saturday 28 November)
    ("idag", local(2026, 11, 28), "day"),
    ("i dag", local(2026, 11, 28), "day"),
    ("Today", local(2026, 11, 28), "day"),
    ("igår", local(2026, 11, 27), "day"),
    ("i går", local(2026, 11, 27), "day"),
    ("Igår kl. 14:05", local(2026, 11, 27, 14, 5), "minute"),
    ("yesterday", local(2026, 11, 27), "day"),
    ("Yesterday at 2:05 PM", local(2026, 11, 27, 14, 5), "minute"),
    ("förrgår", local(2026, 11, 26), "day"),
    ("i förrgår", local(2026, 11, 26), "day"),
    ("tisdag", local(2026, 11, 24), "day"),
    ("i tisdags", local(2026, 11, 24), "day"),
    ("Tuesday at 10:00 AM", local(2026, 11, 24, 10, 0), "minute"),
    ("lördag", local(2026, 11, 28), "day"),
    ("i lördags", local(2026, 11, 21), "day"),
    # relative: now minus N units (elapsed time; months on the calendar)
    ("för 3 dagar sedan", NOW - 3 * DAY, "day"),
    ("3 dagar sedan", NOW - 3 * DAY, "day"),
    ("för en dag sedan", NOW - DAY, "day"),
    ("3 d", NOW - 3 * DAY, "day"),
    ("3d", NOW - 3 * DAY, "day"),
    ("3 days ago", NOW - 3 * DAY, "day"),
    ("a day ago", NOW - DAY, "day"),
    ("2 v", NOW - 2 * WEEK, "week"),
    ("2w", NOW - 2 * WEEK, "week"),
    ("för 2 veckor sedan", NOW - 2 * WEEK, "week"),
    ("2 weeks ago", NOW - 2 * WEEK, "week"),
    ("5 tim", NOW - 5 * HOUR, "hour"),
    ("5 tim sedan", NOW - 5 * HOUR, "hour"),
    ("för 5 timmar sedan", NOW - 5 * HOUR, "hour"),
    ("för en timme sedan", NOW - HOUR, "hour"),
    ("3h", NOW - 3 * HOUR, "hour"),
    ("3 h ago", NOW - 3 * HOUR, "hour"),
    ("an hour ago", NOW - HOUR, "hour"),
    ("5 min", NOW - dt.timedelta(minutes=5), "minute"),
    ("för 5 minuter sedan", NOW - dt.timedelta(minutes=5), "minute"),
    ("10m", NOW - dt.timedelta(minutes=10), "minute"),
    ("10 minutes ago", NOW - dt.timedelta(minutes=10), "minute"),
    ("för 2 månader sedan", local(2026, 9, 28, 23, 0), "month"),
    ("2 mån", local(2026, 9, 28, 23, 0), "month"),
    ("a month ago", local(2026, 10, 28, 23, 0), "month"),
    ("3mo", local(2026, 8, 28, 23, 0), "month"),
    ("för ett år sedan", local(2025, 11, 28, 23, 0), "year"),
    ("1y", local(2025, 11, 28, 23, 0), "year"),
    ("just nu", NOW, "minute"),
    ("Just now", NOW, "minute"),
    ("now", NOW, "minute"),
    ("nyss", NOW, "minute"),
    # noise around a date
    ("3 d · Redigerad", NOW - 3 * DAY, "day"),
    ("Posted 3 days ago", NOW - 3 * DAY, "day"),
    ("\u200e12\u00a0nov.\u202f2026\u200f", local(2026, 11, 12), "day"),
    ("  12   NOV.  2026 ", local(2026, 11, 12), "day"),
])
def test_parse_when_table(text, expected, precision):
    assert parse_when(text, NOW) == expected
    span = parse_span(text, NOW)
    assert span.precision == precision and span.at.tzinfo is dt.UTC
    assert span.earliest <= span.at <= span.latest


@pytest.mark.parametrize("text", [
    "", " ", "hej", "Möte 12 nov", "Vägarbete på Storgatan vecka 47–48", "vecka 47", "v. 47", "för 3 dagar",
    "om 3 dagar", "in 3 days", "12 nov 10", "kl 14", "14:05", "31 nov", "30 feb 2026", "31 nov 2026", "maj 2026",
    "11/12/2026", "2026-13-01", "2026-11-31", "12 nov 2026 kl. 25:00", "13:00 pm nov 12", "Nov 32",
    "Tack för 5 000 följare!", "4 812 följare", "1,2 tn", "Gilla", "Dela", "Svara", "12", "2026", "a day",
    "Sändningen startar 18.30.", "12 nov. 2026" * 40, "\x00\udcff", "٤ نوفمبر", "１２ nov ２０２６ ２５:００",
])
def test_parse_when_refuses_what_is_no_date(text):
    assert parse_when(text, NOW) is None


def test_parse_when_needs_an_aware_now():
    with pytest.raises(ValueError):
        parse_when("igår", dt.datetime(2026, 11, 28, 22, 0))
    for junk in (None, 42, b"12 nov", ["igår"], 3.5):
        assert parse_when(junk, NOW) is None


def test_a_date_without_time_is_the_whole_day_in_stockholm():
    span = parse_span("12 nov. 2026", NOW)
    assert (span.earliest, span.latest) == day_bounds(dt.date(2026, 11, 12))
    assert span.earliest == dt.datetime(2026, 11, 11, 23, 0, tzinfo=dt.UTC)
    assert span.latest == dt.datetime(2026, 11, 12, 22, 59, 59, 999999, tzinfo=dt.UTC)


def test_relative_bounds_are_rounded_down_as_platforms_write_them():
    span = parse_span("3 d", NOW)  # 3 to 4 days ago
    assert (span.earliest, span.at, span.latest) == (NOW - 4 * DAY, NOW - 3 * DAY, NOW - 3 * DAY)
    assert span.relative and not span.year_inferred
    assert parse_span("12 nov.", NOW).year_inferred


# ------------------------------------------------------------------------------------------------
# Relative dates near midnight and around the clock changes in Stockholm


def test_near_midnight_the_day_is_stockholms_not_utcs():
    now = dt.datetime(2026, 11, 28, 23, 30, tzinfo=dt.UTC)  # 00:30 on Sunday 29 November in Stockholm
    assert parse_when("idag", now) == local(2026, 11, 29)
    assert parse_when("igår", now) == local(2026, 11, 28)
    assert parse_when("yesterday", now) == local(2026, 11, 28)
    assert parse_when("förrgår", now) == local(2026, 11, 27)
    assert parse_when("29 nov", now) == local(2026, 11, 29)  # today in Stockholm, though not yet in UTC
    assert parse_when("söndag", now) == local(2026, 11, 29)
    assert parse_when("3 d", now) == local(2026, 11, 26, 0, 30)
    assert parse_when("1 tim", now) == local(2026, 11, 28, 23, 30)
    # and just before midnight
    before = dt.datetime(2026, 11, 28, 22, 59, tzinfo=dt.UTC)  # 23:59 on Saturday 28 November
    assert parse_when("idag", before) == local(2026, 11, 28)
    assert parse_when("igår", before) == local(2026, 11, 27)
    assert parse_when("29 nov", before) == local(2025, 11, 29)


def test_spring_forward():
    # Sunday 29 March 2026: 02:00 CET becomes 03:00 CEST, the day has 23 hours
    now = dt.datetime(2026, 3, 29, 10, 0, tzinfo=dt.UTC)  # 12:00 CEST
    start, end = day_bounds(dt.date(2026, 3, 29))
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=23) - dt.timedelta(microseconds=1)
    today = parse_span("idag", now)
    assert (today.earliest, today.latest) == (start, end)
    assert parse_when("1 d", now) == now - DAY == local(2026, 3, 28, 11, 0)  # 24 hours, not the wall clock's 12:00
    assert parse_when("igår", now) == local(2026, 3, 28)
    early = dt.datetime(2026, 3, 29, 2, 0, tzinfo=dt.UTC)  # 04:00 CEST
    assert parse_when("3 tim", early) == local(2026, 3, 29, 0, 0)  # 3 hours elapsed, 4 on the wall clock
    assert parse_when("för 1 månad sedan", now) == local(2026, 2, 28, 12, 0)  # a calendar month: the wall clock
    assert parse_when("för 1 månad sedan", dt.datetime(2026, 3, 31, 10, 0, tzinfo=dt.UTC)) == local(2026, 2, 28, 12, 0)


def test_fall_back():
    # Sunday 25 October 2026: 03:00 CEST becomes 02:00 CET, the day has 25 hours
    start, end = day_bounds(dt.date(2026, 10, 25))
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=25) - dt.timedelta(microseconds=1)
    now = dt.datetime(2026, 10, 26, 9, 0, tzinfo=dt.UTC)  # 10:00 CET on Monday
    yesterday = parse_span("igår", now)
    assert (yesterday.earliest, yesterday.latest) == (start, end)
    assert decisive_instant(yesterday, now) == start.astimezone(dt.UTC) + dt.timedelta(hours=12, minutes=30)
    assert decisive_instant(yesterday, now) == local(2026, 10, 25, 11, 30)  # not 12:00: the day had 25 hours
    assert parse_when("1 d", now) == local(2026, 10, 25, 10, 0)  # 24 hours back
    # 24 hours before 00:30 on the 26th is 01:30 on the 25th, which had 25 hours
    assert parse_when("1 d", dt.datetime(2026, 10, 25, 23, 30, tzinfo=dt.UTC)) == local(2026, 10, 25, 1, 30)
    assert parse_when("25 okt. kl. 02:30", now) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # the first 02:30


# ------------------------------------------------------------------------------------------------
# The window's edges


def test_edges_of_a_30_day_window():
    window = Window.last_30_days(NOW)  # 29 Oct 23:00 – 28 Nov 23:00 in Stockholm
    for text, counted in [("29 d", True), ("30 d", False), ("för 29 dagar sedan", True), ("30 days ago", False),
                          ("4 v", False), ("3 v", True), ("1 mån", False), ("29 okt.", False), ("30 okt.", True),
                          ("idag", True), ("just nu", True), ("29 okt. 2026 kl. 23:00", True),
                          ("29 okt. 2026 kl. 22:59", False), ("28 nov. 2026 kl. 22:59", True),
                          ("28 nov. 2026 kl. 23:01", False), ("29 nov. 2026", False),
                          ("2026-10-29T22:00:00Z", True), ("2026-10-29T21:59:59Z", False),
                          ("2026-11-28T21:59:59Z", True), ("2026-11-28T22:00:00Z", False)]:
        assert counts_in(parse_span(text, NOW), window, NOW) is counted, text


def test_today_counts_on_a_page_captured_early_in_the_morning():
    morning = dt.datetime(2026, 11, 28, 7, 0, tzinfo=dt.UTC)  # 08:00 in Stockholm
    window = Window.last_30_days(morning)
    today = parse_span("idag", morning)
    middle = today.earliest.astimezone(dt.UTC) + (today.latest - today.earliest) / 2
    assert not window.contains(middle)  # the whole day's middle is 12:00, after the capture
    assert counts_in(today, window, morning)  # but the post was on the page at 08:00
    assert decisive_instant(today, morning) == local(2026, 11, 28, 4, 0)


def test_a_calendar_month_takes_each_day_whole():
    window = Window.calendar_month_before(NOW)  # all of October 2026 in Stockholm
    assert counts_in(parse_span("1 okt. 2026", NOW), window, NOW)
    assert counts_in(parse_span("31 okt. 2026", NOW), window, NOW)
    assert not counts_in(parse_span("30 sep. 2026", NOW), window, NOW)
    assert not counts_in(parse_span("1 nov. 2026", NOW), window, NOW)


def test_epoch_attributes():
    assert parse_epoch("1763110800").at == dt.datetime(2025, 11, 14, 9, 0, tzinfo=dt.UTC)
    assert parse_epoch("1763110800000").at == dt.datetime(2025, 11, 14, 9, 0, tzinfo=dt.UTC)
    assert parse_epoch("12 nov") is None and parse_epoch("99") is None and parse_epoch(None) is None


# ------------------------------------------------------------------------------------------------
# Property tests


SV_MONTHS = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
             "november", "december"]
SV_SHORT = ["jan.", "feb.", "mars", "apr.", "maj", "juni", "juli", "aug.", "sep.", "okt.", "nov.", "dec."]
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]
EN_SHORT = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
SV_DAYS = ["måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"]
EN_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _twelve(hour: int) -> tuple[int, str]:
    return (hour % 12 or 12), ("AM" if hour < 12 else "PM")


DATED_FORMATS = {  # (format, whether the time of day is written)
    "sv-short": (lambda t: f"{t.day} {SV_SHORT[t.month - 1]} {t.year}", False),
    "sv-long": (lambda t: f"{t.day} {SV_MONTHS[t.month - 1]} {t.year}", False),
    "sv-weekday-time": (lambda t: f"{SV_DAYS[t.weekday()]} {t.day} {SV_MONTHS[t.month - 1]} {t.year} kl. {t:%H:%M}",
                        True),
    "sv-time-dots": (lambda t: f"{t.day} {SV_SHORT[t.month - 1]} {t.year} kl {t:%H.%M}", True),
    "en-short": (lambda t: f"{EN_SHORT[t.month - 1]} {t.day}, {t.year}", False),
    "en-long": (lambda t: f"{EN_MONTHS[t.month - 1]} {t.day} {t.year}", False),
    "en-day-first": (lambda t: f"{t.day} {EN_SHORT[t.month - 1]} {t.year}", False),
    "en-time": (lambda t: "{} {}, {} at {}:{:02d} {}".format(EN_MONTHS[t.month - 1], t.day, t.year,
                                                             _twelve(t.hour)[0], t.minute, _twelve(t.hour)[1]), True),
    "en-weekday": (lambda t: f"{EN_DAYS[t.weekday()]}, {EN_MONTHS[t.month - 1]} {t.day}, {t.year}", False),
    "x-style": (lambda t: "{}:{:02d} {} · {} {}, {}".format(_twelve(t.hour)[0], t.minute, _twelve(t.hour)[1],
                                                          EN_SHORT[t.month - 1], t.day, t.year), True),
    "iso-date": (lambda t: f"{t:%Y-%m-%d}", False),
    "iso-local": (lambda t: f"{t:%Y-%m-%dT%H:%M}", True),
    "iso-offset": (lambda t: t.isoformat(timespec="seconds"), True),
    "dotted": (lambda t: f"{t.day}.{t.month}.{t.year}", False),
}
YEARLESS_FORMATS = {
    "sv-short": lambda t: f"{t.day} {SV_SHORT[t.month - 1]}",
    "sv-long": lambda t: f"den {t.day} {SV_MONTHS[t.month - 1]}",
    "sv-time": lambda t: f"{t.day} {SV_SHORT[t.month - 1]} kl. {t:%H:%M}",
    "en-short": lambda t: f"{EN_SHORT[t.month - 1]} {t.day}",
    "en-long": lambda t: f"{EN_MONTHS[t.month - 1]} {t.day}",
    "en-ordinal": lambda t: f"{t.day}th of {EN_MONTHS[t.month - 1]}",
}
RELATIVE_FORMS = {  # unit: forms with {n}
    "minutes": ["för {n} minuter sedan", "{n} min", "{n} min sedan", "{n}m", "{n} minutes ago", "{n} min ago"],
    "hours": ["för {n} timmar sedan", "{n} tim", "{n} tim sedan", "{n} h", "{n}h", "{n} hours ago", "{n} hrs ago"],
    "days": ["för {n} dagar sedan", "{n} dagar sedan", "{n} d", "{n}d", "{n} days ago", "{n} d ago"],
    "weeks": ["för {n} veckor sedan", "{n} v", "{n} v sedan", "{n}w", "{n} weeks ago", "{n} w"],
}

if HAVE_HYPOTHESIS:
    instants = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2150, 12, 31),
                            timezones=st.just(STOCKHOLM))
    nows = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                        timezones=st.sampled_from([dt.UTC, STOCKHOLM, dt.timezone(dt.timedelta(hours=-5))]))

    @settings(max_examples=600, deadline=None)
    @given(instants, st.sampled_from(sorted(DATED_FORMATS)))
    def test_dated_formats_read_back_to_the_same_day(when, name):
        when = when.astimezone(dt.UTC).astimezone(STOCKHOLM).replace(second=0, microsecond=0)
        written, with_time = DATED_FORMATS[name]
        text = written(when)
        found = parse_when(text, NOW)
        assert found is not None, text
        assert found.astimezone(STOCKHOLM).date() == when.date(), text
        if with_time:
            assert found.astimezone(STOCKHOLM).strftime("%H:%M") == when.strftime("%H:%M"), text

    @settings(max_examples=400, deadline=None)
    @given(nows, st.integers(min_value=0, max_value=364), st.sampled_from(sorted(YEARLESS_FORMATS)))
    def test_dates_without_a_year_are_the_most_recent_such_day(now, back, name):
        day = now.astimezone(STOCKHOLM).date() - dt.timedelta(days=back)
        assume(not (day.month == 2 and day.day == 29))  # the last 29 February may be years back
        text = YEARLESS_FORMATS[name](dt.datetime(day.year, day.month, day.day, 10, 30))
        found = parse_when(text, now)
        assert found is not None and found.astimezone(STOCKHOLM).date() == day, text

    @settings(max_examples=600, deadline=None)
    @given(nows, st.integers(min_value=0, max_value=5000), st.sampled_from(sorted(RELATIVE_FORMS)), st.data())
    @example(dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC), 1, "days", None)
    @example(dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC), 3, "hours", None)
    def test_relative_is_now_minus_n_units(now, n, unit, data):
        form = data.draw(st.sampled_from(RELATIVE_FORMS[unit])) if data is not None else RELATIVE_FORMS[unit][0]
        found = parse_span(form.format(n=n), now)
        assert found is not None, form
        utc = now.astimezone(dt.UTC)  # elapsed time: 24 hours a day, also across a clock change
        assert found.at == utc - dt.timedelta(**{unit: n})
        assert found.relative and found.earliest == utc - dt.timedelta(**{unit: n + 1}) and found.latest == found.at

    @settings(max_examples=300, deadline=None)
    @given(nows, st.integers(min_value=0, max_value=60), st.sampled_from(["för {n} dagar sedan", "{n} d", "{n}d",
                                                                            "{n} days ago"]))
    def test_n_days_ago_counts_in_30_days_exactly_below_30(now, n, form):
        window = Window.last_30_days(now)
        assert counts_in(parse_span(form.format(n=n), now), window, now) is (n < 30)

    @settings(max_examples=300, deadline=None)
    @given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2150, 12, 31)))
    def test_a_day_is_23_24_or_25_hours_in_stockholm(day):
        start, end = day_bounds(day)
        length = end.astimezone(dt.UTC) - start.astimezone(dt.UTC) + dt.timedelta(microseconds=1)
        assert length in (dt.timedelta(hours=23), dt.timedelta(hours=24), dt.timedelta(hours=25))
        assert start.astimezone(STOCKHOLM).time() == dt.time(0) and start.astimezone(STOCKHOLM).date() == day
        span = parse_span(day.isoformat(), NOW)
        assert (span.earliest, span.latest) == (start, end)

    @settings(max_examples=300, deadline=None)
    @given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)),
           st.sampled_from(["{d} {m} {y}", "{M} {d}, {y}"]))
    def test_a_calendar_month_counts_a_date_iff_it_is_in_the_month(day, form):
        window = Window.calendar_month_before(dt.datetime(2026, 11, 28, 22, 0, tzinfo=dt.UTC))
        text = form.format(d=day.day, m=SV_SHORT[day.month - 1], M=EN_SHORT[day.month - 1], y=day.year)
        assert counts_in(parse_span(text, NOW), window, NOW) is (day.year == 2026 and day.month == 10)

    @settings(max_examples=1500, deadline=None)
    @given(st.text(max_size=200), nows)
    def test_parse_when_never_raises_on_text(text, now):
        found = parse_when(text, now)
        assert found is None or (isinstance(found, dt.datetime) and found.utcoffset() is not None)

    WORDS = ["12", "3", "0", "31", "99", "2026", "1999", "0000", "9999", "nov", "nov.", "maj", "mars", "feb", "29",
             "för", "sedan", "ago", "d", "v", "w", "tim", "h", "m", "mån", "mo", "år", "y", "kl.", "kl", "at", "14:05",
             "2:05", "pm", "am", "10.00", "25:99", "igår", "idag", "förrgår", "yesterday", "tisdag", "i", "den", "·",
             ",", ".", "-", "T", "Z", "+01:00", "2026-11-12", "2026-02-30", "12.11.2026", "en", "a", "an",
             "just", "nu", "now", "\u00a0", "\u200e", "de", "of", "th", ":e", "publicerad", "|", "•", "utc"]

    @settings(max_examples=1500, deadline=None)
    @given(st.lists(st.sampled_from(WORDS), max_size=8), st.sampled_from([" ", ""]), nows)
    def test_parse_span_never_raises_on_date_like_junk(words, joiner, now):
        found = parse_span(joiner.join(words), now)
        if found is not None:
            assert found.earliest <= found.at <= found.latest
            assert found.at.tzinfo is dt.UTC


# ------------------------------------------------------------------------------------------------
# The page: each kind of date, and reposts apart


def page(html: str, at: dt.datetime = NOW, window: Window | None = None, **kwargs) -> Metrics:
    return read_page_metrics(html, Platform.facebook, at, window, **kwargs)


def test_page_time_datetime():
    html = ('<article><time datetime="2026-11-20T10:00:00+01:00">20 nov.</time></article>'
            '<article><time datetime="2026-11-27">igår</time></article>'
            '<article><time datetime="2026-10-01T10:00:00Z">1 okt.</time></article>')
    posts = page(html).posts_last_month
    assert posts.value == 2 and posts.confidence is Confidence.low and posts.source == "page"
    assert "dates read from <time datetime> (3)" in posts.detail
    assert "only posts loaded on the page were counted" in posts.detail


def test_page_aria_label_on_the_date_link():
    html = ('<div role="feed">'
            '<div role="article"><a href="/p/1" aria-label="för 3 dagar sedan"><span>3 d</span></a><p>Hej</p></div>'
            '<div role="article"><a href="/p/2" aria-label="12 november 2026 kl. 10:00"><span>12 nov.</span></a></div>'
            '<div role="article"><a href="/p/3" aria-label="5 veckor sedan"><span>5 v</span></a></div>'
            '</div>')
    metrics = page(html)
    assert metrics.posts_last_month.value == 2
    assert "dates read from aria-label (3)" in metrics.posts_last_month.detail
    assert "resolved against the capture time 2026-11-28 23:00 Europe/Stockholm" in metrics.posts_last_month.detail
    assert metrics.reposts_last_month is None  # nothing is marked: the page does not tell reposts apart


def test_page_title_on_the_date_element():
    html = ('<article class="post"><a href="/s/1"><abbr title="Thursday, November 12, 2026 at 10:00 AM">12 Nov</abbr>'
            '</a></article><article class="post"><span title="24 okt. 2026 10:00">24 okt.</span></article>')
    posts = page(html).posts_last_month
    assert posts.value == 1 and "title (2)" in posts.detail


@pytest.mark.parametrize("dates,expected", [
    (["3 d", "2 v", "5 tim", "12 nov.", "igår", "30 okt."], 6),
    (["3 days ago", "2w", "5h", "Nov 12", "yesterday", "Oct 30"], 6),
    (["för 3 dagar sedan", "för 2 veckor sedan", "för 5 timmar sedan", "just nu"], 4),
    (["29 okt.", "5 v", "1 mån", "30 d", "24 okt. 2026", "Oct 24"], 0),
])
def test_page_text_only(dates, expected):
    html = "".join(f'<article><header><span class="author">Perstorps kommun</span> <a href="/p/{i}">{d}</a>'
                   f'</header><p>Välkommen till julmarknaden på lördag!</p></article>' for i, d in enumerate(dates))
    posts = page(html).posts_last_month
    assert posts.value == expected
    assert f"of {len(dates)} dated own posts" in posts.detail and "visible text" in posts.detail


def test_page_text_in_a_span_and_a_date_in_the_post_body():
    # the header's date is the post's, not the meeting day in the text
    html = ('<div class="post"><div class="meta"><span>Perstorps kommun</span><span>2 d</span></div>'
            '<p>Välkommen på möte <span>1 okt.</span></p></div>')
    assert page(html).posts_last_month.value == 1


def test_page_mixed_with_reposts():
    html = """
    <main>
      <div role="article">
        <div><strong><a href="/perstorp">Perstorps kommun</a></strong> delade ett <a href="/p/9">inlägg</a>.</div>
        <a href="/p/1" aria-label="2 dagar sedan">2 d</a>
        <div role="article"><a href="/regionskane">Region Skåne</a> <a href="/p/0">12 okt.</a><p>Vaccin</p></div>
        <div role="button" aria-label="Dela">Dela</div>
      </div>
      <div role="article">
        <a href="/p/2"><span>igår</span></a><p>Vi har delat ut priser till årets föreningar.</p>
        <div role="button" aria-label="Dela">Dela</div><button aria-label="Repost">Repost</button>
      </div>
      <article>
        <div class="status__prepend"><span><bdi>Perstorp</bdi> boostade</span></div>
        <div class="status"><a href="/@region/1"><time datetime="2026-11-10T10:00:00.000Z">10 nov.</time></a>
          <button class="status__action-bar__button" aria-label="Boosta">Boost</button></div>
      </article>
      <article data-testid="tweet">
        <span data-testid="socialContext">Perstorp reposted</span>
        <a href="/s/1"><time datetime="2026-10-01T10:00:00.000Z">Oct 1</time></a>
        <div role="button" data-testid="retweet" aria-label="5 reposts. Repost"></div>
      </article>
      <article class="post reblog"><a href="/p/5">3 d</a></article>
      <div role="article"><span>Reposted by Perstorp</span><a href="/p/6">5h</a></div>
      <article><a href="/p/7">3 d</a><span class="share-count">12 delningar</span></article>
    </main>"""
    metrics = page(html)
    assert metrics.posts_last_month.value == 2  # igår and the last 3 d: "Dela" and "Repost" buttons mark nothing
    assert metrics.reposts_last_month.value == 4  # delade (2 d), boostade (10 nov), reblog (3 d), reposted by (5h)
    assert metrics.reposts_last_month.source == "page"
    assert metrics.reposts_last_month.confidence is Confidence.low
    assert "5 posts marked as shared/boosted/reposted counted apart" in metrics.posts_last_month.detail
    assert "4 of 5 dated posts marked as shared" in metrics.reposts_last_month.detail  # 1 Oct is outside


@pytest.mark.parametrize("marker", [
    '<p class="header">Perstorps kommun shared a post.</p>',
    '<p class="header">Perstorps kommun delade Region Skånes inlägg.</p>',
    '<p class="header">Perstorps kommun har delat en länk.</p>',
    '<span>Perstorps kommun reposted this</span>',
    '<span>Boostad av Perstorp</span>',
    '<span>Retweeted by Perstorp</span>',
    '<span aria-label="Perstorp boostade"></span>',
    '<div class="is-reposted"></div>',
    '<i class="retweeted"></i>',
])
def test_page_repost_markers(marker):
    html = f'<article>{marker}<a href="/p/1">3 d</a></article><article><a href="/p/2">2 d</a></article>'
    metrics = page(html)
    assert (metrics.posts_last_month.value, metrics.reposts_last_month.value) == (1, 1), marker


def test_page_repost_class_on_the_post_element():
    html = ('<div class="status__wrapper status__wrapper-reblog" role="article"><a href="/p/1">3 d</a></div>'
            '<div role="article" class="feed-shared-update-v2"><a href="/p/2">3 d</a></div>'  # LinkedIn: every post
            '<article class="post share"><a href="/p/3">3 d</a></article>')
    metrics = page(html)
    assert (metrics.posts_last_month.value, metrics.reposts_last_month.value) == (1, 2)
    assert "class 'status__wrapper-reblog'" in metrics.reposts_last_month.detail


def test_page_marked_reposts_without_a_date():
    metrics = page('<article><span>Perstorp boostade</span></article><article><a href="/p/1">3 d</a></article>')
    assert metrics.posts_last_month.value == 1
    assert "1 post marked as shared/boosted/reposted counted apart" in metrics.posts_last_month.detail
    assert metrics.reposts_last_month.value is None
    assert metrics.reposts_last_month.unavailable == (
        "unavailable: the page marks 1 shared posts but shows no dates for them")


@pytest.mark.parametrize("text", [
    "Vi har delat ut priser till årets föreningar.", "Tack till alla som delade!", "Dela", "Share", "Boost", "Repost",
    "5 reposts", "12 delningar", "Dela gärna inlägget!",
])
def test_page_post_text_and_buttons_are_no_repost_markers(text):
    html = f'<article><a href="/p/1">3 d</a><p>{text}</p><button>{text}</button></article>'
    metrics = page(html)
    assert metrics.posts_last_month.value == 1 and metrics.reposts_last_month is None, text


def test_page_a_feed_wrapped_in_an_article_and_posts_with_comments():
    html = ('<article class="feed">'
            '<div role="article"><a href="/p/1">igår</a>'
            '  <div role="article" aria-label="Kommentar"><a href="/c/1">1 tim</a></div>'
            '  <div role="article" aria-label="Kommentar"><a href="/c/2">2 tim</a></div></div>'
            '<div role="article"><a href="/p/2">3 d</a></div>'
            '</article>')
    posts = page(html).posts_last_month
    assert posts.value == 2 and "of 2 dated own posts" in posts.detail  # the comments are not posts


def test_page_data_utime_and_undated_posts():
    html = ('<article><abbr data-utime="1763110800">14 nov. 2025</abbr></article>'  # a year ago
            '<article><abbr data-utime="1795860000">Nov 28</abbr></article>'  # 28 Nov 2026 10:00 UTC
            '<article><p>Inget datum här</p></article>')
    posts = page(html).posts_last_month
    assert posts.value == 1
    assert "data-utime (2)" in posts.detail and "1 post without a readable date not counted" in posts.detail


def test_page_posts_without_any_readable_date_are_unknown_not_zero():
    posts = page('<article><p>Hej</p></article><article><span>vecka 47</span></article>').posts_last_month
    assert posts.value is None
    assert posts.unavailable == "unavailable: the page shows no dated posts (2 posts without a readable date)"


def test_page_only_reposts_dated_gives_zero_own_posts():
    metrics = page('<article><span>Perstorp boostade</span><a href="/p/1">2 d</a></article>')
    assert metrics.posts_last_month.value == 0 and metrics.reposts_last_month.value == 1


def test_page_relative_dates_use_the_capture_time():
    read_later = NOW + 10 * DAY
    html = '<article><a href="/p/1">29 d</a></article><article><a href="/p/2">5 d</a></article>'
    window = Window.last_30_days(NOW)
    assert page(html, read_later, window, captured_at=NOW).posts_last_month.value == 2
    assert page(html, NOW, window).posts_last_month.value == 2
    # resolved against the later reading time instead, "5 d" would fall after the window's end
    assert page(html, read_later, window).posts_last_month.value == 1


def test_page_today_on_an_early_capture_and_the_note_when_the_page_is_short():
    morning = dt.datetime(2026, 11, 28, 7, 0, tzinfo=dt.UTC)
    posts = page('<article><a href="/p/1">idag</a></article>', morning).posts_last_month
    assert posts.value == 1 and "so there may be more" in posts.detail
    assert "counts when most of its span is in the window" in posts.detail


def test_page_broken_markup_still_reads_dates():
    html = '<article><div><a href="/p/1">igår<article><span>3 d'
    assert page(html).posts_last_month.value in (1, 2)
    assert page("<article><a>igår</a></article></div></span></article>").posts_last_month.value == 1
    for junk in ("<article>" * 500 + "3 d", "<a aria-label='12 nov'>", "<time datetime='x'>", "\x00<article>",
                 "<article title='" + "9" * 10000 + "'>"):
        page(junk)


def test_counters_outside_posts_are_still_read():
    html = ('<ul><li><strong>4 812</strong> <span>följare</span></li></ul>'
            '<div role="article"><p>Tack för 5 000 följare!</p><a>3 d</a></div>')
    metrics = page(html)
    assert metrics.followers.value == 4812 and metrics.posts_last_month.value == 1


# ------------------------------------------------------------------------------------------------
# Merging with the API


def _value(value: int | None, source: str, why: str | None = None) -> MetricValue:
    return MetricValue(value=value, source=source, read_at=NOW, unavailable=why)


def _metrics(posts: MetricValue, reposts: MetricValue | None) -> Metrics:
    window = Window.last_30_days(NOW)
    return Metrics(followers=posts, posts_last_month=posts, reposts_last_month=reposts, window_start=window.start,
                   window_end=window.end)


def test_merge_takes_the_page_reposts_only_beside_the_page_posts():
    from_page = page('<article><span>Perstorp boostade</span><a>2 d</a></article><article><a>3 d</a></article>')
    failed = _metrics(_value(None, "api:mastodon", "unavailable: 401"), _value(None, "api:mastodon",
                                                                                 "unavailable: 401"))
    merged = merge_with_page(failed, from_page)
    assert merged.posts_last_month.value == 1 and merged.reposts_last_month.value == 1
    assert merged.reposts_last_month.source == "page" and "API unavailable: 401" in merged.reposts_last_month.detail
    answered = _metrics(_value(7, "api:facebook"), None)  # Graph: posts, reposts not told apart
    merged = merge_with_page(answered, from_page)
    assert merged.posts_last_month.value == 7 and merged.reposts_last_month is None
    no_marks = page('<article><a>3 d</a></article>')
    assert merge_with_page(failed, no_marks).reposts_last_month.unavailable == "unavailable: 401"
