"""File a converted capture in the archive, with the lock its retention class asks for."""

from __future__ import annotations

import hashlib
import os
import shutil

from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv.log import get_logger
from somearkiv.models import Captured, CaptureRecord, CaptureStatus, FileRole, RetentionClass
from somearkiv.settings import get_settings
from storage import Archive, Companion
from storage.archive import RECORD_NAME
from tasks.audit import record_event
from tasks.events import emit
from tasks.timestamp import MANIFEST_NAME, TOKEN_NAME, build_manifest, request_timestamp, timestamp_capture

__all__ = ["file_capture", "prepare_archive", "remove_review_copies", "seal_ledger_head", "stage_review_copies"]


@task(name="prepare-archive", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def prepare_archive() -> str:
    """Make sure the bucket exists with Object Lock (starting the embedded S3 if that is the set-up)."""
    settings = get_settings()
    os.umask(0o077)  # local copies and working files: readable by this service only
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
    archive = Archive.from_settings(settings)
    archive.ensure_bucket()
    return archive.bucket


@task(name="file-capture", retries=3, retry_delay_seconds=[2, 10, 30], cache_policy=NO_CACHE)
def file_capture(converted: Captured, retention: RetentionClass) -> Captured:
    """Task: upload every file of the capture, its record.json, manifest and timestamp; ledger it."""
    record, folder = converted
    settings = get_settings()
    archive = Archive.connected(settings)
    lock = retention.lock_for(record.started_at)
    notes: list[str] = []
    filed = archive.file_capture(record, folder, lock, companions=lambda final, present: _manifest_and_timestamp(
        final, present, notes))
    stamp_note = notes[0] if notes else "manifest and RFC 3161 timestamp already filed"
    (folder / RECORD_NAME).write_text(filed.model_dump_json(indent=2), encoding="utf-8")
    emit("capture.filed" if filed.status is CaptureStatus.captured else "capture.blocked", record.account.id,
         capture_id=filed.capture_id, record_key=filed.record_key, trigger=filed.trigger.value, reason=filed.reason,
         wall=filed.wall.model_dump() if filed.wall else None)
    if filed.wall is not None and filed.wall.kind == "session-expired":  # for an automation that mails the owners
        emit("session.expired", record.account.id, capture_id=filed.capture_id, message=filed.wall.reason,
             responsible=record.account.responsible)
    record_event(archive, "capture", "success" if filed.status is CaptureStatus.captured else "warning",
                 f"{filed.capture_id} filed ({filed.status.value}, trigger {filed.trigger.value}); {stamp_note}",
                 account_id=record.account.id, person=filed.requested_by,
                 objects=[f"{f.key}?versionId={f.version_id}" for f in filed.files],
                 data={"capture_id": filed.capture_id, "record_key": filed.record_key})
    if not settings.keep_local:
        shutil.rmtree(folder, ignore_errors=True)
    get_logger(account=record.account.id, capture_id=record.capture_id).info(
        "capture.filed", bucket=filed.bucket, files=len(filed.files), retention_class=retention.id,
        retain_until=filed.lock.retain_until.isoformat() if filed.lock else None,
        legal_hold=filed.lock.legal_hold if filed.lock else None)
    return Captured(filed, folder)


def _manifest_and_timestamp(filed: CaptureRecord, present: frozenset[str], notes: list[str]) -> list[Companion]:
    """manifest.json (every file's SHA-256) and, with a TSA configured, its RFC 3161 token."""
    if TOKEN_NAME in present:  # a retry: the token is there; a new one would differ
        return [Companion(MANIFEST_NAME, build_manifest(filed), "application/json")]
    settings = get_settings()
    ca = settings.tsa_ca_file.read_bytes() if settings.tsa_ca_file else None
    stamped = timestamp_capture(filed, settings.tsa_url, trusted_ca_pem=ca, timeout=settings.tsa_timeout_s)
    notes.append(stamped.note)
    made = [Companion(MANIFEST_NAME, stamped.manifest, "application/json")]
    if stamped.token is not None:
        made.append(Companion(TOKEN_NAME, stamped.token, "application/timestamp-reply"))
    return made


@task(name="seal-ledger-head", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def seal_ledger_head() -> str | None:
    """Timestamp the custody ledger's newest entry with RFC 3161 (when a TSA is configured): the
    token proves the whole chain up to it existed then. Returns the token's key."""
    settings = get_settings()
    if not settings.tsa_url:
        return None
    archive = Archive.connected(settings)
    head = archive.ledger.head()
    if head is None or archive.ledger.is_sealed(head):
        return None
    token = request_timestamp(hashlib.sha256(head.hash.encode()).digest(), settings.tsa_url,
                              timeout=settings.tsa_timeout_s)
    key = archive.ledger.file_token(head, token)
    get_logger().info("ledger.sealed", seq=head.seq, token=key)
    return key


@task(name="stage-review-copies", cache_policy=NO_CACHE)
def stage_review_copies(captures: list[Captured]) -> dict[str, str]:
    """Temporary, unlocked copies of screenshots not yet filed, so a form can link to them."""
    settings = get_settings()
    archive = Archive.connected(settings)
    links = {}
    for captured in captures:
        png = captured.path(FileRole.screenshot)
        if png is not None and png.exists():
            links[captured.record.account.id] = archive.stage_review_copy(captured.record.capture_id, png,
                                                                          settings.review_link_hours * 3600)
    return links


@task(name="remove-review-copies", cache_policy=NO_CACHE)
def remove_review_copies(links: list[str]) -> None:
    Archive.connected(get_settings()).remove_review_copies(links)
