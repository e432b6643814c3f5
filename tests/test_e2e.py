"""End to end: the real Prefect flow, real Chromium, real SeaweedFS, the sample start pages."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pikepdf.pdfa
import pypdf
import pytest
from botocore.exceptions import ClientError
from PIL import Image
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from typer.testing import CliRunner

from deployments.cli import app
from flows.snapshot import snapshot_accounts
from somearkiv.fixity import sha256_file
from somearkiv.models import CaptureStatus, FileRole, SnapshotSummary, Trigger
from somearkiv.runstate import run_result
from somearkiv.settings import get_settings
from storage import Archive

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def run(prefect_server, archive, sample_register) -> SnapshotSummary:
    state = snapshot_accounts(register_path=str(sample_register), trigger=Trigger.manual, reason="e2e test",
                              requested_by="pytest", return_state=True)
    summary = run_result(state)
    assert isinstance(summary, SnapshotSummary)
    assert state.is_completed() and "4 of 5 accounts captured" in state.message
    assert "blocked by a wall (evidence filed): demo-missing" in state.message
    return summary


def test_captures_are_converted_and_filed_as_they_end_not_after_the_last(run: SnapshotSummary):
    """At most capture_concurrency + 1 capture tasks hold a worker at once, so each account's
    PDF/A and filing are not queued behind every other account's capture: the first conversion
    begins while pages are still being captured. (When its filing begins depends on how many
    cores the conversion gets beside the browsers; on a busy machine that can be after the last.)"""
    async def task_runs():
        async with get_client() as client:
            return await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.flow_run_id])))

    runs = asyncio.run(task_runs())
    captures = [(r.start_time, r.end_time) for r in runs if r.name.startswith("capture-start-page")]
    conversions = sorted(r.start_time for r in runs if r.name.startswith("convert-to-pdfa"))
    filings = sorted(r.start_time for r in runs if r.name.startswith("file-capture"))
    assert len(captures) == 5 and len(conversions) == 5 and len(filings) == 5
    most_at_once = max(sum(start <= moment < end for start, end in captures) for moment, _ in captures)
    assert most_at_once <= get_settings().capture_concurrency + 1
    assert conversions[0] < max(end for _, end in captures)


def test_one_blocked_account_does_not_stop_the_others(run: SnapshotSummary, archive: Archive):
    outcomes = {o.account_id: o for o in run.outcomes}
    assert set(outcomes) == {"demo-facebook", "demo-instagram", "demo-youtube", "demo-mastodon", "demo-missing"}
    missing = outcomes.pop("demo-missing")
    assert missing.status is CaptureStatus.blocked and "HTTP 404" in missing.error
    assert all(k.startswith("blocked/demo-missing/") for k in missing.object_keys)
    assert "startpage.pdf" not in " ".join(missing.object_keys)
    assert archive.head(next(k for k in missing.object_keys if k.endswith("wall.png"))).legal_hold
    assert "demo-missing" not in {r.account.id for r in archive.list_captures()}
    assert all(o.status is CaptureStatus.captured and o.pdfa == "PDF/A-2b" for o in outcomes.values())


def test_filed_capture_is_valid_pdfa_locked_and_self_describing(run: SnapshotSummary, archive: Archive, tmp_path):
    outcome = next(o for o in run.outcomes if o.account_id == "demo-instagram")
    record_key = next(k for k in outcome.object_keys if k.endswith("record.json"))
    record = archive.read_record(record_key)
    assert {f.name for f in record.files} - {"page-pdfa.pdf"} == {
        "startpage.pdf", "startpage.png", "page.html", "page.pdf", "startpage-mobile.png", "page.warc.gz",
        "words-desktop.json", "words-mobile.json", "elements.json"}
    assert record.file("words-desktop.json").role is FileRole.words
    elements = json.loads(archive.read(record.file("elements.json").key))["elements"]  # read on the live page
    assert record.file("elements.json").role is FileRole.elements and elements["name"]["text"]
    assert record.page.http_status == 200 and record.page.title.startswith("Perstorps kommun")
    assert record.browser.version.startswith("1") and record.browser.viewport_width == 1366
    assert record.browser.locale == "sv-SE" and record.browser.timezone == "Europe/Stockholm"
    assert record.trigger is Trigger.manual and record.reason == "e2e test" and record.requested_by == "pytest"
    assert record.flow_run_id == run.flow_run_id
    assert record.lock.legal_hold and record.retention_class == "bevaras"
    assert set(record.timings) >= {"desktop.navigate", "desktop.settle", "desktop.screenshot", "desktop.save_dom",
                                   "desktop.print_pdf", "mobile.screenshot"}
    assert record.consent is not None and not record.consent.found

    for f in record.files:  # the record's hashes match the stored bytes, and every object is locked
        info = archive.download(f.key, tmp_path / f.name, f.version_id)
        assert sha256_file(tmp_path / f.name) == f.sha256 == info.sha256
        assert info.legal_hold and info.lock_mode == "GOVERNANCE"
        assert info.metadata["account"] == "demo-instagram" and info.metadata["capture-id"] == record.capture_id

    assert pikepdf.pdfa.validate_written(tmp_path / "startpage.pdf", "2b").passed
    reader = pypdf.PdfReader(tmp_path / "startpage.pdf")
    assert reader.xmp_metadata.dc_identifier == record.capture_id
    assert len(reader.pages) == 2 and record.pdfa.pages == 2  # desktop, then mobile
    assert record.pdfa.text_layer == "unicode" and record.pdfa.words > 50
    assert "Bilder från Perstorp" in reader.pages[0].extract_text()  # searchable, å included
    assert any(n.startswith("page.pdf: ") for n in record.notes)  # what became of the print PDF

    # followers and posts in the last month, read from the page (the sample's dates move with today)
    m = record.metrics
    assert (m.followers.value, m.followers.source, m.followers.confidence.value) == (2143, "page", "low")
    assert m.posts_last_month.value == 3 and m.window == "30d" and m.window_end == record.started_at
    assert "followers:2143:page" in reader.xmp_metadata.dc_subject
    pdf_meta = archive.head(record.file("startpage.pdf").key).metadata
    assert pdf_meta["followers"] == "2143" and pdf_meta["posts-last-month"] == "3"
    assert pdf_meta["pdfa"] == "PDF/A-2b validated, text unicode"
    with Image.open(tmp_path / "startpage.png") as png:
        assert png.width == 1366 and png.height == record.browser.page_height
    assert "Perstorps kommun" in (tmp_path / "page.html").read_text(encoding="utf-8")
    assert pypdf.PdfReader(tmp_path / "page.pdf").pages[0].extract_text()  # the print PDF has real text

    pdf = record.file("startpage.pdf")
    with pytest.raises(ClientError):
        archive.client.delete_object(Bucket=archive.bucket, Key=pdf.key, VersionId=pdf.version_id)
    with pytest.raises(ClientError):
        archive.client.put_object(Bucket=archive.bucket, Key=pdf.key, Body=b"forged", IfNoneMatch="*")


def test_lazy_images_are_in_the_screenshot(run: SnapshotSummary, archive: Archive, tmp_path):
    """The sample pages' last posts load their images lazily; the shot must show them, not blanks."""
    outcome = next(o for o in run.outcomes if o.account_id == "demo-facebook")
    record = archive.read_record(next(k for k in outcome.object_keys if k.endswith("record.json")))
    archive.download(record.file("startpage.png").key, tmp_path / "s.png")
    with Image.open(tmp_path / "s.png") as png:
        rgb = png.convert("RGB")
        # the last post's image sits in the lowest 600 px; an unloaded image would leave it white/grey
        bottom = rgb.crop((400, rgb.height - 600, 966, rgb.height - 100))
        colours = bottom.getcolors(maxcolors=1_000_000)
        assert any(c == (0xAE, 0xD6, 0xF1) for _, c in colours), "the lazy image of the last post is missing"


