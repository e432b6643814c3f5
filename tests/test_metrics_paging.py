"""Paging that is complete for the window (P4): read until the order proves nothing more can fall in it.

The window is half-open, [start, end). YouTube is sorted by upload and LinkedIn by creation but
both are counted by publication, so they read a further ``order_lag`` back; Bluesky is sorted by
its AppView's sortAt, which a back-dated post or a pin on top must not mistake for the window's
edge. Everything talks to the local double (tests/api_doubles.py) on 127.0.0.1 only.
"""

from __future__ import annotations

import datetime as dt

import pytest

from somearkiv.models import Confidence, Metrics, Platform
from tasks.metrics import Window, core, read_metrics
from tasks.metrics.bluesky import BlueskyAdapter
from tasks.metrics.core import REACHED_START, TIMELINE_ENDED, Item, tally
from tasks.metrics.linkedin import LinkedInAdapter
from tasks.metrics.youtube import YouTubeAdapter
from tests import api_doubles
from tests.api_doubles import ApiDouble, Post
from tests.factories import account

ACCOUNTS = {
    "bluesky": dict(platform=Platform.bluesky, handle="perstorp.bsky.social",
                    url="https://bsky.app/profile/perstorp.bsky.social"),
    "youtube": dict(platform=Platform.youtube, handle="@perstorpskommun", url="https://www.youtube.com/@perstorpskommun"),
    "linkedin": dict(platform=Platform.linkedin, handle="perstorps-kommun",
                     url="https://www.linkedin.com/company/perstorps-kommun/", api_id=api_doubles.LINKEDIN["id"]),
    "mastodon": dict(platform=Platform.mastodon, handle="@perstorp@mastodon.nu", url="https://mastodon.nu/@perstorp"),
}
FEED = {"bluesky": "getAuthorFeed", "youtube": "playlistItems", "linkedin": "/rest/posts", "mastodon": "/statuses"}
THREE = ("bluesky", "youtube", "linkedin")

# A capture time on a whole second: every double writes times to the second at least, so the
# window's edges are exact in what the adapters read back.
NOW = dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=dt.UTC)
WINDOW = Window.last_30_days(NOW)


def days(n: float, now: dt.datetime = NOW) -> dt.datetime:
    return now - dt.timedelta(days=n)


def read(double: ApiDouble, name: str, window: Window = WINDOW) -> Metrics:
    acc = account(id=f"perstorp-{name}", **ACCOUNTS[name])
    return read_metrics(acc, window, env=double.env(), sleep=lambda _s: None)


@pytest.fixture
def double():
    with ApiDouble(page_size=1) as server:
        yield server


@pytest.fixture
def double5():
    with ApiDouble(page_size=5) as server:
        yield server


# ------------------------------------------------------------------------------------------------
# The window: [start, end)


def test_window_is_half_open():
    assert WINDOW.contains(WINDOW.start)
    assert not WINDOW.contains(WINDOW.end)
    assert WINDOW.contains(WINDOW.end - dt.timedelta(microseconds=1))
    assert not WINDOW.contains(WINDOW.start - dt.timedelta(microseconds=1))


@pytest.mark.parametrize("now,start,end", [
    # March: 1 March 00:00 CET is 28 Feb 23:00 UTC; 1 April 00:00 CEST is 31 March 22:00 UTC
    (dt.datetime(2026, 4, 2, 8, tzinfo=dt.UTC), dt.datetime(2026, 2, 28, 23, tzinfo=dt.UTC),
     dt.datetime(2026, 3, 31, 22, tzinfo=dt.UTC)),
    # October: 1 Oct 00:00 CEST is 30 Sep 22:00 UTC; 1 Nov 00:00 CET is 31 Oct 23:00 UTC
    (dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC), dt.datetime(2026, 9, 30, 22, tzinfo=dt.UTC),
     dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC)),
])
def test_calendar_month_is_half_open_between_swedish_midnights(now, start, end):
    window = Window.calendar_month_before(now)
    assert (window.start, window.end) == (start, end)
    assert window.contains(start) and not window.contains(end)
    assert window.contains(start + dt.timedelta(minutes=90))  # 23:30 UTC the day before: 00:30/01:30 in Stockholm
    assert not window.contains(start - dt.timedelta(minutes=30))  # 23:30 in Stockholm the last day before
    # the next month starts where this one ends: a post at the stroke of midnight is in exactly one
    following = Window.calendar_month_before(end + dt.timedelta(days=40))
    assert following.start == end


