"""One archived object checked as a receiving archive or an auditor would: its custody (the
ledgered version, its bytes, lock and history), its capture record, its manifest and RFC 3161
timestamp, and, for a PDF, PDF/A-2b."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from somearkiv.models import FixityResult
from storage import Archive, FixityError, ObjectMissing
from storage.archive import RECORD_NAME, SEALS_PREFIX, capture_of
from storage.custody import check_key, is_other_record
from storage.ledger import CaptureCustody, custody
from tasks.pdfcheck import CheckReport, check_pdf
from tasks.timestamp import MANIFEST_NAME, TOKEN_NAME, build_manifest, verify_timestamp

__all__ = ["EXIT_INVALID", "EXIT_NOT_CHECKED", "EXIT_OK", "EXIT_TAMPERED", "ArchivedCheck", "check_archived",
           "exit_code"]

# `somearkiv verify` exit statuses (2 is the CLI's usage and configuration errors)
EXIT_OK, EXIT_INVALID, EXIT_TAMPERED, EXIT_NOT_CHECKED = 0, 1, 3, 4


class ArchivedCheck(BaseModel):
    """What ``somearkiv verify KEY`` found."""

    model_config = ConfigDict(frozen=True)

    key: str
    version_id: str | None
    sha256: str
    custody: tuple[FixityResult, ...]
    stored: str  # "intact", or the custody findings
    record: str  # "matches", "DIFFERS", or why there is none
    timestamp: str

    @property
    def problems(self) -> list[FixityResult]:
        return [f for f in self.custody if f.status != "ok"]

    @property
    def intact(self) -> bool:
        return self.stored == "intact" and self.record != "DIFFERS" and not self.timestamp.startswith("INVALID")


def check_archived(archive: Archive, key: str, tsa_ca_file: Path | None,
                   max_memory: int | None = None) -> tuple[ArchivedCheck, CheckReport | None]:
    """Check *key* against the custody ledger; its PDF/A report when it is a PDF that could be read
    (under *max_memory*, see ``check_pdf``)."""
    entries = archive.ledger.verify()[0]  # read fresh, once, for every check below
    state = custody(entries)
    findings = check_key(archive, key, state, entries)
    problems = [f for f in findings if f.status != "ok"]
    filed = findings[0]
    kept = state.get(capture_of(key) or "")
    stored = "intact" if not problems else ", ".join(sorted({f.status for f in problems}))
    report = None
    if filed.version_id is not None and not any(f.status in ("missing", "error") for f in problems):
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / Path(key).name
            try:
                archive.download(key, local, filed.version_id)
                if key.lower().endswith(".pdf") or _is_pdf(local):  # a record, token, PNG: custody only
                    report = check_pdf(local, max_memory=max_memory)
            except FixityError as exc:
                stored = f"mismatch: {exc}"
    ca = tsa_ca_file.read_bytes() if tsa_ca_file else None
    return ArchivedCheck(
        key=key, version_id=filed.version_id, sha256=filed.expected_sha256, custody=tuple(findings), stored=stored,
        record=_record_agrees(archive, kept, key, filed.expected_sha256),
        timestamp=_timestamp(archive, kept, ca) if kept else (
            "not a capture: no manifest or timestamp of its own" if is_other_record(key) else
            "not in the custody ledger"),
    ), report


def _is_pdf(path: Path) -> bool:
    with path.open("rb") as f:
        return b"%PDF-" in f.read(1024)  # where PDF readers look for the header


def _record_agrees(archive: Archive, kept: CaptureCustody | None, key: str, sha256: str) -> str:
    """Does the capture's record (as filed) give *key* the SHA-256 the ledger has?"""
    found = kept.record_object if kept else None
    if key.startswith(SEALS_PREFIX) and kept is not None:
        return "a seal got later: described by its seal.json, not by the capture record"
    if found is None:
        return "no capture record for this object"
    if found.key == key:
        return "matches"  # the record itself: the ledger holds its digest
    try:
        entry = archive.read_record(found.key, found.version_id).file(Path(key).name)
    except (ObjectMissing, KeyError):
        return "no capture record for this object"
    return "matches" if entry.sha256 == sha256 else "DIFFERS"


def _timestamp(archive: Archive, kept: CaptureCustody, trusted_ca_pem: bytes | None) -> str:
    """The capture's manifest against its record and files, and its RFC 3161 token against the
    manifest: each read as the version the custody ledger says was filed."""
    manifest_at, record_at, token_at = (kept.named(n) for n in (MANIFEST_NAME, RECORD_NAME, TOKEN_NAME))
    if manifest_at is None or record_at is None:
        return "no manifest filed with this capture"
    manifest = archive.read(manifest_at.key, manifest_at.version_id)
    record_body = archive.read(record_at.key, record_at.version_id)
    record = archive.read_record(record_at.key, record_at.version_id)
    if build_manifest(record, record_body) != manifest:
        return "INVALID: the manifest does not match the capture record"
    if token_at is None:
        return "manifest matches; no RFC 3161 token (no TSA was configured)"
    check = verify_timestamp(archive.read(token_at.key, token_at.version_id), manifest, trusted_ca_pem=trusted_ca_pem)
    if check.valid:
        return f"valid RFC 3161 token from {check.tsa_name}, genTime {check.gen_time:%Y-%m-%d %H:%M:%S}Z"
    if check.matches_manifest and trusted_ca_pem is None:
        return f"token covers the manifest (genTime {check.gen_time}); set SOMEARKIV_TSA_CA_FILE to check its signer"
    return f"INVALID token: {check.reason}"


def exit_code(custody: ArchivedCheck | None, report: CheckReport | None) -> int:
    """The exit status of `somearkiv verify`: the worst of what was found, most serious first.

    3 custody or fixity problem; 1 not a valid PDF/A (or not a PDF that could be read); 4 no
    violation found, but some points could not be checked, so nobody can say it is valid (a
    person must look: the report lists them); 0 checked completely, valid and intact (an
    archived object that is not a PDF, a record or a token, is checked for custody only).
    """
    if custody is not None and not custody.intact:
        return EXIT_TAMPERED
    if report is None:
        return EXIT_OK if custody is not None else EXIT_INVALID
    if report.verdict == "invalid":
        return EXIT_INVALID
    return EXIT_NOT_CHECKED if report.verdict == "not checked" else EXIT_OK
