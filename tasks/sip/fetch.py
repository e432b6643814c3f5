"""What goes in: every file of every capture fetched into place and checked against its record."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from somearkiv.models import CaptureRecord, FileRole
from storage.archive import RECORD_NAME, capture_prefix
from tasks.sip.model import (
    MAX_NUMBERED,
    PRESERVATION,
    SEAL_DOCUMENT,
    SUPPORTING,
    TOKEN_COMPANIONS,
    TSA_CA_NAME,
    Fetch,
    _Capture,
    _capture_dir,
    _mimetype,
    _Package,
)
from tasks.timestamp import MANIFEST_NAME, TOKEN_NAME, verify_timestamp

TIMESTAMPS = "metadata/preservation/timestamps/"
SEALS_PREFIX = "seals/"  # tokens got after filing (tasks/timestamp.py), one folder per capture id


def _fetch_captures(pkg: _Package, fetch: Fetch, tsa_ca_pem: bytes | None) -> list[str]:
    """Fetch every file of every capture into place and check it against its record; return problems.

    With *tsa_ca_pem* the CA goes into the package too (``timestamps/tsa-ca.pem``), so that the receiver can
    verify every token without asking anyone."""
    problems: list[str] = []
    if tsa_ca_pem:
        problems += _write_tsa_ca(pkg, tsa_ca_pem)
    for capture in pkg.captures:
        record, cdir = capture.record, _capture_dir(capture.record)
        prefix = capture_prefix(record.capture_id, record.status)
        for f in record.files:
            if PurePosixPath(f.name).name != f.name or f.name in ("", ".", ".."):
                problems.append(f"{record.capture_id}: a file name that is not a plain name: {f.name!r}")
                continue
            rep = PRESERVATION if f.role is FileRole.archival else SUPPORTING
            path = f"representations/{rep}/data/{cdir}/{f.name}"
            if not _fetch_to(fetch, f.key or prefix + f.name, pkg.root / path, problems):
                continue
            entry = pkg.add(path, _mimetype(f.media_type), record.finished_at, record=record, role=f.role.value)
            if (entry.sha256, entry.size) != (f.sha256, f.size):
                problems.append(f"{record.capture_id}/{f.name}: fetched {entry.size} bytes, SHA-256 {entry.sha256}; "
                                f"the capture record says {f.size} bytes, {f.sha256}")
            capture.files.append(entry)
        path = f"metadata/other/records/{cdir}/{RECORD_NAME}"
        if record.record_key:  # the record.json as filed
            if not _fetch_to(fetch, record.record_key, pkg.root / path, problems):
                continue
            problems += _filed_record_problems(pkg.root / path, record)
        else:  # not filed (yet): the record as given, serialised as the archive files it
            (pkg.root / path).parent.mkdir(parents=True, exist_ok=True)
            (pkg.root / path).write_bytes(record.model_dump_json(indent=2).encode())
        capture.record_json = pkg.add(path, "application/json", record.finished_at, record=record, role="record")
        problems += _fetch_timestamp(pkg, capture, fetch, prefix, tsa_ca_pem)
    return problems


def _write_tsa_ca(pkg: _Package, tsa_ca_pem: bytes) -> list[str]:
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(tsa_ca_pem)
    except ValueError as exc:
        return [f"the TSA CA is not PEM certificates: {exc}"]
    path = pkg.root / TIMESTAMPS / TSA_CA_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tsa_ca_pem)
    pkg.tsa_ca = pkg.add(TIMESTAMPS + TSA_CA_NAME, "application/pem-certificate-chain")
    return []


def _fetch_to(fetch: Fetch, key: str, dest: Path, problems: list[str]) -> bool:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        fetch(key, dest)
    except FileNotFoundError:
        problems.append(f"{key}: not in the archive")
        return False
    return True


def _filed_record_problems(path: Path, record: CaptureRecord) -> list[str]:
    try:
        filed = CaptureRecord.model_validate_json(path.read_bytes())
    except ValueError as exc:
        return [f"{record.capture_id}: the filed record.json is not a capture record: {exc}"]
    if (filed.capture_id, {(f.name, f.sha256) for f in filed.files}) != \
            (record.capture_id, {(f.name, f.sha256) for f in record.files}):
        return [f"{record.capture_id}: the filed record.json describes other files"]
    return []


def _fetch_timestamp(pkg: _Package, capture: _Capture, fetch: Fetch, prefix: str,
                     tsa_ca_pem: bytes | None) -> list[str]:
    """Bring the capture's manifest and token if it has them, and check both.

    A token got after filing (sealed later) is under ``seals/<capture id>/`` with its validation data; it is
    looked for there when the capture's folder has none."""
    base = f"{TIMESTAMPS}{_capture_dir(capture.record)}/"
    (pkg.root / base).mkdir(parents=True, exist_ok=True)
    found = {}
    token_prefix = prefix
    for name, mimetype in ((MANIFEST_NAME, "application/json"), (TOKEN_NAME, "application/timestamp-reply")):
        for where in (prefix, f"{SEALS_PREFIX}{capture.record.capture_id}/") if name == TOKEN_NAME else (prefix,):
            try:
                fetch(where + name, pkg.root / base / name)
            except FileNotFoundError:
                continue
            found[name], token_prefix = pkg.add(base + name, mimetype, capture.record.finished_at,
                                                record=capture.record), where
            break
    if not found:
        (pkg.root / base).rmdir()
        return []
    capture.manifest, capture.token = found.get(MANIFEST_NAME), found.get(TOKEN_NAME)
    if capture.manifest is None:
        return [f"{capture.record.capture_id}: a timestamp token without its manifest"]
    if capture.token is not None:  # the token's validation data, where the archive keeps it beside the token
        for name, mimetype in _companions(fetch, token_prefix, pkg.root / base):
            capture.validation_data.append(pkg.add(base + name, mimetype, capture.record.finished_at,
                                                   record=capture.record))
    manifest = (pkg.root / capture.manifest.path).read_bytes()
    problems = _manifest_problems(manifest, capture)
    if capture.token is not None:
        capture.timestamp = verify_timestamp((pkg.root / capture.token.path).read_bytes(), manifest,
                                             trusted_ca_pem=tsa_ca_pem)
        if not capture.timestamp.valid and (tsa_ca_pem or not capture.timestamp.matches_manifest):
            problems.append(f"{capture.record.capture_id}: the timestamp does not verify: {capture.timestamp.reason}")
    return problems


