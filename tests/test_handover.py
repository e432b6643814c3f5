"""P9 end to end: every capture filed with a manifest and an RFC 3161 token, checked by
`somearkiv verify`, and handed over as a validated E-ARK SIP."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from deployments.cli import app
from flows.snapshot import snapshot_accounts
from somearkiv.models import Trigger
from somearkiv.settings import get_settings
from storage.custody import check_key
from tasks.sip import validate_sip
from tasks.timestamp import MANIFEST_NAME, TOKEN_NAME, verify_timestamp

from .tsa_double import TsaDouble


@pytest.fixture(scope="module")
def stamped_run(prefect_server, archive, sample_register, tmp_path_factory):
    """A snapshot run with a timestamp authority configured (a local one, with a throwaway CA)."""
    import os

    with TsaDouble() as tsa:
        ca = tmp_path_factory.mktemp("tsa") / "ca.pem"
        ca.write_bytes(tsa.ca_pem)
        saved = {k: os.environ.get(k) for k in ("SOMEARKIV_TSA_URL", "SOMEARKIV_TSA_CA_FILE")}
        os.environ.update({"SOMEARKIV_TSA_URL": tsa.url, "SOMEARKIV_TSA_CA_FILE": str(ca)})
        get_settings.cache_clear()
        try:
            state = snapshot_accounts(account_ids=["demo-mastodon", "demo-instagram"], trigger=Trigger.manual,
                                      reason="handover test", register_path=str(sample_register),
                                      return_state=True)
            assert state.is_completed(), state.message
            yield state.result(), tsa
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            get_settings.cache_clear()


def test_every_capture_has_a_manifest_and_a_verified_timestamp(stamped_run, archive):
    summary, tsa = stamped_run
    assert len(tsa.requests) == 3  # one per capture, and one over the ledger's head after the run
    head = archive.ledger.head()
    token = archive.read(f"ledger/{head.seq:012d}.tsr")
    assert verify_timestamp(token, head.hash.encode(), trusted_ca_pem=tsa.ca_pem).valid
    assert head.kind == "capture" and head.capture_id in {o.capture_id for o in summary.outcomes}
    for outcome in summary.outcomes:
        folder = outcome.object_keys[-1].rsplit("/", 1)[0]
        manifest = json.loads(archive.read(f"{folder}/{MANIFEST_NAME}"))
        assert manifest["capture_id"] == outcome.capture_id and manifest["hash_algorithm"] == "SHA-256"
        assert {f["name"] for f in manifest["files"]} >= {"startpage.pdf", "record.json"}
        assert archive.head(f"{folder}/{TOKEN_NAME}").legal_hold  # locked like the capture
        result = CliRunner().invoke(app, ["verify", f"{folder}/startpage.pdf"])  # the TSA's CA is configured
        assert result.exit_code == 0, result.output
        assert "timestamp: valid RFC 3161 token" in result.output
    assert any(e.event_type == "capture" and "RFC 3161 timestamp from" in e.detail for e in archive.read_audit())


def test_export_sip_builds_valid_packages_and_marks_delivery(stamped_run, archive, tmp_path):
    summary, _tsa = stamped_run
    result = CliRunner().invoke(app, ["export-sip", "--account", "demo-mastodon", "--out", str(tmp_path),
                                      "--zip"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("demo-mastodon:"))
    package = line.split("→ ")[1].strip()
    assert package.endswith(".zip") and zipfile.is_zipfile(package)
    assert validate_sip(package) == []
    with zipfile.ZipFile(package) as packed:
        names = {n.split("/", 1)[1] for n in packed.namelist() if "/" in n and not n.endswith("/")}
    assert "METS.xml" in names and "metadata/preservation/premis.xml" in names
    # the TSA's CA is configured: it goes into the package, so the receiver can verify the tokens alone
    assert "metadata/preservation/timestamps/tsa-ca.pem" in names and any(n.endswith(TOKEN_NAME) for n in names)
    assert {n.split("/", 1)[0] for n in packed.namelist()} == {Path(package).stem}
    assert any(n.startswith("representations/rep1/data/") and n.endswith("startpage.pdf") for n in names)

    # the captures are marked delivered, unchanged, and the export is in the audit trail
    mastodon = next(o for o in summary.outcomes if o.account_id == "demo-mastodon")
    record = archive.read_record(mastodon.object_keys[-1])
    assert archive.tags(record.file("startpage.pdf").key).get("delivered")
    assert [r.status for r in check_key(archive, record.file("startpage.pdf").key)] == ["ok"]
    assert any(e.event_type == "sip-export" and e.account_id == "demo-mastodon" for e in archive.read_audit())


def test_a_corrupted_package_is_detected(stamped_run, archive, tmp_path):
    CliRunner().invoke(app, ["export-sip", "--account", "demo-instagram", "--out", str(tmp_path)])
    [package] = [p for p in tmp_path.iterdir() if p.is_dir()]
    pdf = next(package.rglob("startpage.pdf"))
    pdf.write_bytes(pdf.read_bytes()[:-10] + b"0123456789")
    problems = validate_sip(package)
    assert problems and any("startpage.pdf" in p for p in problems)


@pytest.fixture
def own_bucket(s3_server, monkeypatch, request):
    """A fresh bucket for this test, made the configured one, so that tampering stays out of the shared one."""
    import hashlib

    name = "handover-" + hashlib.sha256(request.node.name.encode()).hexdigest()[:10]
    s3_server.ensure_bucket(name)
    monkeypatch.setenv("SOMEARKIV_S3_BUCKET", name)
    monkeypatch.delenv("SOMEARKIV_TSA_CA_FILE", raising=False)
    get_settings.cache_clear()
    yield name
    get_settings.cache_clear()


def test_export_reads_the_filed_versions_from_the_custody_ledger(own_bucket, s3_server, admin_client, prefect_server,
                                                                 tmp_path):
    """A newer version put over a filed object (by someone with the server's keys) neither blocks the export
    nor gets into the package: the package holds the bytes the ledger says were filed."""
    import datetime as dt
    import hashlib

    from prefect.logging import disable_run_logger

    from somearkiv.models import ArchivedFile, FileRole, LockMode, ObjectLock
    from storage import Archive
    from tasks.export import build_account_sip

    from .factories import account, capture_files

    archive = Archive.from_settings(get_settings(), start_embedded=False)
    started = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)
    base, folder = capture_files(tmp_path / "capture", started, account=account(id="handover-versions"))
    pdf = b"%PDF-1.7 the filed snapshot"
    (folder / "startpage.pdf").write_bytes(pdf)
    files = (*base.files, ArchivedFile(name="startpage.pdf", role=FileRole.archival, media_type="application/pdf",
                                       size=len(pdf), sha256=hashlib.sha256(pdf).hexdigest()))
    lock = ObjectLock(mode=LockMode.GOVERNANCE, retain_until=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
                      legal_hold=False)
    filed = archive.file_capture(base.model_copy(update={"files": files}), folder, lock)
    key = filed.file("startpage.pdf").key
    admin_client.put_object(Bucket=own_bucket, Key=key, Body=b"%PDF-1.7 put over it later",
                            ContentType="application/pdf")
    assert archive.read(key) != pdf  # the latest version is not the filed one

    with disable_run_logger():
        result = build_account_sip.fn("handover-versions", None, None, str(tmp_path / "out"), False)
    package = Path(result["package"])
    assert validate_sip(package) == []
    [exported] = package.glob("representations/rep1/data/*/startpage.pdf")
    assert exported.read_bytes() == pdf
    assert package.name == etree.parse(str(package / "METS.xml")).getroot().get("OBJID")
