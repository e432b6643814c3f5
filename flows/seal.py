"""seal_pending: timestamp the captures that were filed unsealed (no TSA answered when they were filed).

A capture is filed completely even when no RFC 3161 token could be had (tasks/filing.py): its
manifest, record, audit event and ledger entry are there, but no ``manifest.tsr``. This flow
(the ``seal-pending`` deployment, daily) finds them in the custody ledger, checks that each filed
manifest still matches its filed record, asks the TSA for a token over the manifest as filed, and
files the token with its long-term validation data and ``seal.json`` under
``seals/<capture-id>/`` — locked like the capture, never over anything — then a ``seal`` entry in
the ledger and a ``seal`` audit event, both naming the capture time and the seal time. Nothing
filed before is touched: the ledger is append-only.

What a late seal proves: that the manifest (and so every file's SHA-256) existed at the seal's
genTime, not at the capture time; the gap between the two is in the record of the seal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, State

from somearkiv.log import get_logger
from somearkiv.models import LedgerObject
from somearkiv.runstate import failed_state
from somearkiv.settings import get_settings
from storage import Archive, ArchiveError
from storage.archive import RECORD_NAME
from storage.errors import ObjectMissing
from storage.ledger import custody
from tasks.audit import record_event
from tasks.filing import seal_ledger_head
from tasks.retention import records_lock
from tasks.timestamp import (
    MANIFEST_NAME,
    SEALS_PREFIX,
    TimestampError,
    TsaConfig,
    build_manifest,
    seal_manifest,
    seal_states,
)

__all__ = ["SealOutcome", "seal_capture_now", "seal_pending", "unsealed_captures"]

_GIVE_UP_AFTER = 3  # failures in a row: the TSA is down, the others would only wait out their timeouts


@dataclass(frozen=True)
class SealOutcome:
    capture_id: str
    sealed: bool
    detail: str
    sealed_at: str | None = None
    ledger_seq: int | None = None


def _utc(moment: dt.datetime | None) -> str:
    return "?" if moment is None else f"{moment.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"


def unsealed_captures(archive: Archive, account_id: str | None = None) -> list[str]:
    """Capture ids the ledger knows, not disposed of, without a token (at filing or later), oldest first."""
    entries, _problems = archive.ledger.verify(fresh=False)
    kept = custody(entries)
    return [capture_id for capture_id, state in seal_states(entries).items()
            if not state.sealed and capture_id in kept and kept[capture_id].objects
            and (account_id is None or kept[capture_id].entry.account_id == account_id)]


def seal_capture_now(archive: Archive, capture_id: str, config: TsaConfig) -> SealOutcome:
    """Seal one unsealed capture: a token over its manifest as filed, filed under seals/, ledgered."""
    entries, _problems = archive.ledger.verify(fresh=False)
    kept = custody(entries).get(capture_id)
    state = seal_states(entries).get(capture_id)
    if kept is None or state is None:
        return SealOutcome(capture_id, False, "not in the custody ledger")
    if state.sealed:
        return SealOutcome(capture_id, True, f"already sealed ({state.token_key})")
    manifest_at, record_at = kept.named(MANIFEST_NAME), kept.named(RECORD_NAME)
    if manifest_at is None or record_at is None:
        return SealOutcome(capture_id, False, "no manifest or record was filed with it: nothing to seal")
    try:
        manifest = archive.read(manifest_at.key, manifest_at.version_id)
        record_body = archive.read(record_at.key, record_at.version_id)
    except ObjectMissing as exc:
        return SealOutcome(capture_id, False, f"its filed manifest or record is gone ({exc}): run verify-fixity")
    record = archive.read_record(record_at.key, record_at.version_id)
    if build_manifest(record, record_body) != manifest:
        return SealOutcome(capture_id, False, "its filed manifest does not match its filed record: not sealed; "
                                              "run verify-fixity")
    now = dt.datetime.now(dt.UTC)
    lock = kept.entry.lock
    if lock is None:
        lock = records_lock(now)
    elif lock.retain_until <= now + dt.timedelta(days=1):
        return SealOutcome(capture_id, False, f"its retention ended {lock.retain_until:%Y-%m-%d}: not sealed now")
    try:
        seal = seal_manifest(manifest, config, capture_id=capture_id, captured_at=record.started_at,
                             filed_at=record.filed_at, late=True)
    except TimestampError as exc:
        return SealOutcome(capture_id, False, str(exc))
    objects = []
    try:
        for name, body, media_type in seal.files:
            key = f"{SEALS_PREFIX}{capture_id}/{name}"
            version = archive.file_document(key, body, media_type, lock, {
                "capture-id": capture_id, "account": record.account.id, "sealed-later": "true"})
            objects.append(LedgerObject(key=key, version_id=version, size=len(body),
                                        sha256=hashlib.sha256(body).hexdigest()))
    except ArchiveError as exc:  # another run sealed it a moment ago (its token differs from ours)
        return SealOutcome(capture_id, False, f"not filed: {exc}")
    sealed_at = seal.check.gen_time
    times = (f"captured {_utc(record.started_at)}, filed {_utc(record.filed_at)}, sealed {_utc(sealed_at)} "
             f"({_gap(record.started_at, sealed_at)} after the capture)")
    entry = archive.ledger.append(
        "seal", capture_id=capture_id, account_id=record.account.id, status=kept.entry.status, objects=objects,
        manifest_sha256=manifest_at.sha256, retention_class=kept.entry.retention_class, lock=lock,
        detail=f"sealed later: {times}; {seal.note}")
    record_event(archive, "seal", "warning" if seal.demo else "success",
                 f"{capture_id} sealed later: {times}; {seal.note}", account_id=record.account.id,
                 objects=[f"{o.key}?versionId={o.version_id}" for o in objects],
                 data={"capture_id": capture_id, "captured_at": _utc(record.started_at),
                       "filed_at": _utc(record.filed_at), "sealed_at": _utc(sealed_at), "tsa_policy": seal.policy,
                       "demo_tsa": seal.demo, "ledger_seq": entry.seq})
    get_logger(account=record.account.id, capture_id=capture_id).info(
        "capture.sealed_later", captured_at=_utc(record.started_at), sealed_at=_utc(sealed_at), ledger_seq=entry.seq)
    return SealOutcome(capture_id, True, f"sealed later: {times}", _utc(sealed_at), entry.seq)


def _gap(start: dt.datetime, end: dt.datetime | None) -> str:
    if end is None:
        return "?"
    seconds = max(0, int((end - start).total_seconds()))
    days, rest = divmod(seconds, 86400)
    return (f"{days} d " if days else "") + f"{rest // 3600} h {rest % 3600 // 60} min"


@task(name="find-unsealed", cache_policy=NO_CACHE)
def find_unsealed(account_id: str | None = None) -> list[str]:
    return unsealed_captures(Archive.connected(get_settings()), account_id)


@task(name="seal-capture", cache_policy=NO_CACHE)
def seal_capture(capture_id: str) -> SealOutcome:
    settings = get_settings()
    try:
        config = TsaConfig.from_settings(settings)
    except TimestampError as exc:
        return SealOutcome(capture_id, False, str(exc))
    if config is None:
        return SealOutcome(capture_id, False, "no TSA configured (SOMEARKIV_TSA_URL)")
    return seal_capture_now(Archive.connected(settings), capture_id, config)


@flow(name="seal-pending")
def seal_pending(account_id: str | None = None) -> State:
    """Timestamp every capture filed unsealed (the TSA was down or not configured), and the ledger's head.

    account_id: only this account's captures. The run fails while any capture stays unsealed.
    """
    log = get_logger()
    pending = find_unsealed(account_id)
    outcomes: list[SealOutcome] = []
    failures_in_a_row = 0
    for capture_id in pending:
        if failures_in_a_row >= _GIVE_UP_AFTER:
            outcomes.append(SealOutcome(capture_id, False, "not tried: the TSA failed for the ones before"))
            continue
        outcome = seal_capture(capture_id)
        outcomes.append(outcome)
        failures_in_a_row = 0 if outcome.sealed else failures_in_a_row + 1
        if not outcome.sealed:
            log.warning("capture.still_unsealed", capture_id=capture_id, reason=outcome.detail)
    seal_ledger_head()
    if outcomes:
        create_table_artifact([{"capture": o.capture_id, "sealed": "yes" if o.sealed else "NO", "detail": o.detail}
                               for o in outcomes], key="seal-pending",
                              description=f"Late seals: {sum(o.sealed for o in outcomes)} of {len(outcomes)} sealed")
    still = [o for o in outcomes if not o.sealed]
    if still:
        return failed_state(f"{len(still)} of {len(outcomes)} unsealed captures could not be sealed: "
                            + "; ".join(f"{o.capture_id}: {o.detail}" for o in still[:5]),
                            [asdict(o) for o in outcomes])
    return Completed(message=f"{len(outcomes)} unsealed captures sealed" if outcomes else "no unsealed captures",
                     data=[asdict(o) for o in outcomes])
