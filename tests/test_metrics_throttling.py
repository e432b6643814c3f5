"""Every platform's throttling, against the local API double: waited out when short, else 'unavailable'.

Graph says "too many calls" with error codes (4, 17, 32, 613) or ``is_transient`` in a 403/400
body and tells when access is regained in its usage headers; YouTube tells a daily quota
(quotaExceeded) from a short rate limit (rateLimitExceeded) by the error reason; X and LinkedIn
answer 429 with x-rate-limit-reset / Retry-After. Waits go through the injected ``sleep`` (never
really slept) and never add up to more than SOMEARKIV_METRICS_MAX_WAIT_S for one account.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from somearkiv.models import Metrics, Platform
from tasks.metrics import Window, read_metrics
from tasks.metrics.core import MAX_RETRIES, HttpClient, Throttle, Unavailable, default_throttle
from tasks.metrics.graph import graph_throttle, graph_usage
from tasks.metrics.linkedin import linkedin_throttle
from tasks.metrics.x import x_throttle
from tasks.metrics.youtube import quota_reset, youtube_throttle
from tests import api_doubles
from tests.api_doubles import TOKENS, ApiDouble, Post
from tests.factories import account
from tests.metrics_support import Sleeps, double, now  # noqa: F401 (fixtures)

ACCOUNTS = {
    "youtube": dict(platform=Platform.youtube, handle="@perstorpskommun", url="https://www.youtube.com/@perstorpskommun"),
    # the Graph page is addressed by its id, so that the profile request's path is known
    "facebook": dict(platform=Platform.facebook, handle=api_doubles.FACEBOOK["id"],
                     url="https://www.facebook.com/perstorpskommun"),
    "instagram": dict(platform=Platform.instagram, handle="perstorpskommun",
                      url="https://www.instagram.com/perstorpskommun/", api_id=api_doubles.INSTAGRAM["id"]),
    "linkedin": dict(platform=Platform.linkedin, handle="perstorps-kommun",
                     url="https://www.linkedin.com/company/perstorps-kommun/", api_id=api_doubles.LINKEDIN["id"]),
    "x": dict(platform=Platform.x, handle="@perstorp", url="https://x.com/perstorp"),
}
PROFILE = {"youtube": "/channels", "facebook": f"/v21.0/{api_doubles.FACEBOOK['id']}",
           "instagram": f"/v21.0/{api_doubles.INSTAGRAM['id']}", "linkedin": "/networkSizes",
           "x": "/users/by/username"}
FEED = {"youtube": "playlistItems", "facebook": "/published_posts", "instagram": "/media", "linkedin": "/rest/posts",
        "x": "/tweets"}
FOLLOWERS = {"youtube": 1200, "facebook": 4812, "instagram": 2143, "linkedin": 987, "x": 3100}




def read(double: ApiDouble, name: str, now: dt.datetime, sleeps: Sleeps, max_wait: float | None = None,
         **env: str) -> Metrics:
    if max_wait is not None:
        env["SOMEARKIV_METRICS_MAX_WAIT_S"] = f"{max_wait:g}"
    started = time.monotonic()
    metrics = read_metrics(account(id=f"perstorp-{name}", **ACCOUNTS[name]), Window.last_30_days(now),
                           env=double.env(**env), sleep=sleeps)
    assert time.monotonic() - started < 10  # waits are recorded, never slept
    return metrics


def seed(double: ApiDouble, name: str, now: dt.datetime) -> None:
    """Two posts in the window and one before it: a read that gets through counts 2."""
    double.add(name, *(Post(now - dt.timedelta(days=n)) for n in (2, 9, 40)))


def graph_error(code: int, message: str, *, transient: bool | None = True, subcode: int | None = None,
                token_in_message: bool = False) -> dict:
    error: dict = {"message": message + (f" (access_token={TOKENS['meta']})" if token_in_message else ""),
                   "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfGh123"}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    return {"error": error}


def app_usage(call_count: int = 100, cputime: int = 12, total_time: int = 35) -> dict[str, str]:
    return {"X-App-Usage": json.dumps({"call_count": call_count, "total_cputime": cputime, "total_time": total_time})}


def buc_usage(minutes: int, kind: str = "pages") -> dict[str, str]:
    return {"X-Business-Use-Case-Usage": json.dumps({api_doubles.FACEBOOK["id"]: [
        {"type": kind, "call_count": 100, "total_cputime": 20, "total_time": 41,
         "estimated_time_to_regain_access": minutes}]})}


def youtube_error(status: int, reason: str, message: str) -> dict:
    domain = "youtube.quota" if reason in ("quotaExceeded", "rateLimitExceeded") else "usageLimits"
    return {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": domain, "reason": reason}]}}


QUOTA = youtube_error(403, "quotaExceeded", "The request cannot be completed because you have exceeded your "
                                            "<a href=\"/youtube/v3/getting-started#quota\">quota</a>.")
RATE = youtube_error(403, "rateLimitExceeded", "The request cannot be completed because you have exceeded your "
                                               "rate limit.")
X_429 = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
LI_429 = {"status": 429, "serviceErrorCode": 101, "code": "TOO_MANY_REQUESTS",
          "message": "Resource level throttle APPLICATION limit for calls to this resource is reached."}


def is_unknown(metrics: Metrics) -> bool:
    values = [metrics.followers, metrics.posts_last_month, metrics.total_posts, metrics.reposts_last_month]
    return all(v.value is None and v.unavailable for v in values if v is not None)


# ------------------------------------------------------------------------------------------------
# Graph (Facebook, Instagram): error codes in a 403/400 body, usage headers


@pytest.mark.parametrize("name", ["facebook", "instagram"])
def test_graph_code_4_with_app_usage_is_backed_off_then_counted(double, now, name):
    seed(double, name, now)
    double.queue(FEED[name], 403, graph_error(4, "(#4) Application request limit reached"), app_usage())
    sleeps = Sleeps()
    metrics = read(double, name, now, sleeps)
    assert sleeps == [2.0]  # X-App-Usage gives percentages only: a short backoff, then again
    assert metrics.followers.value == FOLLOWERS[name]
    assert metrics.posts_last_month.value == 2 and metrics.posts_last_month.unavailable is None
    # the throttled request, then its retry and the following pages (Facebook's since= ends the edge early)
    assert len(double.hits(FEED[name])) == 1 + {"facebook": 2, "instagram": 3}[name]


def test_graph_code_17_with_long_regain_estimate_is_unavailable_without_waiting(double, now):
    seed(double, "facebook", now)
    double.queue(PROFILE["facebook"], 403,
                 graph_error(17, "(#17) User request limit reached", subcode=2446079), buc_usage(30))
    sleeps = Sleeps()
    metrics = read(double, "facebook", now, sleeps, max_wait=60)
    assert sleeps == [] and len(double.requests) == 1
    assert is_unknown(metrics)
    assert metrics.followers.unavailable == (
        "unavailable: 403 Graph rate limit (code 17, subcode 2446079, is_transient); access regained in ~30 min: "
        "(#17) User request limit reached")
    assert metrics.posts_last_month.unavailable == metrics.followers.unavailable


def test_graph_short_regain_estimate_is_waited_out(double, now):
    seed(double, "facebook", now)
    double.queue(PROFILE["facebook"], 403, graph_error(32, "(#32) Page request limit reached"), buc_usage(1))
    sleeps = Sleeps()
    metrics = read(double, "facebook", now, sleeps, max_wait=120)
    assert sleeps == [60.0]  # estimated_time_to_regain_access is in minutes
    assert metrics.followers.value == 4812 and metrics.posts_last_month.value == 2


def test_graph_400_code_613_is_retried(double, now):
    seed(double, "instagram", now)
    double.queue(FEED["instagram"], 400, graph_error(613, "Calls to this api have exceeded the rate limit.",
                                                     transient=None))
    sleeps = Sleeps()
    metrics = read(double, "instagram", now, sleeps)
    assert sleeps == [2.0] and metrics.posts_last_month.value == 2
    assert metrics.followers.value == 2143


def test_graph_400_code_613_that_persists_gives_up_with_the_platforms_reason(double, now):
    seed(double, "instagram", now)
    double.queue(FEED["instagram"], 400, graph_error(613, "Calls to this api have exceeded the rate limit.",
                                                     transient=None), app_usage(104), times=10)
    sleeps = Sleeps()
    metrics = read(double, "instagram", now, sleeps)  # the default bound, 10 s
    assert sleeps == [2.0, 4.0]  # a third wait (8 s) would go past 10 s in all
    assert metrics.followers.value == 2143  # the profile was read; only the timeline is unknown
    assert metrics.posts_last_month.value is None
    assert metrics.posts_last_month.unavailable == (
        "unavailable: 400 Graph rate limit (code 613); app usage call_count at 104%: "
        "Calls to this api have exceeded the rate limit.")


def test_graph_transient_error_of_another_code_is_retried(double, now):
    seed(double, "facebook", now)
    double.queue(FEED["facebook"], 500, graph_error(2, "An unexpected error has occurred. Please retry your request "
                                                       "later."))
    sleeps = Sleeps()
    metrics = read(double, "facebook", now, sleeps)
    assert sleeps == [2.0] and metrics.posts_last_month.value == 2


def test_graph_permission_error_is_unavailable_at_once(double, now):
    double.queue(PROFILE["facebook"], 403, graph_error(10, "(#10) Application does not have permission for this "
                                                           "action", transient=False), app_usage(100))
    sleeps = Sleeps()
    metrics = read(double, "facebook", now, sleeps, max_wait=600)
    assert sleeps == [] and len(double.requests) == 1
    assert is_unknown(metrics)
    assert metrics.followers.unavailable == ("unavailable: 403 forbidden (no permission, or quota exceeded): "
                                             "(#10) Application does not have permission for this action")


def test_graph_usage_headers():
    regain, usage = graph_usage({"x-business-use-case-usage": json.dumps({
        "1": [{"type": "pages", "call_count": 97, "total_cputime": 10, "total_time": 12,
               "estimated_time_to_regain_access": 0}],
        "2": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 7}]})})
    assert regain == 420 and usage == "instagram usage call_count at 100%"
    regain, usage = graph_usage({"X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": 100, "reset_time_duration": 45,
                                                                   "ads_api_access_tier": "standard_access"})})
    assert regain == 45 and usage == "ad account usage acc_id_util_pct at 100%"
    regain, usage = graph_usage({"X-Page-Usage": json.dumps({"call_count": 5, "total_cputime": 101, "total_time": 9})})
    assert regain is None and usage == "page usage total_cputime at 101%"
    assert graph_usage({}) == (None, "")
    assert graph_usage({"X-App-Usage": "not json", "X-Business-Use-Case-Usage": "[1, 2]"}) == (None, "")
    assert graph_usage({"X-Business-Use-Case-Usage": json.dumps({"1": [{"estimated_time_to_regain_access": "x"}],
                                                                 "2": "junk", "3": [7]})}) == (None, "")


def test_graph_rule_without_a_throttle_falls_back_to_the_default():
    body = json.dumps(graph_error(190, "Invalid OAuth access token", transient=False)).encode()
    assert graph_throttle(400, {}, body, 0) is None
    assert graph_throttle(403, {}, b"not json", 0) is None
    assert graph_throttle(429, {"Retry-After": "3"}, b"", 0) == default_throttle(429, {"Retry-After": "3"}, b"", 0)
    code_80001 = json.dumps(graph_error(80001, "There have been too many calls to this Page account.",
                                        transient=None)).encode()
    throttle = graph_throttle(400, buc_usage(12), code_80001, 0)
    assert throttle == Throttle("400 Graph rate limit (code 80001); access regained in ~12 min", 720.0)


# ------------------------------------------------------------------------------------------------
# YouTube: quotaExceeded is daily, rateLimitExceeded is short


def test_youtube_quota_exceeded_is_unavailable_at_once(double, now):
    seed(double, "youtube", now)
    double.queue(PROFILE["youtube"], 403, QUOTA)
    sleeps = Sleeps()
    metrics = read(double, "youtube", now, sleeps, max_wait=86_400)  # never a short wait, however long one may wait
    assert sleeps == [] and len(double.requests) == 1
    assert is_unknown(metrics)
    reason = metrics.followers.unavailable
    assert reason.startswith("unavailable: 403 YouTube daily quota exceeded (quotaExceeded); it resets at midnight "
                             "Pacific time (")
    assert "Swedish time, in ~" in reason and reason.endswith("quota</a>. (quotaExceeded)")


def test_youtube_quota_exceeded_on_the_timeline_keeps_the_subscribers(double, now):
    seed(double, "youtube", now)
    double.queue(FEED["youtube"], 403, QUOTA)
    sleeps = Sleeps()
    metrics = read(double, "youtube", now, sleeps)
    assert sleeps == [] and metrics.followers.value == 1200
    assert metrics.posts_last_month.value is None and "quotaExceeded" in metrics.posts_last_month.unavailable


def test_youtube_rate_limit_is_backed_off_then_counted(double, now):
    seed(double, "youtube", now)
    double.queue(FEED["youtube"], 403, RATE, times=2)
    sleeps = Sleeps()
    metrics = read(double, "youtube", now, sleeps)
    assert sleeps == [1.0, 2.0]  # exponential backoff
    assert metrics.posts_last_month.value == 2 and metrics.followers.value == 1200


def test_youtube_user_rate_limit_as_429_with_retry_after(double, now):
    seed(double, "youtube", now)
    double.queue(PROFILE["youtube"], 429, youtube_error(429, "userRateLimitExceeded", "User rate limit exceeded."),
                 {"Retry-After": "4"})
    sleeps = Sleeps()
    metrics = read(double, "youtube", now, sleeps)
    assert sleeps == [4.0] and metrics.followers.value == 1200


def test_youtube_rate_limit_that_persists_gives_up(double, now):
    double.queue(PROFILE["youtube"], 403, RATE, times=10)
    sleeps = Sleeps()
    metrics = read(double, "youtube", now, sleeps)
    assert sleeps == [1.0, 2.0, 4.0] and len(double.requests) == 1 + MAX_RETRIES
    assert metrics.followers.unavailable == ("unavailable: 403 YouTube rate limit (rateLimitExceeded): The request "
                                             "cannot be completed because you have exceeded your rate limit. "
                                             "(rateLimitExceeded)")


def test_youtube_quota_resets_at_pacific_midnight():
    summer = quota_reset(dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC))  # 05:00 PDT
    assert summer == dt.datetime(2026, 7, 2, 7, 0, tzinfo=dt.UTC)
    winter = quota_reset(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))  # 01:00 PST
    assert winter == dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)
    throttle = youtube_throttle(403, {}, json.dumps(QUOTA).encode(), 0, dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
    assert throttle is not None and throttle.wait is None
    assert throttle.reason == ("403 YouTube daily quota exceeded (quotaExceeded); it resets at midnight Pacific "
                               "time (09:00 Swedish time, in ~23 h)")
    forbidden = youtube_error(403, "forbidden", "The request is missing a valid API key.")
    assert youtube_throttle(403, {}, json.dumps(forbidden).encode(), 0) is None


# ------------------------------------------------------------------------------------------------
# X: 429 with x-rate-limit-reset


def test_x_429_reset_seconds_ahead_is_waited_out(double, now):
    seed(double, "x", now)
    double.queue(FEED["x"], 429, X_429, {"x-rate-limit-limit": "1500", "x-rate-limit-remaining": "0",
                                         "x-rate-limit-reset": str(int(time.time()) + 5)})
    sleeps = Sleeps()
    metrics = read(double, "x", now, sleeps)
    assert len(sleeps) == 1 and 3 < sleeps[0] <= 5
    assert metrics.followers.value == 3100 and metrics.posts_last_month.value == 2


def test_x_429_reset_an_hour_ahead_is_unavailable(double, now):
    double.queue(PROFILE["x"], 429, X_429, {"x-rate-limit-remaining": "0",
                                            "x-rate-limit-reset": str(int(time.time()) + 3600)})
    sleeps = Sleeps()
    metrics = read(double, "x", now, sleeps, max_wait=60)
    assert sleeps == [] and len(double.requests) == 1 and is_unknown(metrics)
    assert metrics.followers.unavailable.startswith("unavailable: 429 rate limited (retry after 3")
    assert metrics.followers.unavailable.endswith(" s): Too Many Requests")


def test_x_24_hour_cap_outlasts_the_window_reset(double, now):
    t = int(time.time())
    double.queue(PROFILE["x"], 429, X_429, {"x-rate-limit-remaining": "10", "x-rate-limit-reset": str(t + 2),
                                            "x-app-limit-24hour-limit": "10000", "x-app-limit-24hour-remaining": "0",
                                            "x-app-limit-24hour-reset": str(t + 5 * 3600)})
    sleeps = Sleeps()
    metrics = read(double, "x", now, sleeps)
    assert sleeps == [] and is_unknown(metrics)
    assert metrics.followers.unavailable.startswith("unavailable: 429 X 24-hour limit reached (retry after 1")


def test_x_rule():
    assert x_throttle(401, {}, b"", 0) is None
    assert x_throttle(429, {}, b"", 1) == Throttle("429 rate limited (no reset time given)", 2.0, MAX_RETRIES)
    assert x_throttle(429, {"Retry-After": "7"}, b"", 0) == Throttle("429 rate limited (retry after 7 s)", 7.0)


# ------------------------------------------------------------------------------------------------
# LinkedIn: 429 with Retry-After


def test_linkedin_429_retry_after_is_waited_out(double, now):
    seed(double, "linkedin", now)
    double.queue(FEED["linkedin"], 429, LI_429, {"Retry-After": "3"})
    sleeps = Sleeps()
    metrics = read(double, "linkedin", now, sleeps)
    assert sleeps == [3.0]
    assert metrics.followers.value == 987 and metrics.posts_last_month.value == 2


def test_linkedin_429_long_retry_after_is_unavailable(double, now):
    double.queue(PROFILE["linkedin"], 429, LI_429, {"Retry-After": "3600"})
    sleeps = Sleeps()
    metrics = read(double, "linkedin", now, sleeps, max_wait=60)
    assert sleeps == [] and is_unknown(metrics)
    assert metrics.followers.unavailable == ("unavailable: 429 LinkedIn rate limit (retry after 3600 s): "
                                             + LI_429["message"])


def test_linkedin_429_without_retry_after_backs_off_then_gives_up(double, now):
    double.queue(PROFILE["linkedin"], 429, LI_429, times=10)
    sleeps = Sleeps()
    metrics = read(double, "linkedin", now, sleeps)
    assert sleeps == [1.0, 2.0, 4.0] and len(double.requests) == 1 + MAX_RETRIES
    assert metrics.followers.unavailable.startswith("unavailable: 429 LinkedIn rate limit (no Retry-After; the daily "
                                                    "limits reset at midnight UTC, in ~")
    assert linkedin_throttle(429, {}, b"", 0, dt.datetime(2026, 5, 4, 21, 0, tzinfo=dt.UTC)) == Throttle(
        "429 LinkedIn rate limit (no Retry-After; the daily limits reset at midnight UTC, in ~3 h)", 1.0, MAX_RETRIES)
    assert linkedin_throttle(403, {"Retry-After": "1"}, b"", 0) is None  # a 403 is a permission, not a limit


# ------------------------------------------------------------------------------------------------
# The bound: all waits of one read together, never more than SOMEARKIV_METRICS_MAX_WAIT_S


THROTTLED = {
    "facebook": (403, graph_error(4, "(#4) Application request limit reached"), app_usage()),
    "instagram": (400, graph_error(613, "Calls to this api have exceeded the rate limit.", transient=None), {}),
    "youtube": (403, RATE, {}),
    "x": (429, X_429, {}),
    "linkedin": (429, LI_429, {}),
}


@pytest.mark.parametrize("name", sorted(THROTTLED))
@pytest.mark.parametrize("max_wait", [0, 1, 3, 6, 10])
def test_the_sum_of_waits_never_exceeds_the_bound(double, now, name, max_wait):
    seed(double, name, now)
    status, body, headers = THROTTLED[name]
    double.queue(PROFILE[name], status, body, headers, times=2)  # the profile recovers after two refusals
    double.queue(FEED[name], status, body, headers, times=20)  # the timeline never does
    sleeps = Sleeps()
    metrics = read(double, name, now, sleeps, max_wait=max_wait)
    assert sum(sleeps) <= max_wait
    assert len(double.hits(FEED[name])) <= 1 + MAX_RETRIES
    assert metrics.posts_last_month.value is None and metrics.posts_last_month.unavailable.startswith(
        f"unavailable: {status} ")
    two_waits = 2 + 4 if name in ("facebook", "instagram") else 1 + 2  # Graph backs off from 2 s, the others 1 s
    if max_wait >= two_waits:
        assert metrics.followers.value == FOLLOWERS[name]  # the profile's two refusals were waited out
    else:
        assert metrics.followers.value is None


def test_a_wait_that_would_overrun_the_bound_is_not_started():
    calls: list[float] = []
    answers = iter([Throttle("429 first", 4.0, 3), Throttle("429 second", 4.0, 3), Throttle("429 third", 4.0, 3)])

    class Client(HttpClient):
        def _get(self, url):
            self.requests += 1
            return 429, {}, b""

    client = Client(base="http://127.0.0.1:9", max_wait=10, sleep=calls.append,
                    throttle=lambda status, headers, body, attempt: next(answers))
    with pytest.raises(Unavailable) as caught:
        client.get_json("x")
    assert calls == [4.0, 4.0] and client.waited == 8.0 and client.requests == 3
    assert caught.value.reason == "unavailable: 429 third"


@pytest.mark.parametrize("wait", [float("nan"), float("inf"), -1.0])
def test_a_nonsense_wait_is_not_slept(wait):
    class Client(HttpClient):
        def _get(self, url):
            return 503, {}, b""

    sleeps = Sleeps()
    client = Client(base="http://127.0.0.1:9", sleep=sleeps, throttle=lambda *_: Throttle("503 odd", wait, 3))
    with pytest.raises(Unavailable, match="503 odd"):
        client.get_json("x")
    assert sleeps == []


# ------------------------------------------------------------------------------------------------
# Secrets: never in a reason, whether waited or given up


def test_tokens_never_appear_in_throttle_reasons(double, now):
    secrets = list(TOKENS.values())
    texts: list[str] = []
    echo = {
        "facebook": (403, graph_error(17, "(#17) User request limit reached", token_in_message=True), buc_usage(45)),
        "instagram": (400, graph_error(4, "(#4) Application request limit reached", token_in_message=True),
                      app_usage()),
        "youtube": (403, youtube_error(403, "quotaExceeded", f"Quota exceeded for key {TOKENS['youtube']}"), {}),
        "x": (429, {**X_429, "detail": f"Too Many Requests for Bearer {TOKENS['x']}"},
              {"x-rate-limit-reset": str(int(time.time()) + 7200)}),
        "linkedin": (429, {**LI_429, "message": f"Throttled token {TOKENS['linkedin']}"}, {}),
    }
    for name, (status, body, headers) in echo.items():
        double.queue(PROFILE[name], status, body, headers, times=10)
        metrics = read(double, name, now, Sleeps())
        assert is_unknown(metrics) and "[redacted]" in metrics.followers.unavailable, metrics.followers.unavailable
        texts.append(metrics.model_dump_json())
    for text in texts:
        for secret in secrets:
            assert secret not in text
