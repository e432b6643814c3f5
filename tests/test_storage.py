"""The archive against a real SeaweedFS with Object Lock: checksums, locks, no overwrite, no delete."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from somearkiv.models import LockMode, ObjectLock
from storage import Archive, ArchiveError, FixityError

from .factories import account, capture_files

LOCK = ObjectLock(mode=LockMode.GOVERNANCE, retain_until=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
                  legal_hold=True)


def captured(tmp_path, started_at, content=b"<html>Perstorp</html>"):
    return capture_files(tmp_path / "capture", started_at, content, account=account(name="Perstorps kommun – Åby"))


def test_filed_objects_carry_checksum_lock_and_metadata(archive: Archive, tmp_path):
    rec, folder = captured(tmp_path, dt.datetime(2026, 1, 1, 6, 0, tzinfo=dt.UTC))
    filed = archive.file_capture(rec, folder, LOCK)
    assert filed.record_key == f"captures/{rec.capture_id}/record.json"
    assert filed.record_key.startswith("captures/perstorp-facebook/2026-01-01T060000Z-manual/")
    for f in filed.files:
        info = archive.head(f.key)
        assert info.version_id == f.version_id
        assert info.sha256 == f.sha256
        assert info.lock_mode == "GOVERNANCE" and info.legal_hold
        assert abs((info.retain_until - LOCK.retain_until).total_seconds()) < 1
        assert info.media_type == f.media_type
        assert info.metadata["account"] == "perstorp-facebook"
        assert info.metadata["trigger"] == "manual"
        assert info.metadata["captured-at"] == "2026-01-01T06:00:00+00:00"
        assert info.metadata["retention-class"] == "bevaras"
        assert info.metadata["origin"] == "upprattad"
        raw = archive.client.head_object(Bucket=archive.bucket, Key=f.key, ChecksumMode="ENABLED")
        assert base64.b64decode(raw["ChecksumSHA256"]).hex() == f.sha256  # the server's own checksum
    # record.json: every file's key, size and sha256 match the stored bytes
    stored = json.loads(archive.client.get_object(Bucket=archive.bucket, Key=filed.record_key)["Body"].read())
    assert stored["account"]["name"] == "Perstorps kommun – Åby"
    for f in stored["files"]:
        body = archive.client.get_object(Bucket=archive.bucket, Key=f["key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == f["sha256"] and len(body) == f["size"]
    assert archive.head(filed.record_key).legal_hold
    assert [r.capture_id for r in archive.list_captures("perstorp-facebook")].count(rec.capture_id) == 1


def test_nothing_filed_is_overwritten_or_deleted(archive: Archive, admin_client, tmp_path):
    rec, folder = captured(tmp_path, dt.datetime(2026, 1, 2, 6, 0, tzinfo=dt.UTC))
    filed = archive.file_capture(rec, folder, LOCK)
    again = archive.file_capture(rec, folder, LOCK)  # a retried upload of the same bytes is accepted
    assert [f.version_id for f in again.files] == [f.version_id for f in filed.files]

    (tmp_path / "other").mkdir()
    other, other_folder = captured(tmp_path / "other", dt.datetime(2026, 1, 2, 6, 0, tzinfo=dt.UTC),
                                   content=b"<html>changed</html>")
    with pytest.raises(ArchiveError, match="never overwritten"):
        archive.file_capture(other, other_folder, LOCK)
    # even when the record is not there yet (a capture that died half-filed), no object is replaced
    half = other.model_copy(update={"capture_id": other.capture_id + "-half"})
    archive._put(f"captures/{half.capture_id}/page.html", b"first", "text/html", {}, LOCK)
    with pytest.raises(ArchiveError, match="never overwritten"):
        archive.file_capture(half, other_folder, LOCK)
    assert archive.head(filed.files[0].key).sha256 == filed.files[0].sha256

    png = filed.file("startpage.png")
    with pytest.raises(ClientError) as refused:
        admin_client.delete_object(Bucket=archive.bucket, Key=png.key, VersionId=png.version_id)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"  # the server's lock, even for its admin
    with pytest.raises(ClientError):  # not even with the governance bypass: the legal hold holds
        admin_client.delete_object(Bucket=archive.bucket, Key=png.key, VersionId=png.version_id,
                                     BypassGovernanceRetention=True)
    assert archive.head(png.key, png.version_id).sha256 == png.sha256


def test_download_checks_sha256(archive: Archive, admin_client, tmp_path):
    rec, folder = captured(tmp_path, dt.datetime(2026, 1, 3, 6, 0, tzinfo=dt.UTC))
    filed = archive.file_capture(rec, folder, LOCK)
    html = filed.file("page.html")
    info = archive.download(html.key, tmp_path / "out" / "page.html")
    assert (tmp_path / "out" / "page.html").read_bytes() == (folder / "page.html").read_bytes()
    assert info.sha256 == html.sha256

    # An object whose bytes do not match the SHA-256 it claims is caught, and nothing is written.
    admin_client.put_object(Bucket=archive.bucket, Key="captures/tampered/x.html", Body=b"other bytes",
                            Metadata={"sha256": html.sha256})
    with pytest.raises(FixityError, match="does not match"):
        archive.download("captures/tampered/x.html", tmp_path / "out" / "bad.html")
    assert not (tmp_path / "out" / "bad.html").exists()


def test_bucket_without_object_lock_is_refused(archive: Archive, admin_client):
    admin_client.create_bucket(Bucket="plain-no-lock")
    with pytest.raises(ArchiveError, match="Object Lock"):
        Archive(archive.client, "plain-no-lock").ensure_bucket()


def test_the_pipeline_may_not_create_a_bucket(archive: Archive):
    with pytest.raises(ArchiveError, match="may not create it"):
        Archive(archive.client, "no-such-bucket-yet").ensure_bucket()


def test_wrong_checksum_is_refused_by_the_server(archive: Archive, admin_client, tmp_path):
    # Our own check first: a file changed after capture is refused before any upload.
    rec, folder = captured(tmp_path, dt.datetime(2026, 1, 4, 6, 0, tzinfo=dt.UTC))
    (folder / "page.html").write_bytes(b"changed after capture")
    with pytest.raises(FixityError, match="changed since it was captured"):
        archive.file_capture(rec, folder, LOCK)

    # Then the server's own: put_new's PUT whose bytes do not match the SHA-256 sent with them is
    # refused by SeaweedFS (the gateway has no such check, it forwards), as the pipeline through the
    # gateway and as SeaweedFS's administrator on its own port; nothing is stored under the key,
    # and the same PUT with the right SHA-256 is then accepted there.
    body = b"the bytes that arrived"
    for client, key in ((archive.client, "checksum-probe/pipeline.html"),
                        (admin_client, "checksum-probe/admin.html")):
        def put(checksum: bytes, client=client, key=key):
            return client.put_object(
                Bucket=archive.bucket, Key=key, Body=body, ContentType="text/html",
                ChecksumSHA256=base64.b64encode(hashlib.sha256(checksum).digest()).decode(),
                ObjectLockMode=LOCK.mode.value, ObjectLockRetainUntilDate=LOCK.retain_until,
                ObjectLockLegalHoldStatus="ON", IfNoneMatch="*")

        with pytest.raises(ClientError) as refused:
            put(b"the bytes that were captured")
        assert refused.value.response["Error"]["Code"] == "BadDigest", refused.value.response
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        with pytest.raises(ClientError) as missing:
            client.head_object(Bucket=archive.bucket, Key=key)
        assert missing.value.response["Error"]["Code"] == "404"
        assert put(body)["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()


@pytest.mark.usefixtures("s3_server")  # a test that starts SeaweedFS (see conftest.py); its own runs beside it
def test_a_cli_command_that_starts_the_embedded_server_says_so_once(tmp_path, monkeypatch):
    """`somearkiv captures` on a machine where the embedded server is not running starts it and
    leaves it running for the next commands: one line on stderr says so, and how to stop it;
    the next command, finding it running, says nothing of it. stdout (maybe JSON) stays clean."""
    from typer.testing import CliRunner

    from deployments.cli import app
    from somearkiv.settings import get_settings
    from storage import EmbeddedS3, EmbeddedS3Error
    from tests.processes import worker_port

    port = worker_port(18440)  # a server of its own, beside the session's
    monkeypatch.setenv("SOMEARKIV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SOMEARKIV_S3_EMBEDDED_PORT", str(port))
    get_settings.cache_clear()
    server = EmbeddedS3(tmp_path / "data" / "seaweedfs", port)
    try:
        assert not server.is_running()
        first = CliRunner().invoke(app, ["captures", "--json"])
        assert first.exit_code == 0, first.output
        assert server.is_running()
        started = [line for line in first.stderr.splitlines() if "embedded S3 server" in line]
        assert len(started) == 1 and server.endpoint_url in started[0] and "somearkiv down" in started[0]
        assert json.loads(first.stdout) == []
        second = CliRunner().invoke(app, ["captures", "--json"])
        assert second.exit_code == 0 and "embedded S3 server" not in second.stderr
        # run from another folder (another data directory, the same ports): said so, and nothing made there; it
        # was "ports taken by another program; set SOMEARKIV_S3_EMBEDDED_PORT", after a second archive's keys
        elsewhere = tmp_path / "elsewhere"
        monkeypatch.setenv("SOMEARKIV_DATA_DIR", str(elsewhere / "data"))
        get_settings.cache_clear()
        third = CliRunner().invoke(app, ["captures", "--json"])
        assert isinstance(third.exception, EmbeddedS3Error), third.output
        assert f"set SOMEARKIV_DATA_DIR={tmp_path / 'data'}" in str(third.exception)
        assert f"run somearkiv from {tmp_path}" in str(third.exception)
        assert not elsewhere.exists()
    finally:
        server.stop()
        monkeypatch.undo()
        get_settings.cache_clear()
