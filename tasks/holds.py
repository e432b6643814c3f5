"""Legal holds on whole captures, placed and lifted with a reason that goes into the audit trail."""

from __future__ import annotations

from somearkiv.models import CaptureRecord, LedgerObject
from somearkiv.retention import HoldRefused, RetentionSchedule
from storage import Archive
from tasks.audit import record_event

__all__ = ["HoldRefused", "set_hold"]


def set_hold(archive: Archive, schedule: RetentionSchedule, record: CaptureRecord, on: bool, reason: str,
             person: str | None) -> int:
    """Place (on) or lift a legal hold on every filed object of *record*; return how many objects.

    *archive* must be connected as the archivist: the pipeline's identity cannot touch holds.
    """
    if not on:
        schedule.check_release(record.retention_class, record.capture_id)
    objects = archive.capture_objects(record)
    for key, version in objects:
        archive.set_legal_hold(key, version, on)
    archive.ledger.append("hold" if on else "release", capture_id=record.capture_id, account_id=record.account.id,
                          objects=[LedgerObject(key=k, version_id=v) for k, v in objects], person=person,
                          detail=reason)
    record_event(archive, "hold" if on else "release", "success",
                 f"{'legal hold placed on' if on else 'legal hold lifted from'} {record.capture_id}: {reason}",
                 account_id=record.account.id, objects=[f"{k}?versionId={v}" for k, v in objects], person=person,
                 data={"reason": reason, "capture_id": record.capture_id})
    return len(objects)
