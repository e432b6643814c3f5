"""Evidence before removal (moderering): a reported comment captured as restricted evidence opens a case;
confirm-removed refuses while the comment is shown and records its removal once it is gone; the 48-hour
clock and the overdue decision; the pipeline identity cannot read evidence back."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import urllib.request

import pytest

from somearkiv.models import ModerationCase
from somearkiv.settings import PROJECT_ROOT
from storage.gateway import S3Call, refusal
from tasks.evidence import (
    EvidenceError,
    case_clock,
    is_overdue,
    overdue_cases,
    parse_reported_at,
    raise_overdue,
)

QUOTE = "Kalle Kränkande på Storgatan 3"
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def case(reported_hours_ago: float, removed_hours_after: float | None = None) -> ModerationCase:
    reported = NOW - dt.timedelta(hours=reported_hours_ago)
    removed = None if removed_hours_after is None else reported + dt.timedelta(hours=removed_hours_after)
    return ModerationCase(case_id="demo-facebook/2026-11-29T120000Z", account_id="demo-facebook",
                          url="http://127.0.0.1/comments/1", reason="kränkande personuppgifter", quote=QUOTE,
                          reported_at=reported, reported_by="Kim", opened_at=reported,
                          evidence_capture_id="demo-facebook/2026-11-29T120000Z-evidence", evidence_at=reported,
                          status="removed" if removed else "open", removed_at=removed,
                          retention_class="bevis-moderering")


# -- the clock and the overdue decision (pure) ---------------------------------------------------------------


def test_the_48_hour_limit_is_kept_or_exceeded_by_the_hours_from_report_to_removal():
    kept = case_clock(case(60, removed_hours_after=47.5), NOW)
    assert (kept.hours, kept.limit_kept, kept.overdue) == (47.5, True, False)
    assert case_clock(case(60, removed_hours_after=48), NOW).limit_kept is True  # at the limit: kept
    exceeded = case_clock(case(60, removed_hours_after=49.25), NOW)
    assert (exceeded.hours, exceeded.limit_kept) == (49.2, False) or (exceeded.hours, exceeded.limit_kept) == (
        49.3, False)
    running = case_clock(case(10), NOW)
    assert (running.hours, running.limit_kept, running.overdue) == (10.0, None, False)
    late = case_clock(case(50), NOW)
    assert (late.hours, late.limit_kept, late.overdue) == (50.0, False, True)


def test_open_cases_past_36_hours_are_overdue_and_closed_ones_never():
    assert not is_overdue(case(36), NOW)  # exactly 36 h: not yet
    assert is_overdue(case(36.1), NOW)
    assert is_overdue(case(72), NOW)
    assert not is_overdue(case(72, removed_hours_after=50), NOW)  # removed late: closed, no more events
    cases = [case(1), case(37), case(40, removed_hours_after=2)]
    assert overdue_cases(cases, NOW) == [cases[1]]


def test_reported_at_is_swedish_time_without_an_offset_and_never_in_the_future():
    assert parse_reported_at("2026-11-30T10:00", NOW) == dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    assert parse_reported_at("2026-11-30T10:00+00:00", NOW) == dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
    with pytest.raises(EvidenceError, match="not a time"):
        parse_reported_at("igår", NOW)
    with pytest.raises(EvidenceError, match="future"):
        parse_reported_at("2026-12-24T10:00", NOW)


def test_the_gateway_lets_only_the_archivist_and_auditor_read_evidence_and_cases():
    for key in ("evidence/demo-facebook/2026-11-30T120000Z-evidence/page.html",
                "cases/demo-facebook/2026-11-30T120000Z/0001-open.json"):
        for method in ("GET", "HEAD"):
            call = S3Call(method, "b", key, frozenset(), {})
            assert "archivist and auditor" in refusal("pipeline", call)
            assert refusal("auditor", call) is None and refusal("archivist", call) is None
    listing = S3Call("GET", "b", "", frozenset(), {})
    assert refusal("pipeline", listing) is None  # listing keys (case ids, no personal data) stays possible
    new = S3Call("PUT", "b", "cases/a/t/0001-open.json", frozenset(),
                 {"if-none-match": "*", "x-amz-object-lock-mode": "COMPLIANCE",
                  "x-amz-object-lock-retain-until-date": "2028-11-30T00:00:00Z"})
    assert refusal("pipeline", new) is None  # the pipeline files new, locked objects there


# -- the whole case, through the CLI, with real Chromium and SeaweedFS ------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    """The command as a person runs it (its own process: one-line errors, logs as JSON lines on stderr)."""
    done = subprocess.run([sys.executable, "-m", "deployments.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=PROJECT_ROOT)
    assert QUOTE not in done.stderr and "Storgatan" not in done.stderr  # personal data never in logs
    return done


def _one_line_error(done: subprocess.CompletedProcess, code: int) -> str:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr[-3000:])
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("{")]  # not logs
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    return lines[0]


def _ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-3000:])
    return done.stdout


def test_a_reported_comment_opens_a_case_and_its_removal_is_confirmed_only_once_it_is_gone(
        archive, role_archive, sample_site, sample_register):
    url = f"{sample_site.url}comments/7"
    reported = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).isoformat(timespec="minutes")
    auditor, pipeline = role_archive("auditor"), role_archive("pipeline")
    audit_before = len(auditor.read_audit())
    ledger_before = auditor.ledger.head().seq if auditor.ledger.head() else -1
    captures_before = {r.capture_id for r in auditor.list_captures()}

    result = _cli("evidence", "capture", url, "--account", "demo-facebook", "--reason", "kränkande personuppgifter",
                  "--reported-at", reported, "--by", "Kim Kommunikatör", "--quote", QUOTE,
                  "--register", str(sample_register))
    out = _ok(result)
    assert QUOTE not in out
    [case_id] = [line.split()[-1] for line in out.splitlines() if line.startswith("opened moderation case")]

    opened = auditor.read_case(case_id)
    assert opened.status == "open" and opened.version == 1 and opened.url == url and opened.quote == QUOTE
    assert opened.reported_by == "Kim Kommunikatör" and opened.evidence_at >= opened.reported_at
    evidence = auditor.read_evidence(opened.evidence_capture_id)
    assert evidence.trigger.value == "evidence" and evidence.retention_class == "bevis-moderering"
    assert evidence.page.final_url == url and evidence.pdfa is not None and evidence.pdfa.valid
    assert all(f.key.startswith("evidence/") for f in evidence.files)
    assert QUOTE in auditor.read(evidence.file("page.html").key).decode()
    info = auditor.head(evidence.record_key)
    assert info.lock_mode == "COMPLIANCE" and info.retain_until.date() >= (dt.date.today() + dt.timedelta(days=729))
    # restricted: the pipeline identity cannot read the evidence or the case back
    for key in (evidence.file("page.html").key, evidence.record_key, opened.record_key):
        with pytest.raises(Exception, match="read only by the archivist and auditor"):
            pipeline.read(key)
    # not a capture: not in `somearkiv captures`, the search index or disposal
    assert {r.capture_id for r in auditor.list_captures()} == captures_before
    assert opened.evidence_capture_id not in auditor.custody()
    kinds = [e.kind for e in auditor.ledger.verify(fresh=False)[0] if e.seq > ledger_before]
    assert kinds.count("evidence") == 1 and kinds.count("moderation") == 1

    # still shown: refused, the case unchanged
    result = _cli("evidence", "confirm-removed", case_id, "--by", "Kim", "--register", str(sample_register))
    assert "still shows" in _one_line_error(result, 1)
    assert [c.version for c in auditor.case_history(case_id)] == [1]

    # the comment is hidden (the post stays): the quote is gone, so is the comment
    urllib.request.urlopen(f"{url}/hide").read()
    result = _cli("evidence", "confirm-removed", case_id, "--by", "Kim", "--register", str(sample_register))
    out = _ok(result)
    assert "quote-absent" in out and "limit kept" in out
    removed = auditor.read_case(case_id)
    assert removed.status == "removed" and removed.version == 2 and removed.removal_proof == "quote-absent"
    assert removed.previous_key == opened.record_key and removed.removed_at > removed.evidence_at
    assert [c.version for c in auditor.case_history(case_id)] == [1, 2]  # a new object, the first kept
    assert case_clock(removed, dt.datetime.now(dt.UTC)).limit_kept is True
    assert QUOTE not in auditor.read(auditor.read_evidence(removed.removal_capture_id).file("page.html").key).decode()

    # closed: a second confirmation is refused; show and list tell the clock
    assert "already closed" in _one_line_error(
        _cli("evidence", "confirm-removed", case_id, "--by", "Kim", "--register", str(sample_register)), 2)
    shown = _ok(_cli("evidence", "show", case_id))
    assert "48-hour limit kept" in shown and "removed" in shown
    listed = _ok(_cli("evidence", "list"))
    assert case_id in listed and "moderation-overdue" in listed
    assert case_id not in _ok(_cli("evidence", "list", "--open"))

    events = [e for e in auditor.read_audit()[audit_before:] if e.event_type == "moderation"]
    assert [e.data["action"] for e in events] == ["opened", "removal-refused", "removed"]
    assert [e.outcome for e in events] == ["success", "warning", "success"]
    for event in events:  # the quote and the reason stay in the case
        assert QUOTE not in event.model_dump_json() and "kränkande" not in event.detail


def test_a_removed_page_answers_404_and_an_overdue_case_raises_the_event(archive, role_archive, sample_site,
                                                                          sample_register):
    url = f"{sample_site.url}comments/8"
    reported = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=40)).isoformat(timespec="minutes")
    result = _cli("evidence", "capture", url, "--account", "demo-facebook", "--reason", "hot",
                  "--reported-at", reported, "--by", "Kim", "--register", str(sample_register))
    [case_id] = [line.split()[-1] for line in _ok(result).splitlines() if line.startswith("opened moderation case")]
    auditor = role_archive("auditor")

    assert case_id in [c.case_id for c in raise_overdue(auditor)]  # 40 h open: overdue
    listed = _ok(_cli("evidence", "list", "--open"))
    assert any(case_id in line and "OVERDUE" in line for line in listed.splitlines())

    urllib.request.urlopen(f"{url}/remove").read()
    _ok(_cli("evidence", "confirm-removed", case_id, "--by", "Kim", "--register", str(sample_register)))
    removed = auditor.read_case(case_id)
    assert removed.removal_proof == "http-404" and case_clock(removed, removed.removed_at).limit_kept is True
    assert case_id not in [c.case_id for c in raise_overdue(auditor)]


def test_cli_errors_are_one_line(archive, sample_register):
    assert "not a time" in _one_line_error(_cli("evidence", "capture", "http://127.0.0.1/x", "--account",
                                                "demo-facebook", "--reason", "r", "--reported-at", "igår", "--by",
                                                "Kim", "--register", str(sample_register)), 2)
    assert "unknown account" in _one_line_error(_cli("evidence", "capture", "http://127.0.0.1/x", "--account",
                                                     "nobody", "--reason", "r", "--reported-at", "2026-01-01T10:00",
                                                     "--by", "Kim", "--register", str(sample_register)), 2)
    assert "must say why" in _one_line_error(_cli("evidence", "capture", "http://127.0.0.1/x", "--account",
                                                  "demo-facebook", "--reason", " ", "--reported-at",
                                                  "2026-01-01T10:00", "--by", "Kim"), 2)
    assert "not an http(s) address" in _one_line_error(_cli(
        "evidence", "capture", "file:///etc/passwd", "--account", "demo-facebook", "--reason", "r", "--reported-at",
        "2026-01-01T10:00", "--by", "Kim", "--register", str(sample_register)), 2)
    assert "no moderation case" in _one_line_error(_cli("evidence", "show", "demo-facebook/never"), 2)
    assert "no moderation case" in _one_line_error(_cli("evidence", "confirm-removed", "demo-facebook/never",
                                                        "--by", "Kim"), 2)