def test_cli_lists_gets_and_refuses_unknown_accounts(run: SnapshotSummary, sample_register, tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["captures", "--account", "demo-youtube", "--json"])
    assert listed.exit_code == 0, listed.output
    records = json.loads(listed.output)
    assert {r["account"]["id"] for r in records} == {"demo-youtube"}
    [mine] = [r for r in records if r["flow_run_id"] == run.flow_run_id]
    key = next(f["key"] for f in mine["files"] if f["name"] == "startpage.pdf")
    got = runner.invoke(app, ["get", key, "-o", str(tmp_path / "yt.pdf")])
    assert got.exit_code == 0 and "verified" in got.output
    into_dir = runner.invoke(app, ["get", key, "-o", str(tmp_path)])  # a directory: the object's own name there
    assert into_dir.exit_code == 0 and (tmp_path / "startpage.pdf").read_bytes() == (tmp_path / "yt.pdf").read_bytes()

    checked = runner.invoke(app, ["verify", key])  # PDF/A twice over, and fixity against the record
    assert checked.exit_code == 0, checked.output
    assert "PDF/A-2b check: PASSED" in checked.output and "capture record matches" in checked.output
    as_json = json.loads(runner.invoke(app, ["verify", key, "--json"]).output)
    assert as_json["pdf"]["passed"] and as_json["fixity"]["record"] == "matches"
    broken = tmp_path / "broken.pdf"
    broken.write_bytes((tmp_path / "yt.pdf").read_bytes() + b"trailing garbage")
    failed = runner.invoke(app, ["verify", str(broken)])
    assert failed.exit_code == 1 and "6.1.3-3" in failed.output
    text = runner.invoke(app, ["captures"])
    assert "legal hold" in text.output and "trigger=manual" in text.output

    refused = runner.invoke(app, ["snapshot", "--account", "nope", "--register", str(sample_register)])
    assert refused.exit_code == 2 and "unknown account(s)" in refused.output


