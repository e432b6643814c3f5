"""Followers and posts last month (P4): each API adapter against the local double, and the page fallback.

Everything talks to 127.0.0.1 only (tests/api_doubles.py); no platform is ever contacted.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import re
import time
from pathlib import Path

import pytest

from somearkiv.log import configure_logging
from somearkiv.models import Confidence, Metrics, Platform
from tasks.metrics import ADAPTERS, Window, parse_count, read_metrics, read_page_metrics
from tasks.metrics.base import HttpClient, Item, Unavailable, retry_wait, tally
from tasks.metrics.mastodon import MastodonAdapter, next_link
from tests import api_doubles
from tests.api_doubles import TOKENS, ApiDouble, Post
from tests.factories import account
from tests.metrics_support import LogLines, Sleeps, days, double, now  # noqa: F401 (fixtures)

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    HAVE_HYPOTHESIS = True
except ImportError:  # pragma: no cover - the fuzz test below still runs
    HAVE_HYPOTHESIS = False

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "pages"

ACCOUNTS = {
    "mastodon": dict(platform=Platform.mastodon, handle="@perstorp@mastodon.nu", url="https://mastodon.nu/@perstorp"),
    "bluesky": dict(platform=Platform.bluesky, handle="perstorp.bsky.social",
                    url="https://bsky.app/profile/perstorp.bsky.social"),
    "youtube": dict(platform=Platform.youtube, handle="@perstorpskommun", url="https://www.youtube.com/@perstorpskommun"),
    "facebook": dict(platform=Platform.facebook, handle="perstorpskommun", url="https://www.facebook.com/perstorpskommun"),
    "instagram": dict(platform=Platform.instagram, handle="perstorpskommun",
                      url="https://www.instagram.com/perstorpskommun/", api_id=api_doubles.INSTAGRAM["id"]),
    "linkedin": dict(platform=Platform.linkedin, handle="perstorps-kommun",
                     url="https://www.linkedin.com/company/perstorps-kommun/", api_id=api_doubles.LINKEDIN["id"]),
    "x": dict(platform=Platform.x, handle="@perstorp", url="https://x.com/perstorp"),
}
FEED = {"mastodon": "/statuses", "bluesky": "getAuthorFeed", "youtube": "playlistItems",
        "facebook": "/published_posts", "instagram": "/media", "linkedin": "/rest/posts", "x": "/tweets"}
PROFILE = {"mastodon": "/accounts/lookup", "bluesky": "getProfile", "youtube": "/channels",
           "facebook": f"/v21.0/{api_doubles.FACEBOOK['id']}", "instagram": f"/v21.0/{api_doubles.INSTAGRAM['id']}",
           "linkedin": "/networkSizes", "x": "/users/by/username"}
FOLLOWERS = {"mastodon": 356, "bluesky": 1234, "youtube": 1200, "facebook": 4812, "instagram": 2143,
             "linkedin": 987, "x": 3100}
REPOSTS_APART = {"mastodon", "bluesky", "linkedin", "x"}


def acc(name: str, **overrides):
    values = {**ACCOUNTS[name], **overrides}
    return account(id=f"perstorp-{name}", **values)




def read(double: ApiDouble, name: str, now: dt.datetime, *, sleep=None, window=None, env=None, **account_overrides
         ) -> Metrics:
    if name == "facebook":  # the Graph page is addressed by its id in the tests' request counts
        account_overrides.setdefault("handle", api_doubles.FACEBOOK["id"])
    return read_metrics(acc(name, **account_overrides), window or Window.last_30_days(now),
                        env=env if env is not None else double.env(),
                        sleep=sleep if sleep is not None else Sleeps())


# ------------------------------------------------------------------------------------------------
# Window


def test_window_last_30_days_ends_at_capture_time(now):
    window = Window.last_30_days(now)
    assert window.end == now and window.start == now - dt.timedelta(days=30) and window.kind == "30d"
    assert window.start.tzinfo is dt.UTC


def test_window_calendar_month_is_the_previous_swedish_month():
    window = Window.calendar_month_before(dt.datetime(2026, 11, 28, 22, 0, tzinfo=dt.UTC))
    assert window.kind == "calendar-month"
    assert window.start == dt.datetime(2026, 9, 30, 22, 0, tzinfo=dt.UTC)  # 1 Oct 00:00 CEST
    assert window.end == dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.UTC)  # 1 Nov 00:00 CET, not included
    january = Window.calendar_month_before(dt.datetime(2027, 1, 5, 12, tzinfo=dt.UTC))
    assert january.start == dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)
    # 00:30 on 1 March in Stockholm is still 28 February in UTC: the month before is February.
    march = Window.calendar_month_before(dt.datetime(2026, 2, 28, 23, 30, tzinfo=dt.UTC))
    assert march.start == dt.datetime(2026, 1, 31, 23, 0, tzinfo=dt.UTC)
    assert march.end == dt.datetime(2026, 2, 28, 23, 0, tzinfo=dt.UTC)


def test_window_refuses_naive_times():
    with pytest.raises(ValueError):
        Window(dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2))
    with pytest.raises(ValueError):
        Window.calendar_month_before(dt.datetime(2026, 1, 1))


# ------------------------------------------------------------------------------------------------
# The counting loop and the HTTP helper, without a server


def test_tally_stops_requesting_at_the_window_start(now):
    window = Window.last_30_days(now)
    fetched = []

    def pages():
        for n in (2, 29, 31, 40, 50):
            fetched.append(n)
            yield [Item(days(now, n))]

    counted = tally(pages(), window)
    assert counted.posts == 2 and counted.reached_start and fetched == [2, 29, 31]


def test_tally_counts_reposts_apart_and_skips_unpublished_and_future(now):
    window = Window.last_30_days(now)
    page = [Item(now + dt.timedelta(hours=1)), Item(days(now, 1)), Item(days(now, 2), repost=True),
            Item(days(now, 3), counted=False), Item(None), Item(days(now, 40))]
    counted = tally(iter([page]), window)
    assert (counted.posts, counted.reposts) == (1, 1)


def test_tally_that_gives_up_says_so(now):
    window = Window.last_30_days(now)
    counted = tally(iter([[Item(days(now, n))] for n in (1, 2, 3, 4, 5)]), window, max_pages=2)
    assert counted.posts == 2 and not counted.reached_start


def test_an_adapter_bug_costs_the_number_not_the_capture(double, now, monkeypatch):
    def broken(self, http, account):
        raise KeyError("followers_count")

    monkeypatch.setattr(MastodonAdapter, "profile", broken)
    metrics = read(double, "mastodon", now)
    assert metrics.followers.value is None
    assert metrics.followers.unavailable == "unavailable: error reading the API (KeyError)"


def test_retry_wait_reads_every_platforms_header():
    t0 = 1_800_000_000.0
    assert retry_wait({"Retry-After": "3"}, t0) == 3
    assert retry_wait({"Retry-After": email.utils.formatdate(t0 + 120, usegmt=True)}, t0) == pytest.approx(120)
    assert retry_wait({"x-rate-limit-reset": str(int(t0) + 900)}, t0) == 900  # X: epoch seconds
    assert retry_wait({"ratelimit-reset": str(int(t0) + 5)}, t0) == 5  # Bluesky: epoch seconds
    iso = dt.datetime.fromtimestamp(t0 + 60, dt.UTC).isoformat().replace("+00:00", "Z")
    assert retry_wait({"X-RateLimit-Reset": iso}, t0) == pytest.approx(60)  # Mastodon: ISO 8601
    assert retry_wait({}, t0) is None and retry_wait({"Retry-After": "soon"}, t0) is None


def test_client_refuses_links_to_another_host():
    client = HttpClient(base="http://127.0.0.1:9/api", headers={"Authorization": "Bearer x"})
    with pytest.raises(Unavailable, match="another host"):
        client.get_json("https://evil.example/steal")  # refused before any connection is made
    assert client.requests == 0


def test_mastodon_link_header_and_default_base():
    header = ('<https://mastodon.nu/api/v1/accounts/1/statuses?max_id=7>; rel="next", '
              '<https://mastodon.nu/api/v1/accounts/1/statuses?min_id=9>; rel="prev"')
    assert next_link(header) == "https://mastodon.nu/api/v1/accounts/1/statuses?max_id=7"
    assert next_link('<https://x/?min_id=9>; rel="prev"') is None
    assert MastodonAdapter({}).base_url(acc("mastodon")) == "https://mastodon.nu"
    by_url = acc("mastodon", handle="Perstorps kommun", url="https://social.example.se/@perstorp")
    assert MastodonAdapter({}).base_url(by_url) == "https://social.example.se"


# ------------------------------------------------------------------------------------------------
# Every adapter against the double


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
def test_paging_stops_at_the_30_day_edge(double, now, name):
    double.add(name, *(Post(days(now, n)) for n in (2, 29, 31, 40, 50)))
    metrics = read(double, name, now)
    assert metrics.followers.value == FOLLOWERS[name]
    assert metrics.followers.source == f"api:{name}" and metrics.followers.confidence is Confidence.high
    assert metrics.posts_last_month.value == 2, metrics.posts_last_month
    assert metrics.posts_last_month.source == f"api:{name}"
    assert metrics.posts_last_month.confidence is Confidence.high
    assert metrics.window_end == now and metrics.window == "30d"
    feed = double.hits(FEED[name])
    if name in ("x", "facebook"):
        # these APIs are asked for the window only (start_time / since): the older posts never come back
        assert len(feed) == 2
        sent = feed[0].query.get("start_time") or feed[0].query.get("since")
        assert sent is not None
    elif name in ("youtube", "linkedin"):
        # sorted by upload / creation but counted by publication: paging goes on until the order is
        # 90 days before the start (a scheduled post is created long before it is published), so all
        # five pages of one post are read (tests/test_metrics_paging.py has the posts this finds)
        assert len(feed) == 5, [r.raw for r in feed]
        assert "the timeline ended" in metrics.posts_last_month.detail
    else:
        # pages of one post: 2 d, 29 d, 31 d; the page with the 31-day-old post is the last one asked for
        assert len(feed) == 3, [r.raw for r in feed]


SCENARIOS = {
    # platform: (kinds of the posts in the window, expected posts, expected reposts)
    "mastodon": (["post", "reply", "repost", "private"], 2, 1),
    "bluesky": (["post", "reply", "quote", "repost"], 3, 1),
    "x": (["post", "reply", "quote", "repost"], 3, 1),
    "linkedin": (["post", "quote", "repost", "private"], 2, 1),
    "youtube": (["post", "post", "private"], 2, None),
    "facebook": (["post", "post", "private"], 2, None),
    "instagram": (["post", "post"], 2, None),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_reposts_apart_replies_count_and_later_posts_ignored(double, now, name):
    kinds, posts, reposts = SCENARIOS[name]
    double.add(name, *(Post(days(now, i + 1), kind) for i, kind in enumerate(kinds)))
    double.add(name, Post(now + dt.timedelta(hours=2)), Post(now + dt.timedelta(minutes=5)))  # after the capture
    double.add(name, Post(days(now, 45)))
    metrics = read(double, name, now)
    assert metrics.posts_last_month.value == posts, metrics.posts_last_month
    if name in REPOSTS_APART:
        assert metrics.reposts_last_month is not None and metrics.reposts_last_month.value == reposts
    else:
        assert metrics.reposts_last_month is None  # the API does not tell them apart: not claimed


def test_total_posts_where_the_api_gives_it(double, now):
    assert read(double, "mastodon", now).total_posts.value == 97
    assert read(double, "bluesky", now).total_posts.value == 210
    assert read(double, "youtube", now).total_posts.value == 214
    assert read(double, "instagram", now).total_posts.value == 312
    assert read(double, "x", now).total_posts.value == 5000
    assert read(double, "facebook", now).total_posts is None


def test_calendar_month_window(double, now):
    window = Window.calendar_month_before(now)
    double.add("mastodon", Post(window.start + dt.timedelta(hours=1)), Post(window.end - dt.timedelta(hours=1)),
               Post(window.end + dt.timedelta(hours=1)), Post(window.start - dt.timedelta(hours=1)),
               Post(window.start - dt.timedelta(days=20)))
    metrics = read(double, "mastodon", now, window=window)
    assert metrics.window == "calendar-month" and metrics.posts_last_month.value == 2
    assert metrics.window_start == window.start and metrics.window_end == window.end


def test_empty_timeline_is_zero_posts_not_unknown(double, now):
    metrics = read(double, "bluesky", now)
    assert metrics.posts_last_month.value == 0 and metrics.posts_last_month.unavailable is None


def test_graph_next_links_lose_the_echoed_token(double, now):
    double.add("facebook", *(Post(days(now, n)) for n in (1, 2, 3, 4)))
    double.add("instagram", *(Post(days(now, n)) for n in (1, 2, 3, 4, 40)))
    assert read(double, "facebook", now).posts_last_month.value == 4
    assert read(double, "instagram", now).posts_last_month.value == 4
    assert len(double.hits("/published_posts")) == 4 and len(double.hits("/media")) == 5
    for request in double.requests:
        assert TOKENS["meta"] not in request.raw  # the token only ever travelled in the header
        assert request.headers["authorization"] == f"Bearer {TOKENS['meta']}"


def test_youtube_key_travels_in_a_header_only(double, now):
    read(double, "youtube", now)
    assert double.requests and all(TOKENS["youtube"] not in r.raw for r in double.requests)
    assert all(r.headers["x-goog-api-key"] == TOKENS["youtube"] for r in double.requests)


def test_linkedin_sends_version_headers(double, now):
    read(double, "linkedin", now)
    assert all(r.headers.get("linkedin-version") and r.headers.get("x-restli-protocol-version") == "2.0.0"
               for r in double.requests)
    assert double.hits("/rest/posts")[0].query["sortBy"] == "CREATED"


def test_youtube_hidden_subscriber_count_is_unknown(double, now, monkeypatch):
    monkeypatch.setitem(api_doubles.YOUTUBE, "hiddenSubscriberCount", True)
    metrics = read(double, "youtube", now)
    assert metrics.followers.value is None and "hides its subscriber count" in metrics.followers.unavailable


# ------------------------------------------------------------------------------------------------
# Failures: unknown is None with a reason, never 0


@pytest.mark.parametrize("name,variable", [("x", "SOMEARKIV_X_TOKEN"),
                                           ("linkedin", "SOMEARKIV_LINKEDIN_TOKEN")])
def test_401_is_unavailable_not_zero(double, now, name, variable):
    metrics = read(double, name, now, env=double.env(**{variable: "expired-token-value"}))
    for value in (metrics.followers, metrics.posts_last_month, metrics.reposts_last_month, metrics.total_posts):
        assert value.value is None and value.unavailable.startswith("unavailable: 401 unauthorized")
        assert value.source == f"api:{name}" and value.confidence is None


def test_graph_and_youtube_invalid_credentials_say_why(double, now):
    graph = read(double, "facebook", now, env=double.env(SOMEARKIV_FACEBOOK_TOKEN="bad-token"))
    assert graph.followers.value is None
    assert graph.followers.unavailable == ("unavailable: 400 bad request: "
                                           "Invalid OAuth access token - Cannot parse access token")
    youtube = read(double, "youtube", now, env=double.env(SOMEARKIV_YOUTUBE_TOKEN="bad-key"))
    assert youtube.followers.value is None
    assert youtube.followers.unavailable.startswith("unavailable: 400 bad request: API key not valid")


def test_unknown_account_is_404(double, now):
    mastodon = read(double, "mastodon", now, handle="@nobody@mastodon.nu")
    assert mastodon.followers.unavailable == "unavailable: 404 not found: Record not found"
    x = read(double, "x", now, handle="@nobody")
    assert x.followers.value is None and "Could not find user with username" in x.followers.unavailable
    youtube = read(double, "youtube", now, handle="@nobody")
    assert youtube.followers.unavailable == "unavailable: 404 no channel found for @nobody"


def test_429_with_short_retry_after_is_waited_out_once(double, now):
    double.add("x", Post(days(now, 1)))
    double.queue("/users/by/username", 429, {"title": "Too Many Requests", "detail": "Too Many Requests",
                                             "type": "about:blank", "status": 429}, {"Retry-After": "2"})
    sleeps = Sleeps()
    metrics = read(double, "x", now, sleep=sleeps)
    assert sleeps == [2.0]
    assert metrics.followers.value == 3100 and metrics.posts_last_month.value == 1
    assert len(double.hits("/users/by/username")) == 2


@pytest.mark.parametrize("name,headers", [
    ("x", lambda t: {"x-rate-limit-reset": str(int(t) + 3)}),
    ("bluesky", lambda t: {"ratelimit-reset": str(int(t) + 3)}),
    ("mastodon", lambda t: {"X-RateLimit-Reset": dt.datetime.fromtimestamp(t + 3, dt.UTC).isoformat()}),
])
def test_429_with_short_platform_reset_is_waited_out_once(double, now, name, headers):
    double.queue(FEED[name], 429, {"error": "RateLimitExceeded"}, headers(time.time()))
    double.add(name, Post(days(now, 1)))
    sleeps = Sleeps()
    metrics = read(double, name, now, sleep=sleeps)
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 4
    assert metrics.posts_last_month.value == 1


def test_429_with_long_reset_is_unavailable_without_waiting(double, now):
    double.queue("/users/by/username", 429, {"title": "Too Many Requests", "status": 429},
                 {"x-rate-limit-reset": str(int(time.time()) + 3600), "x-rate-limit-remaining": "0"})
    sleeps = Sleeps()
    started = time.monotonic()
    metrics = read(double, "x", now, sleep=sleeps)
    assert time.monotonic() - started < 5 and sleeps == []
    assert re.fullmatch(r"unavailable: 429 rate limited \(retry after 3[56]\d\d s\): Too Many Requests",
                        metrics.followers.unavailable)
    assert metrics.followers.value is None and metrics.posts_last_month.value is None
    assert len(double.hits("/users/by/username")) == 1


def test_429_twice_is_retried_only_once(double, now):
    double.queue("/accounts/lookup", 429, {"error": "Too many requests"}, {"Retry-After": "1"}, times=2)
    sleeps = Sleeps()
    metrics = read(double, "mastodon", now, sleep=sleeps)
    assert sleeps == [1.0] and len(double.hits("/accounts/lookup")) == 2
    assert metrics.followers.unavailable == "unavailable: 429 rate limited (retry after 1 s): Too many requests"


def test_a_failing_timeline_keeps_the_follower_count(double, now):
    double.queue("/rest/posts", 403, {"status": 403, "serviceErrorCode": 100,
                                      "message": "Not enough permissions to access: posts.FINDER-author"})
    metrics = read(double, "linkedin", now)
    assert metrics.followers.value == 987
    assert metrics.posts_last_month.value is None
    assert metrics.posts_last_month.unavailable.startswith("unavailable: 403 forbidden")
    assert metrics.reposts_last_month.value is None


def test_server_errors_and_garbage_are_unavailable(double, now):
    double.queue("getProfile", 502, None)
    assert read(double, "bluesky", now).followers.unavailable == "unavailable: 502 server error"
    double.queue("/channels", 200, "not an object")
    assert read(double, "youtube", now).followers.value is None


def test_no_credential_no_reader_no_request(double, now):
    for name, variable in (("x", "SOMEARKIV_X_TOKEN"), ("youtube", "SOMEARKIV_YOUTUBE_TOKEN"),
                           ("facebook", "SOMEARKIV_FACEBOOK_TOKEN"),
                           ("linkedin", "SOMEARKIV_LINKEDIN_TOKEN")):
        env = {k: v for k, v in double.env().items() if k != variable}
        metrics = read(double, name, now, env=env)
        assert metrics.followers.value is None and metrics.posts_last_month.value is None
        assert metrics.followers.unavailable == f"unavailable: no API credential ({variable} is not set)"
    assert "no Instagram user id" in read(double, "instagram", now, api_id=None).followers.unavailable
    assert double.requests == []
    blog = read_metrics(account(id="perstorp-blogg", platform=Platform.blog, handle="blogg",
                                url="https://blogg.perstorp.se/"), Window.last_30_days(now), env={})
    assert blog.followers.value is None and blog.followers.unavailable == "unavailable: no API reader for blog"
    assert Platform.blog not in ADAPTERS


def test_public_apis_need_no_credential(double, now):
    env = {k: v for k, v in double.env().items() if k.endswith("_API_BASE")}
    assert read(double, "mastodon", now, env=env).followers.value == 356
    assert read(double, "bluesky", now, env=env).followers.value == 1234


def test_page_fills_in_what_the_api_could_not_give(double, now):
    html = (SAMPLES / "youtube" / "index.html").read_text(encoding="utf-8")
    env = {k: v for k, v in double.env().items() if k != "SOMEARKIV_YOUTUBE_TOKEN"}
    metrics = read_metrics(acc("youtube"), Window.last_30_days(now), env=env, page_html=html)
    assert metrics.followers.value == 1200 and metrics.followers.source == "page"
    assert metrics.followers.confidence is Confidence.low
    assert "API unavailable: no API credential (SOMEARKIV_YOUTUBE_TOKEN is not set)" in metrics.followers.detail
    # the API's numbers win when it answered
    double.add("youtube", Post(days(now, 3)))
    answered = read_metrics(acc("youtube"), Window.last_30_days(now), env=double.env(), page_html=html)
    assert answered.followers.source == "api:youtube" and answered.posts_last_month.value == 1


# ------------------------------------------------------------------------------------------------
# Secrets never leave the headers


def test_credentials_never_appear_in_results_errors_or_logs(double, now, caplog, capfd):
    configure_logging("json")
    collect = LogLines()
    logging.getLogger("somearkiv").addHandler(collect)
    caplog.set_level(logging.DEBUG)
    wrong = {"SOMEARKIV_X_TOKEN": "wrong-x-S3CRET-9911", "SOMEARKIV_YOUTUBE_TOKEN": "wrong-yt-S3CRET-9922",
             "SOMEARKIV_FACEBOOK_TOKEN": "wrong-meta-S3CRET-9933", "SOMEARKIV_INSTAGRAM_TOKEN": "wrong-meta-S3CRET-9933",
             "SOMEARKIV_LINKEDIN_TOKEN": "wrong-li-S3CRET-9944"}
    secrets = [*TOKENS.values(), *wrong.values()]
    texts: list[str] = []
    try:
        for name in ACCOUNTS:
            double.add(name, *(Post(days(now, n)) for n in (1, 2, 3, 40)))
        # with valid tokens (Graph echoes its token into next links) ...
        for name in ACCOUNTS:
            texts.append(read(double, name, now).model_dump_json())
        # ... and with wrong ones that the double echoes back in its error messages
        double.echo_token_in_errors = True
        for name in ACCOUNTS:
            metrics = read(double, name, now, env=double.env(**wrong))
            texts.append(metrics.model_dump_json())
            if name not in ("mastodon", "bluesky"):
                assert metrics.followers.value is None and "[redacted]" in metrics.followers.unavailable
        # the exception itself, raised straight from the client
        bad = wrong["SOMEARKIV_X_TOKEN"]
        client = HttpClient(base=f"{double.url}/2", headers={"Authorization": f"Bearer {bad}"}, secrets=[bad])
        with pytest.raises(Unavailable) as caught:
            client.get_json("users/by/username/perstorp")
        texts += [str(caught.value), repr(caught.value), caught.value.reason]
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None or caught.value.__suppress_context__  # no chained URL error
        closed = HttpClient(base="http://127.0.0.1:9", secrets=["never-sent-S3CRET"])  # the discard port: refused
        with pytest.raises(Unavailable, match="network error") as refused:
            closed.get_json("x")
        assert refused.value.__suppress_context__
    finally:
        logging.getLogger("somearkiv").removeHandler(collect)
    out, err = capfd.readouterr()
    texts += [caplog.text, out, err, *collect.lines]
    assert any("metrics.read" in line for line in collect.lines)  # something was logged, and it was clean
    for text in texts:
        for secret in secrets:
            assert secret not in text


# ------------------------------------------------------------------------------------------------
# The page fallback


AT = dt.datetime(2026, 11, 28, 22, 0, tzinfo=dt.UTC)


def page(name: str) -> str:
    return (SAMPLES / name / "index.html").read_text(encoding="utf-8")


def test_page_facebook_sample():
    metrics = read_page_metrics(page("facebook"), Platform.facebook, AT)
    assert metrics.followers.value == 4812 and metrics.followers.source == "page"
    assert metrics.followers.confidence is Confidence.low
    assert metrics.followers.detail == "visible counter: 4 812 följare"
    # dated posts on the page: 20, 12 and 3 November are inside 29 Oct - 28 Nov; 24 Oct and older are not
    assert metrics.posts_last_month.value == 3 and metrics.posts_last_month.confidence is Confidence.low
    assert "only posts loaded on the page were counted" in metrics.posts_last_month.detail
    assert metrics.total_posts is None and metrics.reposts_last_month is None


def test_page_instagram_sample():
    metrics = read_page_metrics(page("instagram"), Platform.instagram, AT)
    assert metrics.followers.value == 2143  # not "187 följer" (following)
    assert metrics.total_posts.value == 312 and metrics.total_posts.detail == "visible counter: 312 inlägg"


def test_page_youtube_sample_reads_tn_as_thousands():
    metrics = read_page_metrics(page("youtube"), Platform.youtube, AT)
    assert metrics.followers.value == 1200 and metrics.followers.detail == "visible counter: 1,2 tn prenumeranter"
    assert metrics.followers.confidence is Confidence.low
    assert metrics.total_posts.value == 214


def test_page_mastodon_sample_with_another_window():
    window = Window(dt.datetime(2026, 10, 20, tzinfo=dt.UTC), dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    metrics = read_page_metrics(page("mastodon"), Platform.mastodon, AT, window)
    assert metrics.followers.value == 356 and metrics.total_posts.value == 97
    assert metrics.posts_last_month.value == 4  # 20 Nov, 12 Nov, 3 Nov, 24 Oct


def test_page_that_does_not_reach_back_says_the_count_may_be_low():
    html = '<p>12 följare</p><article><time datetime="2026-11-27T10:00:00+01:00">igår</time></article>'
    metrics = read_page_metrics(html, Platform.facebook, AT)
    assert metrics.posts_last_month.value == 1 and "so there may be more" in metrics.posts_last_month.detail


def test_page_without_dates_or_counters_is_unknown_not_zero():
    metrics = read_page_metrics("<html><body><p>Välkommen</p></body></html>", Platform.facebook, AT)
    assert metrics.followers.value is None
    assert metrics.followers.unavailable == "unavailable: the page shows no follower count"
    assert metrics.posts_last_month.value is None
    assert metrics.posts_last_month.unavailable == "unavailable: the page shows no dated posts"


def test_page_structured_data_is_medium_confidence():
    json_ld = json.dumps({"@context": "https://schema.org", "@type": "ProfilePage", "mainEntity": {
        "@type": "Organization", "name": "Perstorps kommun", "interactionStatistic": [
            {"@type": "InteractionCounter", "interactionType": "https://schema.org/FollowAction",
             "userInteractionCount": 4812},
            {"@type": "InteractionCounter", "interactionType": {"@type": "WriteAction"},
             "userInteractionCount": "97"}]}})
    html = (f'<html><head><script type="application/ld+json">{json_ld}</script></head>'
            '<body><p>1,2 tn följare</p></body></html>')
    metrics = read_page_metrics(html, Platform.mastodon, AT)
    assert metrics.followers.value == 4812 and metrics.followers.confidence is Confidence.medium
    assert metrics.total_posts.value == 97 and metrics.total_posts.confidence is Confidence.medium


@pytest.mark.parametrize("content,value,confidence", [
    ("Perstorps kommun. 4 812 följare · 4 530 gillar", 4812, Confidence.medium),
    ("2,143 Followers, 187 Following, 312 Posts - See Instagram photos", 2143, Confidence.medium),
    ("1.2K Followers, 10 Following", 1200, Confidence.low),
    ("1,2 mn följare", 1_200_000, Confidence.low),
])
def test_page_og_description(content, value, confidence):
    html = f'<html><head><meta property="og:description" content="{content}"></head><body></body></html>'
    metrics = read_page_metrics(html, Platform.instagram, AT)
    assert metrics.followers.value == value and metrics.followers.confidence is confidence
    assert metrics.followers.detail.startswith("og:description: ")


def test_page_ignores_hidden_text_and_counters_inside_posts():
    html = ("<script>var x = '9 999 följare';</script><div hidden>8 888 följare</div>"
            "<article><p>Tack för 5 000 följare!</p></article><ul><li>100</li><li>200 följare</li></ul>")
    assert read_page_metrics(html, Platform.facebook, AT).followers.value == 200  # not 100 200


@pytest.mark.parametrize("separator", [" ", "\u00a0", "\u202f"])
def test_page_thousands_separators(separator):
    html = f"<strong>1{separator}234{separator}567</strong> <span>followers</span>"
    assert read_page_metrics(html, Platform.x, AT).followers.value == 1_234_567


# ------------------------------------------------------------------------------------------------
# parse_count


@pytest.mark.parametrize("text,expected", [
    ("4 812 följare", 4812), ("4 812 followers", 4812), ("4\u00a0812", 4812), ("4\u202f812", 4812),
    ("1,2 tn prenumeranter", 1200), ("1,2 tn", 1200), ("12,3 tn", 12_300), ("123 tn", 123_000),
    ("1,2 mn", 1_200_000), ("1,2 mn prenumeranter", 1_200_000), ("3 mn", 3_000_000), ("5 tusen", 5000),
    ("1.2K followers", 1200), ("1.2k", 1200), ("1.2M", 1_200_000), ("2.5B", 2_500_000_000),
    ("3 456 inlägg", 3456), ("214 videor", 214), ("1 234 567", 1_234_567), ("1,234,567", 1_234_567),
    ("1,234 followers", 1234), ("97", 97), ("0 följare", 0), ("1,25 tn", 1250),
    ("", None), ("följare", None), ("1,5", None), ("abc 1.5 then 42", 42), ("5 kommentarer", 5),
])
def test_parse_count(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize("junk", [None, 42, b"4 812", ["4 812"], "9" * 5000, "1" + "\u00a0000" * 400,
                                  "\x00\udcff", "1,2 tn" * 10000, "٤٨١٢ متابع", "𝟒𝟖𝟏𝟐"])
def test_parse_count_never_raises_on_junk(junk):
    result = parse_count(junk)
    assert result is None or (isinstance(result, int) and result >= 0)


def test_parse_count_fuzz_never_raises():
    rng = random.Random(20261128)
    alphabet = "0123456789 ,.\u00a0\u202f\u2009kKmMbtnusefölja\n\t-+e"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        result = parse_count(text)
        assert result is None or (isinstance(result, int) and result >= 0)


if HAVE_HYPOTHESIS:

    @settings(max_examples=400, deadline=None)
    @given(st.text())
    def test_parse_count_never_raises_hypothesis(text):
        result = parse_count(text)
        assert result is None or (isinstance(result, int) and result >= 0)

    @settings(max_examples=300, deadline=None)
    @given(st.integers(min_value=0, max_value=10**12), st.sampled_from([" ", "\u00a0", "\u202f", ","]))
    def test_parse_count_reads_grouped_numbers_back(number, separator):
        text = f"{number:,}".replace(",", separator)
        assert parse_count(f"{text} följare") == number

    @settings(max_examples=200, deadline=None)
    @given(st.integers(min_value=10, max_value=999), st.sampled_from([("tn", 1000), ("K", 1000), ("mn", 10**6)]))
    def test_parse_count_reads_rounded_counters(tenths, suffix):
        label, factor = suffix
        text = f"{tenths // 10},{tenths % 10} {label}" if label != "K" else f"{tenths // 10}.{tenths % 10}{label}"
        assert parse_count(text) == tenths * factor // 10