def _companions(fetch: Fetch, prefix: str, folder: Path) -> list[tuple[str, str]]:
    """Fetch what of TOKEN_COMPANIONS and the seal document is beside the token; (name, media type) of each."""
    found = []

    def get(name: str) -> bool:
        try:
            fetch(prefix + name, folder / name)
        except FileNotFoundError:
            return False
        return True

    for suffix, mimetype in TOKEN_COMPANIONS.items():
        numbers = range(1, MAX_NUMBERED + 1) if "{}" in suffix else [None]
        for number in numbers:
            name = TOKEN_NAME + (suffix.format(number) if number else suffix)
            if not get(name):
                break
            found.append((name, mimetype))
    if get(SEAL_DOCUMENT):
        found.append((SEAL_DOCUMENT, "application/json"))
    return found


def _manifest_problems(manifest: bytes, capture: _Capture) -> list[str]:
    """The manifest must list exactly the files fetched (and the record.json) with their SHA-256."""
    try:
        listed = {f["name"]: f["sha256"] for f in json.loads(manifest)["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{capture.record.capture_id}: the manifest is not readable: {exc}"]
    have = {PurePosixPath(e.path).name: e.sha256 for e in capture.files}
    have[RECORD_NAME] = capture.record_json.sha256 if capture.record_json else ""
    if listed != have:
        differ = sorted(n for n in set(listed) | set(have) if listed.get(n) != have.get(n))
        return [f"{capture.record.capture_id}: the manifest does not match the files: {', '.join(differ)}"]
    return []