def test_cli_before_change_snapshot_of_one_account(prefect_server, archive, sample_register):
    result = CliRunner().invoke(app, ["snapshot", "--account", "demo-mastodon", "--register", str(sample_register),
                                      "--trigger", "before-change", "--reason", "ny profilbild", "--by", "Kommunikatör"])
    assert result.exit_code == 0, result.output
    assert "1 captured, 0 blocked, 0 failed" in result.output
    [latest] = [r for r in archive.list_captures("demo-mastodon") if r.trigger is Trigger.before_change]
    assert latest.reason == "ny profilbild" and latest.requested_by == "Kommunikatör"
    assert latest.capture_id.endswith("-before-change")


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The `somearkiv` command as a person runs it (main(): one-line errors and exit statuses)."""
    return subprocess.run([sys.executable, "-m", "deployments.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


def test_get_writes_to_a_file_a_folder_or_standard_output_only_what_verified(run: SnapshotSummary, archive,
                                                                             tmp_path):
    """-o FILE, -o FOLDER/ (made, the object's own name inside: it had written a file named FOLDER), -o -
    (the verified bytes on standard output, the check's line on standard error); -o '' is refused."""
    key = next(k for o in run.outcomes for k in o.object_keys if k.endswith("startpage.pdf"))
    body = archive.read(key)
    folder = _cli("get", key, "-o", f"{tmp_path / 'new' / 'folder'}/")
    assert folder.returncode == 0 and (tmp_path / "new" / "folder" / "startpage.pdf").read_bytes() == body, folder
    piped = subprocess.run([sys.executable, "-m", "deployments.cli", "get", key, "-o", "-"], capture_output=True,
                           timeout=120)
    assert piped.returncode == 0 and piped.stdout == body, piped.stderr[-2000:]
    assert piped.stderr.decode().strip().endswith("verified") and piped.stderr.count(b"\n") == 1
    empty = _cli("get", key, "-o", "")
    assert empty.returncode == 2 and "-o names nothing" in empty.stderr


def test_cli_errors_are_one_line_with_their_own_exit_status(run: SnapshotSummary, sample_register, tmp_path):
    key = next(k for o in run.outcomes for k in o.object_keys if k.endswith("startpage.pdf"))
    cases = [
        (_cli("get", "", "-o", str(tmp_path / "x")), 2, "is not an object's key"),
        (_cli("get", "audit/", "-o", str(tmp_path / "x")), 2, "is not an object's key"),
        (_cli("get", key, "-o", "/proc/self/mem"), 7, "cannot write /proc/self/mem"),
        (_cli("get", key, "-o", "/dev/null"), 7, "not a regular file"),
        (_cli("get", key, "-o", "/proc/no-such-dir/x.pdf"), 7, "cannot write /proc/no-such-dir/x.pdf"),
        (_cli("register", "publish", "--out", "/dev/null", "--register", "accounts.example.yaml"), 7,
         "/dev/null: exists and is not a folder (choose"),
        (_cli("verify", str(tmp_path)), 7, "is not a regular file"),
        (_cli("get", "captures/x\n\x1b[2KFORGED\u202e/a.pdf", "-o", str(tmp_path / "x")), 2,
         "captures/x\\n\\x1b[2KFORGED\\u202e/a.pdf"),  # a key's control characters are shown, not obeyed
        (_cli("captures", SOMEARKIV_S3_EMBEDDED="false", SOMEARKIV_S3_ENDPOINT_URL="http://127.0.0.1:9",
              AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y", AWS_MAX_ATTEMPTS="1"), 5, "the archive's S3 storage"),
    ]
    for done, status, says in cases:
        lines = done.stderr.strip().splitlines()
        assert done.returncode == status, (done.args, done.returncode, done.stderr[-2000:])
        assert len(lines) == 1 and says in lines[0] and "Traceback" not in done.stderr, done.stderr[-2000:]
    unknown = {"SOMEARKIV_REGISTER_PATH": str(sample_register)}
    for command in ("captures", "metrics", "audit"):
        done = _cli(command, "-a", "demo-youtub", **unknown)  # a mistyped account: said in words, not an empty screen
        assert done.returncode == 0 and "for demo-youtub; demo-youtub is not in the register" in done.stdout, done
    known = _cli("audit", "-a", "demo-youtube", **unknown)
    assert "not in the register" not in known.stdout + known.stderr and "capture" in known.stdout
    debug = _cli("--debug", "captures", SOMEARKIV_S3_EMBEDDED="false", SOMEARKIV_S3_ENDPOINT_URL="http://127.0.0.1:9",
                 AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y", AWS_MAX_ATTEMPTS="1")
    assert debug.returncode != 0 and "Traceback" in debug.stderr
