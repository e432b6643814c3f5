"""Building a SIP: fetch and check every file, write the documents, validate, then move into place."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections import Counter
from pathlib import Path

from somearkiv.models import CaptureRecord
from tasks.sip.docs import _copy_schemas, _write_dublin_core, _write_readme
from tasks.sip.fetch import _fetch_captures
from tasks.sip.mets import _write_rep_mets, _write_root_mets
from tasks.sip.model import (
    PRESERVATION,
    SUPPORTING,
    Fetch,
    SipInvalid,
    SipProfile,
    _Capture,
    _Package,
)
from tasks.sip.premis import _write_premis
from tasks.sip.validate import validate_sip

# -- building --------------------------------------------------------------------------------------------


def _folder_name(package_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", package_id)


def _zip(folder: Path, created: dt.datetime) -> Path:
    """A ZIP with the package folder at its root, entries in a fixed order with fixed times."""
    target = folder.with_name(folder.name + ".zip")
    stamp = created.astimezone(dt.UTC).timetuple()[:6]
    with zipfile.ZipFile(target, "x", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder).as_posix()}", date_time=stamp)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            with path.open("rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return target


def build_sip(records: list[CaptureRecord], fetch: Fetch, out_dir: Path, profile: SipProfile, *,
              package_id: str | None = None, zip_package: bool = False, created: dt.datetime | None = None,
              tsa_ca_pem: bytes | None = None) -> Path:
    """Build one E-ARK SIP of *records* (one account) in *out_dir*; return the package folder (or ZIP).

    *fetch* brings each archived object (see ``Fetch``); every file is checked against its record.
    *package_id* (default ``uuid-<a fresh UUID>``) and *created* (default now) make the output
    reproducible when given. The package id is the folder name and the root METS @OBJID (CSIP1): any
    character but [A-Za-z0-9._-] in a given id is made '_' (``urn:uuid:x`` gives ``urn_uuid_x``).
    With *tsa_ca_pem* the captures' RFC 3161 tokens are verified against that
    CA (a token that does not verify stops the export); without it they are only checked to match their
    manifests. With *zip_package* the folder is zipped and removed and the ZIP's path returned.

    The package is validated before it is left in *out_dir*; if it is not valid, nothing is left and
    ``SipInvalid`` says why. An existing package of the same id is never overwritten.
    """
    if not records:
        raise ValueError("no captures to package")
    if len({r.account.id for r in records}) != 1:
        raise ValueError("one package holds one account: got " + ", ".join(sorted({r.account.id for r in records})))
    duplicates = [cid for cid, n in Counter(r.capture_id for r in records).items() if n > 1]
    if duplicates:
        raise ValueError(f"capture(s) given twice: {', '.join(duplicates)}")
    package_id = _folder_name(package_id or f"uuid-{uuid.uuid4()}")
    created = (created or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    out_dir = Path(out_dir)
    final = out_dir / package_id
    if final.exists() or final.with_name(final.name + ".zip").exists():
        raise FileExistsError(f"{final} exists; a package is never overwritten")
    out_dir.mkdir(parents=True, exist_ok=True)
    # built in <out>/.<id>.XXXX.partial/<id>/, so that it is validated under its own name (OBJID = folder name)
    partial = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=out_dir))
    staging = partial / final.name
    staging.mkdir()
    pkg = _Package(staging, package_id, profile, created,
                   [_Capture(r) for r in sorted(records, key=lambda r: (r.started_at, r.capture_id))])
    try:
        problems = _fetch_captures(pkg, fetch, tsa_ca_pem)
        if not pkg.in_folder(f"representations/{PRESERVATION}/data/"):
            problems.append("none of the captures has an archival PDF/A file: no preservation representation")
        if problems:
            raise SipInvalid(problems)
        _write_readme(pkg)
        _copy_schemas(pkg)
        account_dc = _write_dublin_core(pkg)
        premis = _write_premis(pkg)
        reps = {PRESERVATION: _write_rep_mets(pkg, PRESERVATION, "Bevarandeformat: ögonblicksbilder i PDF/A-2b")}
        if pkg.in_folder(f"representations/{SUPPORTING}/data/"):
            reps[SUPPORTING] = _write_rep_mets(pkg, SUPPORTING, "Stödfiler: skärmbilder, HTML, utskrift, WARC")
        _write_root_mets(pkg, account_dc, premis, reps)
        if problems := validate_sip(staging):
            raise SipInvalid(problems)
        os.replace(staging, final)
        partial.rmdir()
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if not zip_package:
        return final
    try:
        target = _zip(final, created)
    finally:
        shutil.rmtree(final, ignore_errors=True)
    return target
