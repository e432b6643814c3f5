"""Retention, legal holds, fixity and disposal only by decision, against a real SeaweedFS."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pikepdf.pdfa
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from deployments.cli import app
from flows.disposal import prune_expired
from flows.fixity import verify_fixity
from somearkiv.fixity import sha256_file
from somearkiv.models import ArchivedFile, CaptureStatus, FileRole, RetentionAction
from somearkiv.settings import get_settings
from storage import PROTOCOL_PREFIX, Archive, ArchiveError

from .factories import SHORT_GALLRING_S as SHORT
from .factories import account, capture_files, record
from .test_operations import _resume_when_paused


def file(archive: Archive, schedule, tmp_path, account_id: str, klass: str, second: int = 0):
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=second)
    acc = account(id=account_id, retention_class=klass)
    rec, folder = capture_files(tmp_path / f"{account_id}-{second}", started, account=acc,
                                content=f"<html>{account_id} {second}</html>".encode())
    return archive.file_capture(rec, folder, schedule.get(klass).lock_for(started))


def test_locks_follow_the_class_and_hold_against_the_pipelines_own_credentials(archive, schedule_file, tmp_path):
    kept = file(archive, schedule_file, tmp_path, "lock-bevaras", "bevaras")
    short = file(archive, schedule_file, tmp_path, "lock-kort", "kort")
    assert schedule_file.get("bevaras").action is RetentionAction.bevaras
    for filed, hold, mode in ((kept, True, "GOVERNANCE"), (short, False, "COMPLIANCE")):
        for f in filed.files:
            info = archive.head(f.key, f.version_id)
            assert info.legal_hold is hold and info.lock_mode == mode
            with pytest.raises(ArchiveError):  # not even with the governance bypass
                archive.delete_version(f.key, f.version_id, bypass_governance=True)
    png = short.file("startpage.png")
    with pytest.raises(ClientError):  # nor can the date be brought forward
        archive.client.put_object_retention(Bucket=archive.bucket, Key=png.key, VersionId=png.version_id,
                                            Retention={"Mode": "COMPLIANCE",
                                                       "RetainUntilDate": dt.datetime.now(dt.UTC)})
    assert archive.version_exists(png.key, png.version_id)


def _run_disposal(api_url: str, answer: dict | None, timeout_s: int = 120):
    if answer is not None:
        threading.Thread(target=_resume_when_paused, args=(api_url, answer), daemon=True).start()
    return prune_expired(approval_timeout_s=timeout_s, poll_interval_s=1, return_state=True)


def test_disposal_deletes_exactly_what_the_archivist_approved(prefect_server, archive, schedule_file, tmp_path):
    from prefect.settings import PREFECT_API_URL

    approved = file(archive, schedule_file, tmp_path, "gallra-a", "kort")
    not_chosen = file(archive, schedule_file, tmp_path, "gallra-b", "kort")
    kept = file(archive, schedule_file, tmp_path, "gallra-bevaras", "bevaras")
    held = file(archive, schedule_file, tmp_path, "gallra-held", "kort")
    result = CliRunner().invoke(app, ["hold", "gallra-held", "--reason", "begäran om utlämnande", "--by", "Jurist"])
    assert result.exit_code == 0, result.output
    time.sleep(SHORT + 1)

    # rejected: nothing is deleted
    state = _run_disposal(PREFECT_API_URL.value(), {"answered_by": "Arkivarie", "decision": "reject"})
    assert state.is_completed() and "rejected" in state.message
    # timed out: nothing is deleted
    state = _run_disposal(PREFECT_API_URL.value(), None, timeout_s=3)
    assert "timed out" in state.message
    for filed in (approved, not_chosen, kept, held):
        assert all(archive.version_exists(f.key, f.version_id) for f in filed.files)

    # approved, one capture of the two proposed
    state = _run_disposal(PREFECT_API_URL.value(), {"answered_by": "Arkivarie Berg", "decision": "approve-selected",
                                                    "selected": [approved.capture_id],
                                                    "comment": "enligt KS § 13"})
    assert state.is_completed(), state.message
    assert "1 of 1 approved captures disposed of" in state.message
    assert not any(archive.version_exists(f.key, f.version_id) for f in approved.files)
    left = archive.client.list_object_versions(Bucket=archive.bucket, Prefix=f"captures/{approved.capture_id}/")
    assert not left.get("Versions") and not left.get("DeleteMarkers")  # the record.json too; no markers
    assert approved.capture_id not in {r.capture_id for r in archive.list_captures("gallra-a")}
    for filed in (not_chosen, kept, held):
        assert all(archive.version_exists(f.key, f.version_id) for f in filed.files)

    # the protocol: JSON and PDF/A, permanent, naming the approver, the decision and every version
    keys = [o["Key"] for o in archive.client.list_objects_v2(Bucket=archive.bucket,
                                                             Prefix=PROTOCOL_PREFIX).get("Contents", [])]
    [json_key] = [k for k in keys if k.endswith(".json") and k.split("/")[-1] >= "2000"][-1:]
    protocol = json.loads(archive.client.get_object(Bucket=archive.bucket, Key=json_key)["Body"].read())
    assert protocol["review"]["answered_by"] == "Arkivarie Berg"
    assert protocol["all_verified_gone"] is True
    assert [c["capture_id"] for c in protocol["captures"]] == [approved.capture_id]
    assert protocol["captures"][0]["decision"]["paragraph"] == "§ 13"
    disposed = {(d["key"], d["version_id"]) for d in protocol["disposed"]}
    assert {(f.key, f.version_id) for f in approved.files} <= disposed
    assert archive.head(json_key).legal_hold
    pdf_key = json_key.replace(".json", ".pdf")
    archive.download(pdf_key, tmp_path / "protocol.pdf")
    assert pikepdf.pdfa.validate_written(tmp_path / "protocol.pdf", "2b").passed

    trail = [e for e in archive.read_audit() if e.event_datetime > approved.filed_at]
    kinds = [e.event_type for e in trail]
    assert {"hold", "disposal-review", "deletion", "disposal-protocol"} <= set(kinds)
    [deletion] = [e for e in trail if e.event_type == "deletion"]
    assert deletion.account_id == "gallra-a" and "person:Arkivarie Berg" in deletion.agents
    assert [e for e in trail if e.event_type == "hold"][0].data["reason"] == "begäran om utlämnande"


def test_hold_release_is_refused_for_bevaras_and_recorded(archive, schedule_file, tmp_path):
    kept = file(archive, schedule_file, tmp_path, "hold-bevaras", "bevaras")
    short = file(archive, schedule_file, tmp_path, "hold-kort", "kort")
    runner = CliRunner()
    placed = runner.invoke(app, ["hold", short.capture_id, "--reason", "tvist", "--by", "Jurist"])
    assert placed.exit_code == 0 and "held: " + short.capture_id in placed.output
    assert all(archive.head(k, v).legal_hold for k, v in archive.capture_objects(short))
    lifted = runner.invoke(app, ["hold", short.capture_id, "--release", "--reason", "tvisten avgjord"])
    assert lifted.exit_code == 0
    assert not any(archive.head(k, v).legal_hold for k, v in archive.capture_objects(short))
    refused = runner.invoke(app, ["hold", "hold-bevaras", "--release", "--reason", "x"])
    assert refused.exit_code == 1 and "bevaras" in refused.output
    assert all(archive.head(k, v).legal_hold for k, v in archive.capture_objects(kept))
    trail = CliRunner().invoke(app, ["audit", "--account", "hold-kort"])
    assert "hold " in trail.output and "release " in trail.output and "tvisten avgjord" in trail.output


def test_fixity_flow_passes_on_intact_captures(prefect_server, archive, schedule_file, tmp_path):
    file(archive, schedule_file, tmp_path, "fixity-ok", "bevaras")
    state = verify_fixity(account_id="fixity-ok", return_state=True)
    assert state.is_completed(), state.message
    assert "all intact" in state.message


def test_disposal_is_true_when_a_hold_comes_during_the_review(prefect_server, archive, schedule_file, tmp_path):
    """A hold placed while the review waits: nothing of that capture is deleted, and the protocol and
    the audit trail say so; the other approved capture goes, and its local copy with it."""
    from prefect.settings import PREFECT_API_URL

    from tasks.disposal import find_expired

    late_hold = file(archive, schedule_file, tmp_path, "truth-held-late", "kort")
    goes = file(archive, schedule_file, tmp_path, "truth-goes", "kort")
    local = get_settings().data_dir / "captures" / goes.capture_id
    local.mkdir(parents=True)
    (local / "startpage.png").write_bytes(b"local copy")
    time.sleep(SHORT + 1)
    proposed = len(find_expired.fn())  # earlier tests may have left expired captures: approve-all takes them too

    def hold_then_approve():
        from tests.test_operations import _wait_paused

        _wait_paused(PREFECT_API_URL.value())
        held = CliRunner().invoke(app, ["hold", late_hold.capture_id, "--reason", "begäran om utlämnande"])
        assert held.exit_code == 0, held.output
        _resume_when_paused(PREFECT_API_URL.value(), {"answered_by": "Arkivarie", "decision": "approve-all"})

    threading.Thread(target=hold_then_approve, daemon=True).start()
    state = prune_expired(approval_timeout_s=120, poll_interval_s=1, return_state=True)
    assert state.is_completed(), state.message
    assert f"{proposed - 1} of {proposed} approved captures disposed of" in state.message
    assert "not deleted" in state.message
    assert all(archive.version_exists(f.key, f.version_id) for f in late_hold.files)
    assert not any(archive.version_exists(f.key, f.version_id) for f in goes.files)
    assert not local.exists()

    keys = sorted(o["Key"] for o in archive.client.list_objects_v2(
        Bucket=archive.bucket, Prefix=PROTOCOL_PREFIX).get("Contents", []) if o["Key"].endswith(".json"))
    protocol = json.loads(archive.read(keys[-1]))
    assert protocol["all_verified_gone"] is False
    assert goes.capture_id in [c["capture_id"] for c in protocol["captures"]]
    assert goes.capture_id in protocol["captures_disposed"]
    assert late_hold.capture_id not in [c["capture_id"] for c in protocol["captures"]] + protocol["captures_disposed"]
    assert {d["key"] for d in protocol["disposed"]} >= {f.key for f in goes.files}
    assert not any(d["capture_id"] == late_hold.capture_id for d in protocol["disposed"])
    assert {s["capture_id"] for s in protocol["skipped"]} == {late_hold.capture_id}
    assert all("legal hold" in s["reason"] for s in protocol["skipped"])
    assert str(local.resolve()) in protocol["local_copies_removed"]
    assert protocol["metrics_report"].startswith("reports/metrics/")

    deletions = {e.data["capture_id"]: e for e in archive.read_audit() if e.event_type == "deletion"}
    assert deletions[late_hold.capture_id].outcome == "failure"
    assert deletions[goes.capture_id].outcome == "success"
    ledger = [e for e in archive.ledger.verify()[0] if e.kind == "disposal"]
    assert {e.capture_id for e in ledger} >= {goes.capture_id} and late_hold.capture_id not in {
        e.capture_id for e in ledger}
    # the held capture is still listed; the disposed one is not
    listed = {r.capture_id for r in archive.list_captures()}
    assert late_hold.capture_id in listed and goes.capture_id not in listed


def test_approve_selected_refuses_ids_that_are_not_proposed(prefect_server, archive, schedule_file, tmp_path):
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.settings import PREFECT_API_URL

    from tasks.disposal import approval_form, find_expired

    proposed = file(archive, schedule_file, tmp_path, "select-proposed", "kort")
    time.sleep(SHORT + 1)
    candidates = [c for c in find_expired.fn() if c.capture_id == proposed.capture_id]
    form = approval_form(candidates)
    assert form(answered_by="A", decision="approve-selected", selected=[proposed.capture_id])
    with pytest.raises(ValueError):
        form(answered_by="A", decision="approve-selected", selected=["someone-else/2026-01-01T000000Z-manual"])
    schema = json.dumps(form.model_json_schema())
    assert proposed.capture_id in schema  # the UI offers the proposed ids as choices

    outcome = {}

    def answer_wrong_then_reject():
        from tests.test_operations import _wait_paused

        run_id = _wait_paused(PREFECT_API_URL.value())
        try:
            _resume_when_paused(PREFECT_API_URL.value(), {"answered_by": "A", "decision": "approve-selected",
                                                          "selected": ["no-such/2026-01-01T000000Z-manual"]})
        except (PrefectHTTPStatusError, RuntimeError, ValueError) as exc:
            outcome["refused"] = str(exc)
        outcome["still_paused"] = _wait_paused(PREFECT_API_URL.value(), tries=4) == run_id
        _resume_when_paused(PREFECT_API_URL.value(), {"answered_by": "A", "decision": "reject"})

    threading.Thread(target=answer_wrong_then_reject, daemon=True).start()
    state = prune_expired(approval_timeout_s=120, poll_interval_s=1, return_state=True)
    assert "refused" in outcome and outcome["still_paused"], outcome
    assert state.is_completed() and "rejected" in state.message
    assert all(archive.version_exists(f.key, f.version_id) for f in proposed.files)


def test_the_watch_buffer_is_proposed_for_disposal_when_its_time_has_come(archive, schedule_file, tmp_path):
    """Watches (watch/, a short-lived class) go the same way as captures: proposed, deleted by version, verified."""
    from prefect.settings import PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW, temporary_settings

    from somearkiv.models import WatchRecord
    from tasks.disposal import dispose, find_expired

    base = record(account=account(id="bevakad", retention_class="kort"))
    folder = tmp_path / "watch"
    folder.mkdir()
    (folder / "startpage.png").write_bytes(b"\x89PNG a watch")
    png = ArchivedFile(name="startpage.png", role=FileRole.screenshot, media_type="image/png",
                       size=(folder / "startpage.png").stat().st_size, sha256=sha256_file(folder / "startpage.png"))
    started = dt.datetime.now(dt.UTC)
    watch = WatchRecord(watch_id=f"bevakad/{started:%Y-%m-%dT%H%M%S}Z-watch", municipality="Perstorps kommun",
                        account=base.account, status=CaptureStatus.captured, started_at=started, finished_at=started,
                        page=base.page, browser=base.browser, files=(png,), retention_class="kort")
    filed = archive.file_watch(watch, folder, schedule_file.get("kort").lock_for(started))
    time.sleep(SHORT + 1)
    # tasks run outside a flow here: their log lines have no flow run to go to (a warning each)
    with temporary_settings({PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW: "ignore"}):
        [candidate] = [c for c in find_expired() if c.capture_id == watch.watch_id]
        assert {o.key for o in candidate.objects} == {filed.file("startpage.png").key, filed.record_key}
        done = dispose.fn([candidate], "Arkivarie", "bevakningsbuffert")
    assert all(d.verified_gone for d in done.disposed) and len(done.disposed) == 2 and not done.skipped
    assert watch.watch_id not in archive.all_watch_ids()
