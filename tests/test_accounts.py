"""Policy P4–P6 end to end: counts in every record, typed in when nothing else can read them,
inactive accounts flagged and closed after a final capture, and the public list."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from deployments.cli import app
from flows.publish import publish_register
from flows.snapshot import snapshot_accounts
from somearkiv.models import CaptureStatus, Metrics, MetricValue, Trigger
from somearkiv.settings import PROJECT_ROOT
from tasks.capture.browser import find_browser
from tasks.inactivity import follower_change, is_inactive

from .factories import record
from .test_operations import _resume_when_paused


def _metrics(followers, posts, day):
    at = dt.datetime(2026, day, 1, tzinfo=dt.UTC)
    value = lambda v: MetricValue(value=v, source="page", read_at=at)  # noqa: E731
    return Metrics(followers=value(followers), posts_last_month=value(posts), window_start=at - dt.timedelta(30),
                   window_end=at)


def test_inactivity_needs_zero_posts_at_captures_in_a_row():
    history = [record(started_at=dt.datetime(2026, m, 1, tzinfo=dt.UTC), metrics=_metrics(100 + m, p, m))
               for m, p in ((1, 4), (4, 0), (7, 0))]
    assert is_inactive(history, 2) and not is_inactive(history, 3)
    assert follower_change(history) == 3  # 107 now, 104 at the capture before
    unknown = history[:2] + [record(started_at=dt.datetime(2026, 7, 1, tzinfo=dt.UTC),
                                    metrics=_metrics(None, None, 7))]
    assert not is_inactive(unknown, 2)  # never inactive on a number nobody read
    assert follower_change(unknown) is None


@pytest.fixture
def register_copy(tmp_path, sample_site, sample_register):
    """A register of our own (closing an account edits it), with one account whose page shows no counts."""
    path = tmp_path / "accounts.yaml"
    text = sample_register.read_text(encoding="utf-8")
    text += f"""  - id: demo-blog
    platform: blog
    handle: kultur-perstorp
    name: Kultur och fritid i Perstorp
    url: {sample_site.url}traps/consent-generic.html
    department: Kultur- och fritidsförvaltningen
    responsible: Bibliotekschef
    substitute: Kultursekreterare
    purpose: Evenemang och program.
    opened: 2019-04-01
"""
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_counts_are_asked_for_in_the_ui(prefect_server, archive, register_copy):
    from prefect.settings import PREFECT_API_URL

    answer = {"answered_by": "Kommunikatören", "comment": "från Meta Business Suite",
              "demo_blog_followers": "321", "demo_blog_posts_last_month": "7"}  # text boxes
    threading.Thread(target=_resume_when_paused, args=(PREFECT_API_URL.value(), answer), daemon=True).start()
    state = snapshot_accounts(account_ids=["demo-blog"], trigger=Trigger.manual, register_path=str(register_copy),
                              ask_for_missing=True, manual_timeout_s=120, return_state=True)
    assert state.is_completed(), state.message
    [filed] = [r for r in archive.list_captures("demo-blog")]
    m = filed.metrics
    assert (m.followers.value, m.followers.source) == (321, "manual")
    assert (m.posts_last_month.value, m.posts_last_month.source) == (7, "manual")
    assert "entered by Kommunikatören" in m.followers.detail
    assert not archive.client.list_objects_v2(Bucket=archive.bucket, Prefix="review/").get("Contents")


def test_closing_takes_a_final_capture_then_edits_the_register(prefect_server, archive, register_copy, tmp_path):
    result = CliRunner().invoke(app, ["register", "close", "demo-youtube", "--date", "2026-12-01", "--reason",
                                      "inaktivt", "--by", "Kommunikationschef", "--register", str(register_copy)])
    assert result.exit_code == 0, result.output
    assert "/startpage.pdf\n" in result.output and "/manifest.json\n" in result.output  # every key filed
    final = [r for r in archive.list_captures("demo-youtube") if r.trigger is Trigger.before_close]
    assert final and final[-1].status is CaptureStatus.captured and final[-1].reason == "inaktivt"
    text = register_copy.read_text(encoding="utf-8")
    assert "    status: closed\n    closed: 2026-12-01\n" in text
    assert text.startswith("# The demo's register")  # comments and layout kept

    refused = CliRunner().invoke(app, ["register", "close", "no-such", "--date", "2026-12-01",
                                       "--register", str(register_copy)])
    assert refused.exit_code == 2

    listed = CliRunner().invoke(app, ["metrics", "--account", "demo-youtube", "--json"])
    rows = json.loads(listed.output)
    assert rows and rows[-1]["followers"] == 1200 and rows[-1]["followers_source"] == "page"

    # the public list, checked in a real browser
    out = tmp_path / "public"
    published = CliRunner().invoke(app, ["register", "publish", "--out", str(out), "--register", str(register_copy)])
    assert published.exit_code == 0, published.output
    data = json.loads((out / "accounts.json").read_text(encoding="utf-8"))
    assert [a["id"] for a in data["closed"]] == ["demo-youtube"] and data["closed"][0]["closed"] == "2026-12-01"
    assert "responsible" not in data["active"][0] and "Kommunikatör" not in (out / "index.html").read_text()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_browser(None))
        page = browser.new_page(java_script_enabled=False)
        page.goto((out / "index.html").as_uri())
        assert page.locator("html").get_attribute("lang") == "sv"
        tables = page.get_by_role("table")
        assert tables.count() == 2
        active = page.get_by_role("table", name="Aktiva konton (5)")
        assert active.get_by_role("row").count() == 6  # header + 5
        assert active.get_by_role("link", name="Perstorps kommun (perstorpskommun)").count() == 2
        closed = page.get_by_role("table", name="Stängda konton (1)")
        assert closed.get_by_role("cell", name="2026-12-01").count() == 1
        browser.close()


def test_publish_flow_files_the_list(prefect_server, archive, register_copy):
    keys = publish_register(register_path=str(register_copy))
    assert sorted(k.split("/")[-1] for k in keys) == ["accounts.json", "index.html"]
    assert all(archive.head(k).legal_hold for k in keys)
    page = archive.client.get_object(Bucket=archive.bucket, Key=next(k for k in keys if k.endswith(".html")))
    assert 'lang="sv"' in page["Body"].read().decode()


def test_shipped_register_publishes(tmp_path):
    result = CliRunner().invoke(app, ["register", "publish", "--out", str(tmp_path),
                                      "--register", str(PROJECT_ROOT / "accounts.example.yaml")])
    assert result.exit_code == 0
    data = json.loads((tmp_path / "accounts.json").read_text(encoding="utf-8"))
    assert len(data["active"]) == 6 and data["closed"][0]["id"] == "perstorp-sommarlov-instagram"
