"""What the archivist and the communicator read in the Prefect UI: log lines, summary, overview, forms (no servers)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import warnings

from pydantic import Field, create_model

from deployments.definitions import served_deployments
from somearkiv.log import configure_logging, get_logger, quiet_reported_failures, run_line
from somearkiv.models import AccountOutcome, CaptureStatus, Platform, SnapshotSummary, Trigger, WallInfo
from somearkiv.runstate import ReportedFailure, failed_state, run_result
from somearkiv.settings import get_settings
from tasks.approval import Answer
from tasks.metrics.capture import OptionalCount, count
from tasks.reasons import failure_in_swedish, wall_in_swedish
from tasks.review import overview_markdown, summary_markdown

from .factories import account, record


def test_a_run_line_is_one_readable_line_with_the_swedish_word_first():
    line = run_line({"event": "capture.done", "account": "perstorp-facebook", "seconds": 5.9, "level": "info",
                     "timestamp": "2026-11-30T10:00:00Z", "flow_run_id": "x", "reason": 'ny "bild" i dag'})
    assert line == 'fångad (capture.done) account=perstorp-facebook seconds=5.9 reason="ny \\"bild\\" i dag"'
    assert run_line({"event": "something.new", "n": 1}) == "something.new n=1"


def test_outside_runs_json_or_console_and_never_a_secret(capsys):
    configure_logging("console")
    handler = logging.StreamHandler(sys.stdout)
    logging.getLogger("somearkiv").addHandler(handler)
    try:
        get_logger().info("capture.start", account="a", password="hunter2")
        configure_logging("json")
        get_logger().info("capture.start", account="a", access_token="EAAB")
    finally:
        logging.getLogger("somearkiv").removeHandler(handler)
    console, as_json = capsys.readouterr().out.strip().splitlines()[-2:]
    assert "capture.start" in console and "hunter2" not in console and not console.startswith("{")
    assert json.loads(as_json)["access_token"] == "[redacted]"


def test_the_engines_traceback_of_a_run_that_failed_on_purpose_is_dropped():
    quiet_reported_failures()
    logger = logging.getLogger("prefect.flow_runs")
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        for exc in (ReportedFailure("1 of 2 accounts captured", data=[1]), RuntimeError("a real crash")):
            try:
                raise exc
            except Exception:
                with warnings.catch_warnings():  # outside a run Prefect warns that the API cannot get it
                    warnings.simplefilter("ignore")
                    logger.error("Engine execution exited with unexpected exception", exc_info=True)
    finally:
        logger.removeHandler(handler)
    assert [r.exc_info[1].args[0] for r in seen] == ["a real crash"], "a real crash is still logged"
    state = failed_state("1 of 2 accounts captured", {"kept": True})
    assert state.is_failed() and state.message == "1 of 2 accounts captured"
    assert run_result(state) == {"kept": True}


def test_reasons_in_plain_swedish():
    assert wall_in_swedish("login") .startswith("inloggning krävs")
    assert wall_in_swedish("http-error", "HTTP 404") == "sidan finns inte (404)"
    assert wall_in_swedish("session-expired", "session expired: run `somearkiv login x` (…)") == (
        "inloggningen har gått ut – kör `somearkiv login x`")
    assert failure_in_swedish("capture", "the server answered HTTP 500").startswith("servern svarade 500")
    assert failure_in_swedish("capture", "the page did not load within 30 s") == "sidan laddades inte inom 30 sekunder"
    assert failure_in_swedish("file", "odd") == "arkiveringen misslyckades: odd"


def test_the_summary_answers_is_everything_archived_with_problems_first_and_links():
    good = record(account=account(id="a-good"))
    blocked = record(account=account(id="b-blocked"), status=CaptureStatus.blocked,
                     wall=WallInfo(kind="login", reason="a login form is shown instead of the page"))
    summary = SnapshotSummary(trigger=Trigger.scheduled, outcomes=(
        AccountOutcome(account_id="a-good", platform=Platform.facebook, status=CaptureStatus.captured),
        AccountOutcome(account_id="b-blocked", platform=Platform.facebook, status=CaptureStatus.blocked),
        AccountOutcome(account_id="c-failed", platform=Platform.youtube, status=CaptureStatus.failed,
                       failed_stage="capture", error="the server answered HTTP 500"),
    ))
    links = {"a-good": {"startpage.pdf": "http://s3/a.pdf", "startpage.png": "http://s3/a.png"},
             "b-blocked": {"wall.png": "http://s3/wall.png"}}
    text = summary_markdown(summary, {"a-good": good, "b-blocked": blocked}, links, set(), 168)
    assert text.startswith("# 1 av 3 arkiverade – 1 blockerade, 1 misslyckades")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == ["c-failed", "b-blocked", "a-good"]
    assert "servern svarade 500" in rows[0] and "inloggning krävs" in rows[1]
    assert "[PDF/A](http://s3/a.pdf) · [skärmbild](http://s3/a.png)" in rows[2]
    assert "[hindret / the wall](http://s3/wall.png)" in rows[1]
    every = SnapshotSummary(trigger=Trigger.scheduled, outcomes=summary.outcomes[:1])
    assert summary_markdown(every, {"a-good": good}, links, set(), 168).startswith("# Alla 1 konton arkiverade")


def test_the_overview_names_every_account_its_last_capture_and_the_next_run():
    class Kept:
        def __init__(self, capture_id, held=False):
            self.capture_id, self.held = capture_id, held

    taken = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    state = {1: Kept(f"a-good/{taken:%Y-%m-%dT%H%M%S}Z-scheduled", held=True),
             2: Kept("a-good/2020-01-01T060000Z-manual")}
    text = overview_markdown([account(id="a-good"), account(id="z-never")], state, get_settings())
    assert "Nästa halvårsvis ögonblicksbild / next half-yearly snapshot: **20" in text
    good, never = [line for line in text.splitlines() if line.startswith("| `")]
    assert f"| {taken:%Y-%m-%d} | 3 dagar | scheduled | aktivt / active | 1 |" in good
    assert "aldrig tagen" in never


def test_forms_have_number_boxes_labels_and_the_registers_accounts():
    form = create_model("F", __base__=Answer, perstorp_followers=(OptionalCount, Field(
        default="", title="Perstorps kommun (facebook): följare")))
    schema = form.model_json_schema()["properties"]["perstorp_followers"]
    assert schema["type"] == "string" and "anyOf" not in schema and schema["title"].startswith("Perstorps kommun")
    assert count(form(answered_by="x", perstorp_followers="4 812").perstorp_followers) == 4812
    assert count(form(answered_by="x").perstorp_followers) is None

    deployments = {d.name: d for d in served_deployments(get_settings(), ["demo-b", "demo-a"])}
    properties = deployments["before-major-change-serve"]._parameter_openapi_schema.properties
    assert properties["account"]["enum"] == ["demo-a", "demo-b"]
    assert properties["account"]["title"] == "Konto / Account" and properties["reason"]["description"]
    assert properties["announced_by"]["type"] == "string" and "anyOf" not in properties["announced_by"]


def test_what_changed_since_the_previous_snapshot_is_said_in_the_summary():
    from somearkiv.models import ChangeReport, ElementChange
    from tasks.watch.since import describe_change

    previous = record(started_at=dt.datetime(2026, 7, 1, 4, 0, tzinfo=dt.UTC))
    report = ChangeReport(watch_id="x", baseline="snapshot", compared_with=previous.capture_id,
                          compared_at=dt.datetime.now(dt.UTC), score=0.6, classification="större ändring",
                          changes=(ElementChange(element="bio", kind="text", before="Välkommen till oss",
                                                 after="Välkommen till nya oss", degree=0.3, weight=1, score=0.3),
                                   ElementChange(element="followers", kind="metric", before="4812", after="5100",
                                                 degree=0.3, weight=1, score=0.3)))
    said = describe_change(report, previous)
    assert said == "större ändring sedan 2026-07-01: bio: Välkommen till **nya** oss; followers: 4812 → 5100"
    summary = SnapshotSummary(trigger=Trigger.scheduled, outcomes=(AccountOutcome(
        account_id="a-good", platform=Platform.facebook, status=CaptureStatus.captured, change=said),))
    text = summary_markdown(summary, {"a-good": record(account=account(id="a-good"))}, {}, set(), 168)
    assert "Ändrat sedan förra" in text and "större ändring sedan 2026-07-01" in text


def test_a_reason_column_lists_only_what_applies():
    summary = SnapshotSummary(trigger=Trigger.scheduled, outcomes=(
        AccountOutcome(account_id="a-good", platform=Platform.facebook, status=CaptureStatus.captured),))
    row = next(line for line in summary_markdown(summary, {"a-good": record(account=account(id="a-good"))}, {},
                                                 set(), 168, unsealed={"a-good"}).splitlines()
               if line.startswith("| `a-good`"))
    assert "| ej tidsstämplad / UNSEALED |" in row, row
