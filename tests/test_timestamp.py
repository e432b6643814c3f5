"""Manifest + RFC 3161 timestamp per capture, against a local TSA double on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess

import pytest

from tasks.timestamp import (
    MANIFEST_FORMAT,
    TimestampError,
    build_manifest,
    check_manifest,
    manifest_digest,
    record_json,
    request_timestamp,
    timestamp_capture,
    verify_timestamp,
)

from .factories import capture_files
from .tsa_double import TsaDouble, make_pki

STARTED = dt.datetime(2026, 7, 1, 4, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def tsa():
    with TsaDouble() as double:
        yield double


@pytest.fixture
def capture(tmp_path):
    return capture_files(tmp_path / "capture", STARTED)


@pytest.fixture
def stamped(capture, tsa):
    record, _ = capture
    return timestamp_capture(record, tsa.url, trusted_ca_pem=tsa.ca_pem)


def test_manifest_lists_every_file_and_the_record_deterministically(capture):
    record, _ = capture
    manifest = build_manifest(record)
    assert manifest == build_manifest(record.model_copy())
    doc = json.loads(manifest)
    assert doc["format"] == MANIFEST_FORMAT and doc["capture_id"] == record.capture_id
    assert doc["hash_algorithm"] == "SHA-256" and doc["started_at"] == "2026-07-01T04:00:00Z"
    listed = {f["name"]: f for f in doc["files"]}
    assert [f["name"] for f in doc["files"]] == sorted(listed)
    for f in record.files:
        assert listed[f.name] == {"name": f.name, "role": f.role.value, "media_type": f.media_type,
                                  "size": f.size, "sha256": f.sha256}
    body = record_json(record)
    assert listed["record.json"]["role"] == "record" and listed["record.json"]["size"] == len(body)
    assert manifest_digest(manifest) == __import__("hashlib").sha256(manifest).digest()


def test_round_trip_against_the_tsa(capture, tsa, stamped):
    record, folder = capture
    assert stamped.token and stamped.manifest == build_manifest(record)
    assert "verified against the configured CA" in stamped.note
    check = verify_timestamp(stamped.token, stamped.manifest, trusted_ca_pem=tsa.ca_pem)
    assert check.valid and check.matches_manifest, check.reason
    assert abs((check.gen_time - dt.datetime.now(dt.UTC)).total_seconds()) < 60
    assert "somearkiv test TSA" in check.tsa_name and check.serial >= 1
    (folder / "record.json").write_bytes(record_json(record))
    assert check_manifest(stamped.manifest, folder) == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_openssl_agrees(tmp_path, tsa, stamped):
    """An independent verifier accepts the same token: the README's promise that no somearkiv is needed."""
    (tmp_path / "manifest.json").write_bytes(stamped.manifest)
    (tmp_path / "manifest.tsr").write_bytes(stamped.token)
    (tmp_path / "ca.pem").write_bytes(tsa.ca_pem)
    result = subprocess.run(["openssl", "ts", "-verify", "-in", "manifest.tsr", "-data", "manifest.json",
                             "-CAfile", "ca.pem"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr


def test_a_changed_file_is_detected(capture, tsa, stamped):
    record, folder = capture
    changed = record.files[0].model_copy(update={"sha256": "0" * 64})
    altered = record.model_copy(update={"files": (changed, *record.files[1:])})
    check = verify_timestamp(stamped.token, build_manifest(altered), trusted_ca_pem=tsa.ca_pem)
    assert not check.valid and not check.matches_manifest and "manifest" in check.reason
    (folder / "record.json").write_bytes(record_json(record))
    (folder / "page.html").write_bytes(b"<html>Perstorp, changed</html>")
    assert any("page.html" in p for p in check_manifest(stamped.manifest, folder))


def test_a_changed_manifest_is_detected(tsa, stamped):
    for tampered in (stamped.manifest.replace(b"manual", b"manuaL"), stamped.manifest + b" "):
        check = verify_timestamp(stamped.token, tampered, trusted_ca_pem=tsa.ca_pem)
        assert not check.valid and not check.matches_manifest


def test_every_changed_byte_of_the_token_is_detected(tsa, stamped):
    token = stamped.token
    accepted = []
    for i in range(len(token)):
        for flip in (0x01, 0x80):  # the lowest bit (a length, a version, a tag) and the highest
            tampered = bytearray(token)
            tampered[i] ^= flip
            if verify_timestamp(bytes(tampered), stamped.manifest, trusted_ca_pem=tsa.ca_pem).valid:
                accepted.append((i, flip))
    assert accepted == []
    for broken in (token[:-1], token[: len(token) // 2], b"", b"not a token"):
        assert not verify_timestamp(broken, stamped.manifest, trusted_ca_pem=tsa.ca_pem).valid


def test_a_token_under_another_ca_is_rejected(capture, tsa, stamped):
    other = make_pki("other")
    check = verify_timestamp(stamped.token, stamped.manifest, trusted_ca_pem=other.ca_pem)
    assert not check.valid and check.matches_manifest
    assert "certificate verify error" in check.reason or "issuer" in check.reason
    with pytest.raises(TimestampError, match="does not verify"):
        timestamp_capture(capture[0], tsa.url, trusted_ca_pem=other.ca_pem)


def test_without_a_trusted_ca_a_token_is_not_valid(tsa, stamped):
    check = verify_timestamp(stamped.token, stamped.manifest, trusted_ca_pem=None)
    assert not check.valid and check.matches_manifest and "no trusted TSA CA" in check.reason
    assert check.gen_time is not None and check.serial is not None


def test_no_tsa_no_token_and_a_clear_note(capture, tsa):
    before = len(tsa.requests)
    manifest, token, note = timestamp_capture(capture[0], None)
    assert token is None and manifest == build_manifest(capture[0])
    assert note.startswith("no TSA configured") and "without an RFC 3161 timestamp" in note
    assert len(tsa.requests) == before


def test_an_unreachable_tsa_raises(capture):
    with socket.socket() as s:  # a port on 127.0.0.1 that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TimestampError, match="did not answer"):
        request_timestamp(b"\0" * 32, f"http://127.0.0.1:{port}/tsa", timeout=5)
    with pytest.raises(ValueError):
        request_timestamp(b"\0" * 20, f"http://127.0.0.1:{port}/tsa")
    with pytest.raises(ValueError):
        request_timestamp(b"\0" * 32, "file:///etc/passwd")
