"""TikTok (Display API v2) and Threads (Threads API) metrics against the local double, and Threads in the register.

Everything talks to 127.0.0.1 only (tests/api_doubles.py); no platform is ever contacted.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from somearkiv.log import configure_logging
from somearkiv.models import Confidence, Metrics, Platform
from somearkiv.settings import PROJECT_ROOT
from tasks.metrics import ADAPTERS, Window, read_metrics
from tasks.metrics.core import MAX_PAGES, HttpClient, Unavailable
from tasks.metrics.threads import ThreadsAdapter, followers_total, threads_user, username_of
from tasks.metrics.tiktok import TikTokAdapter, create_time
from tasks.register import read_register
from tests import api_doubles
from tests.api_doubles import TOKENS, ApiDouble, Post
from tests.factories import account
from tests.metrics_support import LogLines, Sleeps, days, double, now  # noqa: F401 (fixtures)

ACCOUNTS = {
    "tiktok": dict(platform=Platform.tiktok, handle="@perstorpskommun", url="https://www.tiktok.com/@perstorpskommun"),
    "threads": dict(platform=Platform.threads, handle="@perstorpskommun",
                    url="https://www.threads.net/@perstorpskommun"),
}
FEED = {"tiktok": "/video/list/", "threads": "/threads"}
PROFILE = {"tiktok": "/user/info/", "threads": "/v1.0/me"}
FOLLOWERS = {"tiktok": 2450, "threads": 812}
TOKEN_ENV = {"tiktok": "SOMEARKIV_TIKTOK_TOKEN", "threads": "SOMEARKIV_THREADS_TOKEN"}


def acc(name: str, **overrides):
    return account(id=f"perstorp-{name}", **{**ACCOUNTS[name], **overrides})




def read(double: ApiDouble, name: str, now: dt.datetime, *, sleep=None, window=None, env=None, **overrides
         ) -> Metrics:
    return read_metrics(acc(name, **overrides), window or Window.last_30_days(now),
                        env=env if env is not None else double.env(), sleep=sleep if sleep is not None else Sleeps())


def feed(double: ApiDouble, name: str) -> list[api_doubles.Recorded]:
    return [r for r in double.hits(FEED[name]) if not r.path.endswith("threads_insights")]


def queue_feed(double: ApiDouble, name: str, status: int, body, headers=None, times: int = 1) -> None:
    """Queue answers for the timeline only: '/threads' is also in '/threads_insights', so that is answered first."""
    if name == "threads":
        double.queue("/threads_insights", 200, {"data": [{"name": "followers_count", "period": "day",
                                                          "total_value": {"value": FOLLOWERS["threads"]}}]})
    double.queue(FEED[name], status, body, headers, times)


# ------------------------------------------------------------------------------------------------
# The table, the register, the defaults


def test_adapters_table_has_tiktok_and_threads():
    assert ADAPTERS[Platform.tiktok] is TikTokAdapter and ADAPTERS[Platform.threads] is ThreadsAdapter
    assert TikTokAdapter.platform is Platform.tiktok and ThreadsAdapter.platform is Platform.threads
    assert TikTokAdapter({}).base_url(acc("tiktok")) == "https://open.tiktokapis.com/v2"
    assert ThreadsAdapter({}).base_url(acc("threads")) == "https://graph.threads.net/v1.0"
    assert (TikTokAdapter({}).base_env, TikTokAdapter({}).credential_env()) == ("SOMEARKIV_TIKTOK_API_BASE",
                                                                              "SOMEARKIV_TIKTOK_TOKEN")
    assert (ThreadsAdapter({}).base_env, ThreadsAdapter({}).credential_env()) == ("SOMEARKIV_THREADS_API_BASE",
                                                                                "SOMEARKIV_THREADS_TOKEN")


REGISTER = """\
register_version: 1
municipality: Perstorps kommun
accounts:
  - id: perstorp-threads
    platform: threads
    handle: "@perstorpskommun"
    name: Perstorps kommun
    url: https://www.threads.net/@perstorpskommun
    department: Kommunledningsförvaltningen
    responsible: Kommunikatör
    substitute: Kommunsekreterare
    purpose: Information
    opened: 2024-09-02
  - id: perstorp-tiktok
    platform: tiktok
    handle: "@perstorpskommun"
    name: Perstorps kommun
    url: https://www.tiktok.com/@perstorpskommun
    department: Kommunledningsförvaltningen
    responsible: Kommunikatör
    substitute: Kommunsekreterare
    purpose: Information
    opened: 2024-04-15