# ------------------------------------------------------------------------------------------------
# tally, without a server


def test_item_order_defaults_to_the_date_counted():
    at = days(3)
    assert Item(at).order_at == at
    assert Item(at, order_at=days(40)).order_at == days(40)
    assert Item(None, order_at=days(40)).order_at == days(40)  # a private video still marks the reading's progress


def test_tally_with_an_order_lag_reads_past_the_first_page_before_the_start():
    fetched = []

    def pages():
        # (upload, publication): the 12th video was uploaded 35 days ago and published 3 days ago
        for upload, published in ((2, 2), (29, 29), (31, 31), (35, 3), (60, 60), (130, 130), (200, 200)):
            fetched.append(upload)
            yield [Item(days(published), order_at=days(upload))]

    without_lag = tally(pages(), WINDOW)
    assert (without_lag.posts, fetched) == (2, [2, 29, 31])  # the old rule: stopped at 31, missed the premiere
    fetched.clear()
    counted = tally(pages(), WINDOW, order_lag=dt.timedelta(days=90))
    assert counted.posts == 3 and fetched == [2, 29, 31, 35, 60, 130]  # 130 days < start − 90 days: stop
    assert counted.complete and counted.stopped == REACHED_START
    assert (counted.pages, counted.items) == (6, 6)


def test_tally_skips_pins_for_the_edge_and_counts_an_entry_once():
    pin = Item(days(400), pinned=True, key="at://p/1")
    recent_pin = Item(days(3), pinned=True, key="at://p/2")
    pages = [[pin], [Item(days(1), key="at://p/3")], [recent_pin, Item(days(2), key="at://p/4")],
             [Item(days(3), key="at://p/2")], [Item(days(31), key="at://p/5")], [Item(days(50), key="at://p/6")]]
    counted = tally(iter(pages), WINDOW)
    assert counted.posts == 3  # p/3, p/4 and p/2 (pinned, and again in its place: once)
    assert counted.pages == 5 and counted.stopped == REACHED_START  # not stopped by the 400-day-old pin
    assert counted.oldest == days(31)


def test_tally_says_why_it_stopped():
    ended = tally(iter([[Item(days(1))], [Item(days(2))]]), WINDOW)
    assert ended.complete and ended.stopped == TIMELINE_ENDED and ended.items == 2
    capped = tally(iter([[Item(days(n))] for n in (1, 2, 3, 4, 5)]), WINDOW, max_pages=2)
    assert not capped.complete and capped.posts == 2
    assert capped.stopped == "page cap (2 pages) hit — count incomplete"


def test_tally_counts_the_start_but_not_the_end():
    page = [Item(WINDOW.end), Item(WINDOW.end - dt.timedelta(seconds=1)), Item(WINDOW.start),
            Item(WINDOW.start - dt.timedelta(seconds=1))]
    assert tally(iter([page]), WINDOW).posts == 2


def test_tally_that_sees_a_longer_lag_than_it_relies_on_is_not_complete():
    lag = dt.timedelta(days=90)
    page = [Item(days(5), order_at=days(100)), Item(days(200), order_at=days(200))]  # published 95 days after upload
    counted = tally(iter([page]), WINDOW, order_lag=lag)
    assert counted.posts == 1 and counted.reached_start and counted.lag_exceeded and not counted.complete
    assert counted.lag_seen == dt.timedelta(days=95)


# ------------------------------------------------------------------------------------------------
# Borders and time zones, through every adapter


@pytest.mark.parametrize("name", THREE)
def test_a_post_at_the_start_counts_and_one_at_the_capture_time_does_not(double, name):
    double.add(name, Post(NOW), Post(NOW - dt.timedelta(seconds=1)), Post(WINDOW.start),
               Post(WINDOW.start - dt.timedelta(seconds=1)), Post(days(200)))
    metrics = read(double, name)
    assert metrics.posts_last_month.value == 2, metrics.posts_last_month
    assert metrics.posts_last_month.confidence is Confidence.high
    assert "(end not included)" in metrics.posts_last_month.detail


