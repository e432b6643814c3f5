"""One naming scheme for the platforms' settings, per-account tokens from the register, optional
tokens for public APIs, unknown variables refused, and `somearkiv metrics check`.

Everything talks to the local API double on 127.0.0.1 only.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from deployments.cli import app
from somearkiv.models import Platform
from somearkiv.settings import UnknownSetting, check_environment, get_settings, known_settings
from tasks.metrics import Window, read_metrics
from tasks.metrics.base import ADAPTERS
from tasks.metrics.check import check_accounts
from tests import api_doubles
from tests.api_doubles import TOKENS, ApiDouble, Post
from tests.factories import account

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def double():
    with ApiDouble(page_size=5) as server:
        yield server


def test_every_platform_follows_one_naming_scheme():
    for platform, adapter in ADAPTERS.items():
        reader = adapter({})
        assert reader.base_env == f"SOMEARKIV_{platform.value.upper()}_API_BASE"
        assert reader.credential_env() == f"SOMEARKIV_{platform.value.upper()}_TOKEN"
        assert {reader.base_env, reader.credential_env()} <= known_settings()
    check_environment({"SOMEARKIV_FACEBOOK_API_BASE": "x", "SOMEARKIV_FACEBOOK_TOKEN": "y",
                       "SOMEARKIV_FACEBOOK_TOKEN_KULTUR": "z", "SOMEARKIV_METRICS_MAX_WAIT_S": "5"})


@pytest.mark.parametrize("name,hint", [
    ("SOMEARKIV_META_ACCESS_TOKEN", "SOMEARKIV_FACEBOOK_TOKEN"),
    ("SOMEARKIV_GRAPH_API_BASE", "SOMEARKIV_FACEBOOK_API_BASE"),
    ("SOMEARKIV_YOUTUBE_API_KEY", "SOMEARKIV_YOUTUBE_TOKEN"),
    ("SOMEARKIV_INSTAGRAM_USER_ID_PERSTORP", "api_id in the register"),
    ("SOMEARKIV_DATADIR", "SOMEARKIV_DATA_DIR"),
    ("SOMEARKIV_MASTODON_TOKN", "SOMEARKIV_MASTODON_TOKEN"),
])
def test_an_unknown_variable_is_an_error_naming_the_closest_known_one(name, hint, monkeypatch):
    with pytest.raises(UnknownSetting, match=f"{name} \\(did you mean {hint}"):
        check_environment({name: "x"})
    monkeypatch.setenv(name, "x")
    get_settings.cache_clear()
    try:
        with pytest.raises(UnknownSetting):
            get_settings()
    finally:
        monkeypatch.delenv(name)
        get_settings.cache_clear()


def test_an_account_uses_its_own_token_named_in_the_register(double):
    double.add("facebook", Post(NOW - dt.timedelta(days=2)))
    own = account(id="perstorp-kultur", platform=Platform.facebook, handle=api_doubles.FACEBOOK["id"],
                  url="https://www.facebook.com/perstorpkultur", api_token_env="SOMEARKIV_FACEBOOK_TOKEN_KULTUR")
    env = {k: v for k, v in double.env().items() if k != "SOMEARKIV_FACEBOOK_TOKEN"}
    missing = read_metrics(own, Window.last_30_days(NOW), env=env)
    assert missing.followers.unavailable == "unavailable: no API credential (SOMEARKIV_FACEBOOK_TOKEN_KULTUR is not set)"
    metrics = read_metrics(own, Window.last_30_days(NOW), env={**env, "SOMEARKIV_FACEBOOK_TOKEN_KULTUR": TOKENS["meta"]})
    assert metrics.followers.value == api_doubles.FACEBOOK["followers_count"]
    assert "api_token_env" not in own.model_dump()  # the variable's name stays out of records too


def test_public_apis_take_an_optional_token(double):
    mastodon = account(id="perstorp-mastodon", platform=Platform.mastodon, handle="@perstorp@mastodon.nu",
                       url="https://mastodon.nu/@perstorp")
    env = {"SOMEARKIV_MASTODON_API_BASE": double.url}
    assert read_metrics(mastodon, Window.last_30_days(NOW), env=env).followers.value == 356
    assert "authorization" not in {k.lower() for k in double.requests[-1].headers}
    read_metrics(mastodon, Window.last_30_days(NOW), env={**env, "SOMEARKIV_MASTODON_TOKEN": "instance-token-123"})
    assert double.requests[-1].headers.get("authorization") == "Bearer instance-token-123"


def _accounts():
    return [account(id="ok-youtube", platform=Platform.youtube, handle="@perstorpskommun",
                    url="https://www.youtube.com/@perstorpskommun"),
            account(id="bad-x", platform=Platform.x, handle="@perstorp", url="https://x.com/perstorp"),
            account(id="no-api-linkedin", platform=Platform.linkedin, handle="perstorps-kommun",
                    url="https://www.linkedin.com/company/perstorps-kommun/", api_id=api_doubles.LINKEDIN["id"]),
            account(id="a-blog", platform=Platform.blog, handle="blogg", url="https://blogg.perstorp.se/")]


def test_metrics_check_reads_each_account_now_and_names_what_failed(double):
    double.add("youtube", Post(NOW - dt.timedelta(days=3)), Post(NOW - dt.timedelta(days=40)))
    env = {k: v for k, v in double.env().items() if k != "SOMEARKIV_LINKEDIN_TOKEN"}
    env["SOMEARKIV_X_TOKEN"] = "wrong-x-token-S3CRET"
    checks = {c.account_id: c for c in check_accounts(_accounts(), env=env, now=NOW)}
    ok, bad, unset, blog = (checks[i] for i in ("ok-youtube", "bad-x", "no-api-linkedin", "a-blog"))
    assert (ok.followers, ok.posts_last_month, ok.failed, ok.problem) == (1200, 1, False, None)
    assert "page" in ok.detail or "read" in ok.detail
    assert bad.failed and bad.followers is None and "401" in bad.problem and "S3CRET" not in bad.problem
    assert not unset.failed and unset.source == "page" and "SOMEARKIV_LINKEDIN_TOKEN is not set" in unset.problem
    assert not blog.failed and "no API reader" in blog.problem


def test_metrics_check_command(double, tmp_path, monkeypatch):
    double.add("youtube", Post(NOW - dt.timedelta(days=3)))
    register = tmp_path / "accounts.yaml"
    register.write_text("""\