"""


def test_register_accepts_threads_and_tiktok(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text(REGISTER, encoding="utf-8")
    register = read_register(path)
    assert [a.platform for a in register.accounts] == [Platform.threads, Platform.tiktok]
    assert Platform("threads") is Platform.threads


def test_commented_examples_in_the_shipped_register_are_valid(tmp_path):
    text = (PROJECT_ROOT / "accounts.example.yaml").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("  # - id: perstorp-tiktok"))
    uncommented = lines[:start] + [line.replace("  # ", "  ", 1) for line in lines[start:]]
    path = tmp_path / "accounts.yaml"
    path.write_text("".join(uncommented), encoding="utf-8")
    register = read_register(path)
    assert {a.id: a.platform for a in register.accounts}.items() >= {
        "perstorp-tiktok": Platform.tiktok, "perstorp-threads": Platform.threads}.items()


def test_small_readers():
    assert create_time(1_764_000_000) == dt.datetime(2025, 11, 24, 16, 0, tzinfo=dt.UTC)
    assert create_time("1764000000") is None and create_time(True) is None and create_time(None) is None
    assert followers_total({"data": [{"name": "views", "total_value": {"value": 5}},
                                     {"name": "followers_count", "total_value": {"value": 812}}]}) == 812
    assert followers_total({"data": [{"name": "followers_count", "values": [{"value": 3}, {"value": 4}]}]}) == 4
    assert followers_total({"data": []}) is None and followers_total("junk") is None
    assert username_of(acc("threads")) == "perstorpskommun"
    assert username_of(acc("threads", handle="Perstorps kommun",
                           url="https://www.threads.com/@Perstorp.Kommun")) == "perstorp.kommun"
    assert username_of(acc("threads", handle="Perstorps kommun", url="https://www.threads.net/")) is None


def test_post_json_refuses_another_host_before_connecting():
    client = HttpClient(base="http://127.0.0.1:9/v2", headers={"Authorization": "Bearer x"})
    with pytest.raises(Unavailable, match="another host"):
        client.post_json("https://evil.example/v2/video/list/", {"max_count": 20})
    assert client.requests == 0


# ------------------------------------------------------------------------------------------------
# Followers and posts in the window


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
def test_followers_and_posts_in_the_window_with_edge_items(double, now, name):
    window = Window.last_30_days(now)
    double.add(name, Post(now + dt.timedelta(minutes=5)),  # after the capture: not counted
               Post(now - dt.timedelta(seconds=2)),  # just before the capture
               Post(days(now, 3)),
               Post(days(now, 4), "private"),  # not published: not listed
               Post(window.start + dt.timedelta(seconds=2)),  # just inside the window
               Post(window.start - dt.timedelta(seconds=2)),  # just outside
               Post(days(now, 45)), Post(days(now, 60)))
    metrics = read(double, name, now, window=window)
    assert metrics.followers.value == FOLLOWERS[name] and metrics.followers.source == f"api:{name}"
    assert metrics.followers.confidence is Confidence.high
    assert metrics.posts_last_month.value == 3, metrics.posts_last_month
    assert metrics.posts_last_month.confidence is Confidence.high
    assert metrics.window_start == window.start and metrics.window_end == now
    requests = feed(double, name)
    if name == "tiktok":
        # newest first, one video a page: the page with the first video before the window is the last asked for
        assert len(requests) == 5, [r.body for r in requests]
        assert metrics.total_posts.value == 88 and metrics.reposts_last_month is None
    else:
        # asked for the window only (since): the older threads never come back
        assert len(requests) == 4 and requests[0].query["since"] == str(int(window.start.timestamp()))
        assert "until" not in requests[0].query  # the window ends now: Threads refuses an `until` in the future
        assert metrics.reposts_last_month.value == 0 and metrics.total_posts is None


def test_tiktok_lists_videos_with_post_and_a_cursor(double, now):
    double.add("tiktok", *(Post(days(now, n)) for n in (1, 2, 3, 40)))
    metrics = read(double, "tiktok", now)
    assert metrics.posts_last_month.value == 3
    assert re.search(r"\b4 pages\b", metrics.posts_last_month.detail)
    assert "Perstorps kommun" in metrics.followers.detail  # whose token it was shows in the record
    profile = double.hits("/user/info/")[0]
    assert profile.method == "GET" and "follower_count" in profile.query["fields"].split(",")
    lists = double.hits("/video/list/")
    assert [r.method for r in lists] == ["POST"] * 4
    assert all(r.query["fields"] == "id,create_time" and r.body["max_count"] == 20 for r in lists)
    assert "cursor" not in lists[0].body
    cursors = [r.body["cursor"] for r in lists[1:]]  # each one the previous answer's (Unix ms), going back in time
    assert cursors == sorted(cursors, reverse=True) and cursors[0] == int(days(now, 1).timestamp()) * 1000
    for request in double.requests:
        assert TOKENS["tiktok"] not in request.raw and json.dumps(request.body).find(TOKENS["tiktok"]) < 0
        assert request.headers["authorization"] == f"Bearer {TOKENS['tiktok']}"


def test_threads_reposts_apart_quotes_count_replies_not_listed(double, now):
    double.add("threads", *(Post(days(now, i + 1), kind) for i, kind in
                            enumerate(["post", "image", "quote", "repost", "repost", "reply", "carousel"])))
    double.add("threads", Post(now + dt.timedelta(hours=1)), Post(days(now, 45), "repost"))
    metrics = read(double, "threads", now)
    assert metrics.posts_last_month.value == 4, metrics.posts_last_month  # post, image, quote, carousel
    assert metrics.reposts_last_month.value == 2
    assert "replies are not in this API list" in metrics.posts_last_month.detail


def test_threads_next_links_lose_the_echoed_token(double, now):
    double.add("threads", *(Post(days(now, n)) for n in (1, 2, 3, 4)))
    assert read(double, "threads", now).posts_last_month.value == 4
    threads = feed(double, "threads")
    assert len(threads) == 4 and [r.query.get("after") for r in threads] == [None, "QVFI1", "QVFI2", "QVFI3"]
    for request in double.requests:
        assert TOKENS["threads"] not in request.raw and "access_token" not in request.query
        assert request.headers["authorization"] == f"Bearer {TOKENS['threads']}"


def test_threads_full_page_with_only_cursors_is_followed_by_after(double, now):
    page = {"data": [{"id": f"18{i}", "media_type": "TEXT_POST", "timestamp": days(now, 1).strftime(
        "%Y-%m-%dT%H:%M:%S+0000")} for i in range(100)], "paging": {"cursors": {"before": "QVFI0", "after": "QVFI100"}}}
    queue_feed(double, "threads", 200, page)
    metrics = read(double, "threads", now)
    assert metrics.posts_last_month.value == 100
    threads = feed(double, "threads")
    assert [r.query.get("after") for r in threads] == [None, "QVFI100"]  # the second answer, empty, ends it
    # a page that is not full and has no next link is the last one
    double.requests.clear()
    queue_feed(double, "threads", 200, {"data": page["data"][:3], "paging": page["paging"]})
    assert read(double, "threads", now).posts_last_month.value == 3 and len(feed(double, "threads")) == 1


def test_calendar_month_window(double, now):
    window = Window.calendar_month_before(now)
    for name in ACCOUNTS:
        double.add(name, Post(window.start + dt.timedelta(hours=1)), Post(window.end - dt.timedelta(hours=1)),
                   Post(window.end + dt.timedelta(hours=1)), Post(window.start - dt.timedelta(hours=1)),
                   Post(window.start - dt.timedelta(days=20)))
        metrics = read(double, name, now, window=window)
        assert metrics.window == "calendar-month" and metrics.posts_last_month.value == 2, name
    until = feed(double, "threads")[0].query["until"]
    assert until == str(int(window.end.timestamp()) + 1)  # a month in the past: `until` narrows the answer


def test_threads_reads_me_unless_the_register_gives_the_user_id(double, now, monkeypatch):
    assert threads_user(acc("threads")) == "me"
    assert threads_user(SimpleNamespace(api_id=" 25123456789012345 ")) == "25123456789012345"
    read(double, "threads", now)
    assert double.hits("/v1.0/me")[0].query["fields"] == "id,username,name"
    double.requests.clear()
    monkeypatch.setattr("tasks.metrics.threads.threads_user", lambda account: api_doubles.THREADS["id"])
    assert read(double, "threads", now).followers.value == 812
    assert double.hits(f"/v1.0/{api_doubles.THREADS['id']}") and not double.hits("/v1.0/me")


def test_empty_timelines_are_zero_not_unknown(double, now):
    for name in ACCOUNTS:
        metrics = read(double, name, now)
        assert metrics.posts_last_month.value == 0 and metrics.posts_last_month.unavailable is None


# ------------------------------------------------------------------------------------------------
# Failures: unknown is None with the platform's reason, never 0


def test_bad_token_is_unavailable_with_the_platforms_reason(double, now):
    tiktok = read(double, "tiktok", now, env=double.env(SOMEARKIV_TIKTOK_TOKEN="act.expired-token-value"))
    for value in (tiktok.followers, tiktok.posts_last_month, tiktok.total_posts):
        assert value.value is None and value.source == "api:tiktok" and value.confidence is None
        assert value.unavailable.startswith("unavailable: 401 unauthorized")
        assert value.unavailable.endswith("The access token is invalid or not found in the request.")
    assert tiktok.reposts_last_month is None
    threads = read(double, "threads", now, env=double.env(SOMEARKIV_THREADS_TOKEN="THAA-expired-token-value"))
    for value in (threads.followers, threads.posts_last_month, threads.reposts_last_month):
        assert value.value is None and value.source == "api:threads"
        assert value.unavailable == "unavailable: 400 bad request: Invalid OAuth access token - Cannot parse access token"


def test_no_token_no_request(double, now):
    for name, variable in TOKEN_ENV.items():
        env = {k: v for k, v in double.env().items() if k != variable}
        metrics = read(double, name, now, env=env)
        assert metrics.followers.value is None and metrics.posts_last_month.value is None
        assert metrics.followers.unavailable == f"unavailable: no API credential ({variable} is not set)"
    assert double.requests == []


def test_tiktok_error_code_in_a_200_is_unavailable(double, now):
    double.queue("/video/list/", 200, {"data": {}, "error": {"code": "scope_not_authorized", "log_id": "x",
                                                              "message": "The user did not authorize the scope "
                                                                         "required for completing this request."}})
    metrics = read(double, "tiktok", now)
    assert metrics.followers.value == 2450  # the profile was read: only the posts are unknown
    assert metrics.posts_last_month.value is None
    assert metrics.posts_last_month.unavailable == ("unavailable: TikTok error scope_not_authorized: The user did "
                                                    "not authorize the scope required for completing this request.")


def test_tiktok_missing_scope_keeps_the_follower_count(double, now):
    double.queue("/video/list/", 403, {"data": {}, "error": {"code": "scope_not_authorized", "log_id": "x",
                                                              "message": "The user did not authorize the scope "
                                                                         "required for completing this request."}})
    metrics = read(double, "tiktok", now)
    assert metrics.followers.value == 2450 and metrics.posts_last_month.value is None
    assert metrics.posts_last_month.unavailable.startswith("unavailable: 403 forbidden")
    assert "did not authorize the scope" in metrics.posts_last_month.unavailable


def test_threads_without_insights_permission_still_counts_posts(double, now):
    double.queue("/threads_insights", 403, {"error": {"message": "(#10) Application does not have permission for "
                                                      "this action", "type": "THApiException", "code": 10}})
    double.add("threads", Post(days(now, 1)), Post(days(now, 2), "repost"))
    metrics = read(double, "threads", now)
    assert metrics.followers.value is None
    assert metrics.followers.unavailable.startswith("unavailable: 403 forbidden")
    assert "does not have permission" in metrics.followers.unavailable
    assert metrics.posts_last_month.value == 1 and metrics.reposts_last_month.value == 1


def test_threads_token_of_another_account_is_refused(double, now):
    metrics = read(double, "threads", now, handle="@annankommun", url="https://www.threads.net/@annankommun")
    for value in (metrics.followers, metrics.posts_last_month, metrics.reposts_last_month):
        assert value.value is None
        assert value.unavailable == "unavailable: the Threads token is for @perstorpskommun, not @annankommun"
    assert not double.hits("/threads_insights") and not feed(double, "threads")


def test_rate_limit_with_a_short_retry_after_is_waited_out(double, now):
    double.add("tiktok", Post(days(now, 1)))
    double.queue("/video/list/", 429, {"error": {"code": "rate_limit_exceeded", "log_id": "x",
                                                 "message": "The API rate limit was exceeded. Please try again later."}},
                 {"Retry-After": "2"})
    sleeps = Sleeps()
    metrics = read(double, "tiktok", now, sleep=sleeps)
    assert sleeps and all(0 < s <= 2 for s in sleeps)
    assert metrics.posts_last_month.value == 1
    bodies = [r.body for r in double.hits("/video/list/")]
    assert len(bodies) == 2 and bodies[0] == bodies[1] == {"max_count": 20}  # the retry sent the same body


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
def test_rate_limit_with_a_long_reset_is_unavailable_without_waiting(double, now, name):
    double.add(name, Post(days(now, 1)))
    body = ({"error": {"code": "rate_limit_exceeded", "log_id": "x",
                       "message": "The API rate limit was exceeded. Please try again later."}} if name == "tiktok"
            else {"error": {"message": "Application request limit reached", "type": "OAuthException", "code": 4}})
    queue_feed(double, name, 429, body, {"Retry-After": "3600"}, times=5)
    sleeps = Sleeps()
    started = time.monotonic()
    metrics = read(double, name, now, sleep=sleeps)
    assert time.monotonic() - started < 5 and sleeps == []
    assert metrics.followers.value == FOLLOWERS[name]  # the profile was read before the limit hit
    assert metrics.posts_last_month.value is None
    assert metrics.posts_last_month.unavailable.startswith("unavailable: 429 rate limited")
    assert ("rate limit was exceeded" if name == "tiktok" else "request limit reached") in \
        metrics.posts_last_month.unavailable
    assert len(feed(double, name)) == 1


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
def test_page_cap_says_the_count_may_be_low(double, now, name):
    double.add(name, *(Post(now - dt.timedelta(hours=n + 1)) for n in range(MAX_PAGES + 5)))
    metrics = read(double, name, now)
    assert metrics.posts_last_month.value == MAX_PAGES  # one post a page
    assert metrics.posts_last_month.confidence is Confidence.medium
    assert str(MAX_PAGES) in metrics.posts_last_month.detail  # the cap is named ...
    assert "at least the number shown" in metrics.posts_last_month.detail  # ... and the count called a minimum
    assert len(feed(double, name)) == MAX_PAGES


def test_server_errors_and_garbage_are_unavailable(double, now):
    double.queue("/user/info/", 502, None)
    assert read(double, "tiktok", now).followers.unavailable == "unavailable: 502 server error"
    double.queue("/user/info/", 200, {"data": {"user": {}}, "error": {"code": "ok"}})
    assert read(double, "tiktok", now).followers.unavailable == "unavailable: user/info gave no user"
    double.queue("/v1.0/me", 200, ["not", "an", "object"])
    assert read(double, "threads", now).followers.unavailable == "unavailable: the Threads profile gave no user id"
    double.queue("/video/list/", 200, {"data": {"videos": [], "has_more": True}, "error": {"code": "ok"}})
    assert read(double, "tiktok", now).posts_last_month.unavailable == (
        "unavailable: video/list said has_more but gave no cursor")


# ------------------------------------------------------------------------------------------------
# Secrets never leave the headers


def test_tokens_never_appear_in_results_errors_or_logs(double, now, caplog, capfd):
    configure_logging("json")
    collect = LogLines()
    logging.getLogger("somearkiv").addHandler(collect)
    caplog.set_level(logging.DEBUG)
    wrong = {"SOMEARKIV_TIKTOK_TOKEN": "act.wrong-tt-S3CRET-9955", "SOMEARKIV_THREADS_TOKEN": "THAA-wrong-S3CRET-9966"}
    secrets = [TOKENS["tiktok"], TOKENS["threads"], *wrong.values()]
    texts: list[str] = []
    try:
        for name in ACCOUNTS:
            double.add(name, *(Post(days(now, n)) for n in (1, 2, 3, 40)))
            texts.append(read(double, name, now).model_dump_json())  # Threads echoes its token into next links
        double.echo_token_in_errors = True  # and both echo a wrong one into their error messages
        for name in ACCOUNTS:
            metrics = read(double, name, now, env=double.env(**wrong))
            texts.append(metrics.model_dump_json())
            assert metrics.followers.value is None and "[redacted]" in metrics.followers.unavailable
        # a TikTok error code in a 200 answer that echoes the token goes through the same redaction
        double.queue("/video/list/", 200, {"error": {"code": "access_token_invalid",
                                                     "message": f"bad token {TOKENS['tiktok']}"}})
        metrics = read(double, "tiktok", now)
        assert metrics.posts_last_month.unavailable.endswith("bad token [redacted]")
        texts.append(metrics.model_dump_json())
    finally:
        logging.getLogger("somearkiv").removeHandler(collect)
    out, err = capfd.readouterr()
    texts += [caplog.text, out, err, *collect.lines]
    assert any("metrics.read" in line for line in collect.lines)
    for request in double.requests:
        texts.append(request.raw)
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_example_register_has_the_new_platforms_commented_only():
    # the shipped register's counts are pinned by other tests: the new examples stay comments
    text = Path(PROJECT_ROOT / "accounts.example.yaml").read_text(encoding="utf-8")
    assert "  # - id: perstorp-tiktok" in text and "  # - id: perstorp-threads" in text