@pytest.mark.parametrize("name", [*THREE, "mastodon"])
@pytest.mark.parametrize("capture", [dt.datetime(2026, 4, 2, 8, tzinfo=dt.UTC),  # March (CET, then CEST)
                                     dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)])  # October (CEST, then CET)
def test_calendar_month_in_swedish_time(double, name, capture):
    window = Window.calendar_month_before(capture)
    start, end = window.start, window.end
    double.add(name,
               Post(start + dt.timedelta(minutes=90)),  # 23:30 UTC the day before: 00:30/01:30 on the 1st in Stockholm
               Post(start - dt.timedelta(minutes=30)),  # 23:30 in Stockholm on the last day of the month before
               Post(end - dt.timedelta(minutes=30)),  # 23:30 in Stockholm on the month's last day
               Post(end),  # 00:00 on the 1st of the next month in Stockholm: not this month
               Post(end + dt.timedelta(hours=1)), Post(start - dt.timedelta(days=150)))
    metrics = read(double, name, window)
    assert metrics.window == "calendar-month" and metrics.posts_last_month.value == 2, metrics.posts_last_month
    assert metrics.posts_last_month.confidence is Confidence.high


# ------------------------------------------------------------------------------------------------
# YouTube: the uploads playlist is in upload order, counted by publication


def test_youtube_premiere_uploaded_before_the_window_is_counted_from_a_later_page(double5, monkeypatch):
    videos = [Post(days(n)) for n in (1, 2, 4, 6, 8, 11, 14, 17, 20, 24, 28)]  # 11 published in the window
    old = [Post(days(n)) for n in (31, 33, 38, 45, 60, 150, 160)]
    premiere = Post(days(3), listed_at=days(50))  # uploaded 50 days ago, premiered 3 days ago
    double5.add("youtube", *videos, *old, premiere)
    metrics = read(double5, "youtube")
    assert metrics.posts_last_month.value == 12, metrics.posts_last_month
    assert metrics.posts_last_month.confidence is Confidence.high
    feed = double5.hits("playlistItems")
    assert all(r.query["part"] == "snippet,contentDetails" for r in feed)
    # pages of five by upload: 1-8, 11-24, 28-45 (the first to reach before the start), then the premiere
    # (uploaded 50 days ago), 60, 150, 160: 150 is more than 90 days before the start, so that page is the last
    assert len(feed) == 4, [r.raw for r in feed]
    detail = metrics.posts_last_month.detail
    assert "4 pages and 19 items read" in detail
    assert ("paging stopped: reached the window's start (by upload date: read back to 2026-07-31T10:00Z, "
            "90 days before the start)") in detail
    # the rule that was replaced stopped at the third page and said 11, with high confidence
    monkeypatch.setattr(YouTubeAdapter, "order_lag", dt.timedelta(0))
    assert read(double5, "youtube").posts_last_month.value == 11


def test_youtube_private_videos_still_mark_how_far_back_the_reading_is(double):
    double.add("youtube", Post(days(2)), Post(days(150), "private"), Post(days(160)), Post(days(170)))
    metrics = read(double, "youtube")
    assert metrics.posts_last_month.value == 1
    assert len(double.hits("playlistItems")) == 2  # the private video, uploaded 150 days ago, ended the reading


def test_youtube_video_published_longer_after_upload_than_the_lag_is_at_least(double):
    double.add("youtube", Post(days(2)), Post(days(5), listed_at=days(100)), Post(days(200)))
    metrics = read(double, "youtube")
    posts = metrics.posts_last_month
    assert posts.value == 2 and posts.confidence is Confidence.medium
    assert "published 95 days after its upload date, more than the 90 days" in posts.detail
    assert "at least" in posts.detail


# ------------------------------------------------------------------------------------------------
# Bluesky: pins and back-dated posts


def test_bluesky_old_pinned_post_first_in_the_feed_does_not_end_the_reading(double):
    double.bluesky_pins_unasked = True  # an AppView that sends the pin without being asked
    double.add("bluesky", Post(days(400), pinned=True), *(Post(days(n)) for n in (1, 5, 9, 31, 40)))
    metrics = read(double, "bluesky")
    assert metrics.posts_last_month.value == 3, metrics.posts_last_month
    assert metrics.posts_last_month.confidence is Confidence.high
    first = double.hits("getAuthorFeed")[0]
    assert "includePins" not in first.query  # the adapter does not ask for it
    assert len(double.hits("getAuthorFeed")) == 4  # pin and 1, then 5, 9, 31: the 31-day-old post ends it


