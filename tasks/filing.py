"""File a converted capture in the archive, with the lock its retention class asks for."""

from __future__ import annotations

import hashlib
import os
import shutil
import time

from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv.log import get_logger
from somearkiv.models import Captured, CaptureRecord, CaptureStatus, FileRole, RetentionClass
from somearkiv.settings import get_settings
from storage import Archive, Companion
from storage.archive import RECORD_NAME
from tasks.audit import record_event
from tasks.events import emit
from tasks.timestamp import (
    MANIFEST_NAME,
    TOKEN_NAME,
    TimestampError,
    TsaConfig,
    build_manifest,
    is_seal_file,
    request_timestamp,
    seal_manifest,
    tsa_readiness,
)

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
    sealing: dict = {}
    filed = archive.file_capture(record, folder, lock, companions=lambda final, present: _manifest_and_timestamp(
        final, present, sealing))
    stamp_note = sealing.get("note", "manifest and RFC 3161 timestamp already filed")
    unsealed = sealing.get("sealed") is False
    log = get_logger(account=record.account.id, capture_id=record.capture_id)
    if unsealed:  # filed completely, but without a token: said here, in the audit trail and in the run's summary
        log.warning("capture.unsealed", reason=sealing.get("reason"),
                    hint="the seal-pending flow timestamps it as soon as a TSA answers")
        emit("capture.unsealed", record.account.id, capture_id=filed.capture_id, reason=sealing.get("reason"))
    elif sealing.get("demo"):
        log.warning("capture.sealed_by_demo_tsa", policy=sealing.get("policy"), note=stamp_note)
    (folder / RECORD_NAME).write_text(filed.model_dump_json(indent=2), encoding="utf-8")
    emit("capture.filed" if filed.status is CaptureStatus.captured else "capture.blocked", record.account.id,
         capture_id=filed.capture_id, record_key=filed.record_key, trigger=filed.trigger.value, reason=filed.reason,
         wall=filed.wall.model_dump() if filed.wall else None)
    if filed.wall is not None and filed.wall.kind == "session-expired":  # for an automation that mails the owners
        emit("session.expired", record.account.id, capture_id=filed.capture_id, message=filed.wall.reason,
             responsible=record.account.responsible)
    record_event(archive, "capture",
                 "success" if filed.status is CaptureStatus.captured and not unsealed and not sealing.get("demo")
                 else "warning",
                 f"{filed.capture_id} filed ({filed.status.value}, trigger {filed.trigger.value}); {stamp_note}",
                 account_id=record.account.id, person=filed.requested_by,
                 objects=[f"{f.key}?versionId={f.version_id}" for f in filed.files],
                 data={"capture_id": filed.capture_id, "record_key": filed.record_key,
                       **{k: sealing[k] for k in ("sealed", "unsealed_reason", "tsa_policy", "demo_tsa", "sealed_at")
                          if k in sealing}})
    if not settings.keep_local:
        shutil.rmtree(folder, ignore_errors=True)
    log.info(
        "capture.filed", bucket=filed.bucket, files=len(filed.files), retention_class=retention.id,
        retain_until=filed.lock.retain_until.isoformat() if filed.lock else None,
        legal_hold=filed.lock.legal_hold if filed.lock else None)
    return Captured(filed, folder)


# A TSA that did not answer is not asked again for this long by this process: with many captures filed at
# once, each would otherwise wait out SOMEARKIV_TSA_TIMEOUT_S before being filed unsealed.
_DOWN_FOR_S = 60.0
_TSA_DOWN: dict[str, tuple[float, str]] = {}
_SEAL_MEDIA = {TOKEN_NAME: "application/timestamp-reply", "seal.json": "application/json"}


def _media_type(name: str) -> str:
    if name in _SEAL_MEDIA:
        return _SEAL_MEDIA[name]
    return {".pem": "application/pem-certificate-chain", ".der": "application/ocsp-response"
            if ".ocsp-" in name else "application/pkix-crl"}.get(name[name.rfind("."):], "application/octet-stream")


def _manifest_and_timestamp(filed: CaptureRecord, present: frozenset[str], sealing: dict) -> list[Companion]:
    """manifest.json (every file's SHA-256) and, when a TSA answers, its RFC 3161 token with the
    token's long-term validation data and seal.json (tasks.timestamp). When no token can be had the
    capture is filed all the same, *unsealed*: ``sealing`` says so and why, for the audit trail and
    the run, and the seal-pending flow timestamps it later."""
    manifest = Companion(MANIFEST_NAME, build_manifest(filed), "application/json")
    if TOKEN_NAME in present:  # a retry: the seal is filed; a new token would differ. The archive reads them back
        return [manifest] + [Companion(name, b"", _media_type(name)) for name in sorted(present) if is_seal_file(name)]
    settings = get_settings()

    def unsealed(reason: str) -> list[Companion]:
        sealing.update(sealed=False, unsealed_reason=reason,
                       reason=reason, note=f"UNSEALED, filed without an RFC 3161 timestamp: {reason}; the seal-pending "
                                           "flow timestamps it as soon as a TSA answers")
        return [manifest]

    if not settings.tsa_url:
        return unsealed("no TSA configured (SOMEARKIV_TSA_URL)")
    down = _TSA_DOWN.get(settings.tsa_url)
    if down is not None and time.monotonic() - down[0] < _DOWN_FOR_S:  # do not wait out its timeout per capture
        return unsealed(f"{down[1]} (a moment ago; not asked again)")
    try:
        config = TsaConfig.from_settings(settings)
        seal = seal_manifest(manifest.body, config, capture_id=filed.capture_id, captured_at=filed.started_at,
                             filed_at=filed.filed_at)
    except TimestampError as exc:
        if "did not answer" in str(exc):
            _TSA_DOWN[settings.tsa_url] = (time.monotonic(), str(exc))
        return unsealed(str(exc))
    _TSA_DOWN.pop(settings.tsa_url, None)
    sealing.update(sealed=True, note=seal.note, demo=seal.demo, demo_tsa=seal.demo, tsa_policy=seal.policy,
                   policy=seal.policy, sealed_at=seal.document["sealed_at"])
    return [manifest] + [Companion(name, body, media_type) for name, body, media_type in seal.files]


@task(name="seal-ledger-head", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def seal_ledger_head() -> str | None:
    """Timestamp the custody ledger's newest entry with RFC 3161 (when a TSA is configured): the
    token proves the whole chain up to it existed then. Returns the token's key.

    Run at the end of every snapshot run: without a TSA it warns (every run), and a TSA that does
    not answer is a warning too (the next run, or seal-pending, seals the head then)."""
    settings = get_settings()
    log = get_logger()
    if not settings.tsa_url:
        log.warning("tsa.not_configured", message=tsa_readiness(settings, probe=False)[1])
        return None
    archive = Archive.connected(settings)
    head = archive.ledger.head()
    if head is None or archive.ledger.is_sealed(head):
        return None
    try:
        token = request_timestamp(hashlib.sha256(head.hash.encode()).digest(), TsaConfig.from_settings(settings))
    except TimestampError as exc:
        log.warning("ledger.unsealed", seq=head.seq, reason=str(exc),
                    hint="the next run or the seal-pending flow timestamps the ledger's head")
        return None
    key = archive.ledger.file_token(head, token)
    log.info("ledger.sealed", seq=head.seq, token=key)
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
