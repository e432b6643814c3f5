"""Fixity against the custody ledger and the version history, not against the latest objects.

Every object version the ledger says was filed is read back by its version id and hashed, its
lock compared with the lock it was filed with (and holds placed or released since), and the
key's history searched for what should not be there: a delete marker over it (``hidden``), a
version the ledger does not know (``forged``). Objects under ``captures/``, ``blocked/`` and
``seals/`` that no ledgered capture (or its late seal) filed are ``orphan``s; a ledger that
does not recompute is ``broken-chain``. The other records the ledger knows, moderation
evidence, its cases and disclosure decisions (``OTHER_RECORDS``), are checked the same way,
each filing a group of its own named by its folder.
An S3 error on one object is an ``error`` finding for that object, and the check goes on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from somearkiv.models import FixityResult, LedgerEntry, LedgerObject
from storage.archive import BLOCKED_PREFIX, CAPTURES_PREFIX, SEALS_PREFIX, Archive, capture_of
from storage.errors import is_missing
from storage.ledger import CaptureCustody, custody

__all__ = ["LEDGER_GROUP", "OTHER_RECORDS", "History", "account_of_group", "capture_of", "check_custody", "check_key",
           "is_other_record", "version_history"]

LEDGER_GROUP = "(ledger)"  # the group of findings about the ledger itself
# Records outside captures/ that the ledger knows, by ledger entry kind: never disposed of by the disposal flow,
# kept as their locks say (evidence and cases are read only by the auditor and archivist identities).
OTHER_RECORDS = {"evidence": Archive.EVIDENCE_PREFIX, "moderation": Archive.CASES_PREFIX,
                 "disclosure": Archive.DISCLOSURES_PREFIX}
_SLACK = dt.timedelta(seconds=1)
_YOUNG = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Version:
    version_id: str
    latest: bool
    modified: dt.datetime
    delete_marker: bool


History = dict[str, list[Version]]  # by key


def version_history(archive: Archive, prefixes: Iterable[str]) -> History:
    """Every version and delete marker under *prefixes*, by key."""
    history: History = {}
    for prefix in prefixes:
        pages = archive.client.get_paginator("list_object_versions").paginate(Bucket=archive.bucket, Prefix=prefix)
        for page in pages:
            for kind, marker in (("Versions", False), ("DeleteMarkers", True)):
                for v in page.get(kind, []):
                    history.setdefault(v["Key"], []).append(
                        Version(v["VersionId"], bool(v.get("IsLatest")), v["LastModified"], marker))
    return history


def _result(obj: LedgerObject, status: str, detail: str | None = None, actual: str | None = None) -> FixityResult:
    return FixityResult(key=obj.key, version_id=obj.version_id, expected_sha256=obj.sha256 or "", status=status,
                        detail=detail, actual_sha256=actual)


def _check_object(archive: Archive, kept: CaptureCustody, obj: LedgerObject,
                  versions: list[Version]) -> list[FixityResult]:
    found: list[FixityResult] = []
    try:
        body = archive.client.get_object(**archive._version(obj.key, obj.version_id))["Body"]
        digest = hashlib.sha256()
        for chunk in body.iter_chunks(1 << 20):
            digest.update(chunk)
    except ClientError as exc:
        if is_missing(exc):
            return [_result(obj, "missing", "the filed version is gone")]
        return [_result(obj, "error", f"the storage could not read it: {exc.response['Error'].get('Code')} "
                                      f"{exc.response['Error'].get('Message', '')}".strip())]
    if obj.sha256 and digest.hexdigest() != obj.sha256:
        found.append(_result(obj, "mismatch", "other bytes than were filed", digest.hexdigest()))
    info = archive.head(obj.key, obj.version_id)
    lock = kept.entry.lock
    if kept.held and not info.legal_hold:
        found.append(_result(obj, "unlocked", "its legal hold was lifted outside the ledger"))
    if lock is not None:
        if info.retain_until is None or info.retain_until + _SLACK < lock.retain_until:
            found.append(_result(obj, "unlocked", f"retention shortened to {info.retain_until} "
                                                  f"(filed until {lock.retain_until:%Y-%m-%d})"))
        elif info.lock_mode != lock.mode.value:
            found.append(_result(obj, "unlocked", f"lock mode {info.lock_mode}, filed as {lock.mode.value}"))
    if versions and versions_latest_is_marker(versions):
        found.append(_result(obj, "hidden", "a delete marker lies over the filed version (which is intact)"))
    for other in versions:
        if not other.delete_marker and other.version_id != obj.version_id:
            found.append(_result(obj, "forged", f"version {other.version_id} of {other.modified:%Y-%m-%d %H:%M:%S} "
                                                "is not the filed one"))
    return found or [_result(obj, "ok", actual=digest.hexdigest())]


def versions_latest_is_marker(versions: list[Version]) -> bool:
    latest = max(versions, key=lambda v: (v.latest, v.modified))
    return latest.delete_marker


def _guarded(obj: LedgerObject, check: Callable[[], list[FixityResult]]) -> list[FixityResult]:
    try:
        return check()
    except (ClientError, BotoCoreError) as exc:
        return [_result(obj, "error", f"the storage could not answer: {exc}")]


def check_custody(archive: Archive, *, account_id: str | None = None,
                  selected: Callable[[str], bool] = lambda capture_id: True,
                  now: dt.datetime | None = None,
                  orphan_grace: dt.timedelta = dt.timedelta(0)) -> dict[str, list[FixityResult]]:
    """Findings per capture id (and ``LEDGER_GROUP`` for the ledger itself); every group has at least
    one result, ``ok`` when nothing is wrong."""
    now = now or dt.datetime.now(dt.UTC)
    results: dict[str, list[FixityResult]] = {}
    try:
        entries, chain = archive.ledger.verify()
    except (ClientError, BotoCoreError) as exc:
        return {LEDGER_GROUP: [FixityResult(key="ledger/", version_id=None, expected_sha256="", status="error",
                                            detail=f"the ledger could not be read: {exc}")]}
    results[LEDGER_GROUP] = chain or [FixityResult(key="ledger/", version_id=None, expected_sha256="", status="ok",
                                                   detail=f"{len(entries)} entries, chain intact")]
    suffix = f"{account_id}/" if account_id else ""
    try:
        history = version_history(archive, (CAPTURES_PREFIX + suffix, BLOCKED_PREFIX + suffix, SEALS_PREFIX + suffix,
                                            *(prefix + suffix for prefix in OTHER_RECORDS.values())))
    except (ClientError, BotoCoreError) as exc:
        results[LEDGER_GROUP].append(FixityResult(key=CAPTURES_PREFIX, version_id=None, expected_sha256="",
                                                  status="error", detail=f"versions could not be listed: {exc}"))
        history = {}
    state = custody(entries)
    known_keys: set[str] = set()
    for capture_id, kept in state.items():
        if account_id and kept.entry.account_id != account_id:
            continue
        known_keys |= {o.key for o in (*kept.entry.objects, *kept.objects.values(), *kept.disposed)}  # late seals
        if not selected(capture_id) or not kept.objects:
            continue
        results[capture_id] = [finding for obj in kept.objects.values()
                               for finding in _guarded(obj, lambda obj=obj, kept=kept: _check_object(
                                   archive, kept, obj, history.get(obj.key, [])))]
    for entry in entries:
        if entry.kind not in OTHER_RECORDS or (account_id and entry.account_id != account_id) or not entry.objects:
            continue
        known_keys |= {o.key for o in entry.objects}
        group = _other_group(entry.objects[0].key)
        if not selected(group):
            continue
        kept = CaptureCustody.filed(entry)
        results.setdefault(group, []).extend(
            finding for obj in entry.objects for finding in _guarded(obj, lambda obj=obj, kept=kept: _check_object(
                archive, kept, obj, history.get(obj.key, []))))
    for key, versions in history.items():
        if key in known_keys or all(v.delete_marker for v in versions):
            continue
        age = now - max(v.modified for v in versions)
        if age < orphan_grace:
            continue
        group = capture_of(key) or (_other_group(key) if is_other_record(key) else key)
        young = " (filed in the last 10 minutes: it may be a record being filed right now)" \
            if age < _YOUNG else ""
        for v in versions:
            if not v.delete_marker:
                results.setdefault(group, []).append(FixityResult(
                    key=key, version_id=v.version_id, expected_sha256="", status="orphan",
                    detail="no ledgered capture filed this object" + young))
    return results


def _other_group(key: str) -> str:
    """The folder of a record outside captures/: evidence/<account>/<id>, cases/<account>/<id>,
    disclosures/<account>/<capture>/<when>."""
    return key.rsplit("/", 1)[0]


def account_of_group(group: str) -> str | None:
    """The account a findings group is about (None for the ledger's own)."""
    if group == LEDGER_GROUP:
        return None
    for prefix in OTHER_RECORDS.values():
        group = group.removeprefix(prefix)
    return group.split("/")[0]


def is_other_record(key: str) -> bool:
    """Is *key* under the folder of one of OTHER_RECORDS (evidence, a case, a disclosure)?"""
    return key.startswith(tuple(OTHER_RECORDS.values()))


def check_key(archive: Archive, key: str, state: dict[str, CaptureCustody] | None = None,
              entries: list[LedgerEntry] | None = None) -> list[FixityResult]:
    """The custody findings for one archived key (``somearkiv verify KEY``).

    state, entries: the custody and the ledger entries already read (default: read them fresh now)."""
    if is_other_record(key):
        entries = archive.ledger.verify()[0] if entries is None else entries
        entry = next((e for e in reversed(entries) if e.kind in OTHER_RECORDS and any(o.key == key for o in e.objects)),
                     None)
        kept = None if entry is None else CaptureCustody.filed(entry)
    else:
        if state is None:
            state = custody(archive.ledger.verify()[0] if entries is None else entries)
        kept = state.get(capture_of(key) or "")
    history = version_history(archive, (key,)).get(key, [])
    obj = None if kept is None else next((o for o in kept.objects.values() if o.key == key), None)
    if kept is None or obj is None:
        if not history:
            return [FixityResult(key=key, version_id=None, expected_sha256="", status="absent",
                                 detail="nothing was filed or stored under this key")]
        return [FixityResult(key=key, version_id=None, expected_sha256="", status="orphan",
                             detail="the custody ledger knows no filed object with this key")]
    return _guarded(obj, lambda: _check_object(archive, kept, obj, history))