def test_bluesky_recent_pinned_post_counts_once(double):
    double.bluesky_pins_unasked = True
    double.add("bluesky", *(Post(days(n)) for n in (1, 2, 3, 31)), Post(days(4), pinned=True))
    # the pin comes first, and again in its place on the fourth page
    assert read(double, "bluesky").posts_last_month.value == 4


@pytest.mark.parametrize("order", ["sortAt", "indexedAt"])
def test_bluesky_back_dated_posts_neither_count_nor_end_the_reading(double, order):
    double.bluesky_sort = order  # by indexedAt, the back-dated posts come first
    back_dated = [Post(days(n), listed_at=days(0.5)) for n in (400, 401, 402)]  # imported: written years ago
    double.add("bluesky", *back_dated, *(Post(days(n)) for n in (1, 10, 20, 31, 45)))
    metrics = read(double, "bluesky")
    assert metrics.posts_last_month.value == 3, metrics.posts_last_month
    assert metrics.posts_last_month.confidence is Confidence.high


def test_bluesky_post_dated_after_it_was_indexed_counts_when_it_was_indexed(double):
    # written down as 20 days ago but seen by the AppView 35 days ago: it existed before the window
    double.add("bluesky", Post(days(20), listed_at=days(35)), Post(days(2)), Post(days(60)))
    # a client clock an hour ahead: "written" after the capture, indexed inside the window
    double.add("bluesky", Post(NOW + dt.timedelta(hours=1), listed_at=days(1)))
    assert read(double, "bluesky").posts_last_month.value == 2


# ------------------------------------------------------------------------------------------------
# LinkedIn: sorted by creation, counted by publication


def test_linkedin_post_created_before_and_published_in_the_window_is_counted(double, monkeypatch):
    double.add("linkedin", *(Post(days(n)) for n in (1, 12, 25, 31, 40)),
               Post(days(20), listed_at=days(45)),  # scheduled 45 days ago, published 20 days ago
               Post(days(29), listed_at=days(29), kind="private"),  # a draft: not counted
               Post(days(150)), Post(days(170)))
    metrics = read(double, "linkedin")
    assert metrics.posts_last_month.value == 4, metrics.posts_last_month
    assert metrics.posts_last_month.confidence is Confidence.high
    assert "reached the window's start (by creation date: read back to" in metrics.posts_last_month.detail
    assert len(double.hits("/rest/posts")) == 8  # down to the post created 150 days ago, not the 170-day one
    monkeypatch.setattr(LinkedInAdapter, "order_lag", dt.timedelta(0))
    assert read(double, "linkedin").posts_last_month.value == 3  # the old rule missed the scheduled one


# ------------------------------------------------------------------------------------------------
# The page cap: an incomplete count says so


@pytest.mark.parametrize("name", THREE)
def test_page_cap_is_at_least_and_medium_confidence(double, name, monkeypatch):
    monkeypatch.setattr(core, "MAX_PAGES", 3)
    double.add(name, *(Post(days(n)) for n in range(1, 11)))
    metrics = read(double, name)
    posts = metrics.posts_last_month
    assert posts.value == 3 and posts.confidence is Confidence.medium
    assert "paging stopped: page cap (3 pages) hit — count incomplete" in posts.detail
    assert "at least" in posts.detail
    assert len(double.hits(FEED[name])) == 3
    if metrics.reposts_last_month is not None:
        assert metrics.reposts_last_month.confidence is Confidence.medium
        assert "at least" in metrics.reposts_last_month.detail


def test_the_record_says_pages_items_and_why(double5):
    double5.add("bluesky", *(Post(days(n)) for n in (1, 2, 3, 4, 5, 6, 7)))
    detail = read(double5, "bluesky").posts_last_month.detail
    assert "2 pages and 7 items read; paging stopped: the timeline ended" in detail
    double5.add("bluesky", *(Post(days(n)) for n in (40, 50, 60, 70)))
    detail = read(double5, "bluesky").posts_last_month.detail
    assert detail.endswith("2 pages and 10 items read; paging stopped: reached the window's start")
    assert BlueskyAdapter.order_lag == dt.timedelta(0)