register_version: 1
municipality: Perstorps kommun
accounts:
  - id: ok-youtube
    platform: youtube
    handle: "@perstorpskommun"
    name: Perstorps kommun
    url: https://www.youtube.com/@perstorpskommun
    department: Kommunledningsförvaltningen
    responsible: Kommunikatör
    substitute: Kommunsekreterare
    purpose: Film.
    opened: 2016-01-01
  - id: bad-x
    platform: x
    handle: "@perstorp"
    name: Perstorps kommun
    url: https://x.com/perstorp
    department: Kommunledningsförvaltningen
    responsible: Kommunikatör
    substitute: Kommunsekreterare
    purpose: Nyheter.
    opened: 2012-01-01
""", encoding="utf-8")
    env = {k: v for k, v in double.env().items() if k.startswith(("SOMEARKIV_YOUTUBE", "SOMEARKIV_X_API"))}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    result = runner.invoke(app, ["metrics", "check", "--register", str(register), "--json"])
    assert result.exit_code == 0, result.output  # x has no token: read from the page, not a failure
    # the JSON is the command's standard output; what logging says goes to standard error, which
    # result.output mixes in (a handler made in an earlier test, holding that test's stream closed since,
    # reports its error there)
    shown = {c["account_id"]: c for c in json.loads(result.stdout[result.stdout.index("["):])}
    assert shown["ok-youtube"]["followers"] == 1200 and shown["bad-x"]["source"] == "page"
    monkeypatch.setenv("SOMEARKIV_X_TOKEN", "wrong-x-token-S3CRET")
    result = runner.invoke(app, ["metrics", "check", "--register", str(register)])
    assert result.exit_code == 1 and "bad-x" in result.output and "S3CRET" not in result.output
    assert "| ok-youtube (youtube) | api:youtube | 1200 | 1 |" in result.output
