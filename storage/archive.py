"""The archive in S3: the only place that knows the bucket, the key layout, checksums and locks.

Every object is filed once: with its SHA-256 checked by the server on upload, with its
retention (and legal hold) set in the PUT itself, and with ``If-None-Match: *`` so nothing
archived is ever overwritten. ``record.json`` is filed last, so a capture whose record exists
is complete, and the capture's entry in the custody ledger (storage.ledger), filed after its
manifest and timestamp, is what makes it part of the archive's custody.

Each process connects as one role (``pipeline``, ``archivist``, ``auditor``: see
storage.gateway), with the narrowest identity its work needs.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from somearkiv import __version__
from somearkiv.models import (
    AuditEvent,
    CaptureRecord,
    CaptureStatus,
    LedgerObject,
    ModerationCase,
    ObjectLock,
    WatchRecord,
)
from somearkiv.retention import records_lock
from somearkiv.settings import Settings
from storage.embedded import ROLES, EmbeddedS3
from storage.errors import ArchiveError, FixityError, ObjectMissing, is_missing, storage_error
from storage.ledger import CaptureCustody, Custody, Ledger, custody

__all__ = [
    "Archive",
    "Companion",
    "ObjectInfo",
    "AUDIT_PREFIX",
    "CAPTURES_PREFIX",
    "PROTOCOL_PREFIX",
    "RECORD_NAME",
    "SEALS_PREFIX",
    "capture_of",
    "capture_prefix",
]

CAPTURES_PREFIX = "captures/"
BLOCKED_PREFIX = "blocked/"  # evidence of walls: kept, but never taken for an ögonblicksbild
AUDIT_PREFIX = "audit/"  # the append-only audit trail, one locked object per event
PROTOCOL_PREFIX = "gallringsprotokoll/"  # disposal records: kept permanently
REVIEW_PREFIX = "review/"  # temporary copies for a person to look at before filing; not records
REPORTS_PREFIX = "reports/"  # the archive's own reports (metrics tables): kept permanently
DELIVERIES_PREFIX = "deliveries/"  # one record per delivery to the e-archive: kept permanently
SEALS_PREFIX = "seals/"  # seals/<capture-id>/: a timestamp got later (seal-pending), part of that capture
RECORD_NAME = "record.json"


def capture_prefix(capture_id: str, status: CaptureStatus = CaptureStatus.captured) -> str:
    """captures/<account>/<YYYY-MM-DDTHHMMSSZ>-<trigger>/ (blocked/... for a wall's evidence)"""
    return f"{BLOCKED_PREFIX if status is CaptureStatus.blocked else CAPTURES_PREFIX}{capture_id}/"


def capture_of(key: str) -> str | None:
    """The capture id a key under captures/, blocked/ or seals/ belongs to."""
    for prefix in (CAPTURES_PREFIX, BLOCKED_PREFIX, SEALS_PREFIX):
        if key.startswith(prefix):
            parts = key.removeprefix(prefix).split("/")
            return "/".join(parts[:2]) if len(parts) > 2 else None
    return None


def _meta(value: str) -> str:
    """S3 user metadata is ASCII: percent-encode anything else (å, ä, ö ...)."""
    return quote(value, safe=" /:@,;=+-_.()")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    version_id: str | None
    size: int
    media_type: str
    sha256: str | None
    metadata: dict[str, str]
    lock_mode: str | None
    retain_until: dt.datetime | None
    legal_hold: bool


@dataclass(frozen=True)
class Companion:
    """A document filed beside a capture's files and record (its manifest, its timestamp token)."""

    name: str
    body: bytes
    media_type: str


# Makes a capture's companions from its filed record; gets the names already filed (a retry).
Companions = Callable[[CaptureRecord, frozenset[str]], list[Companion]]

_CONNECTED: dict[tuple, Archive] = {}
_CONNECTED_LOCK = threading.Lock()
_CLIENT_CONFIG = Config(
    signature_version="s3v4",  # presigned links too (botocore's default for them is SigV2)
    s3={"addressing_style": "path"},
    retries={"mode": "standard", "max_attempts": 5},
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
    connect_timeout=10,
    read_timeout=60,
)


class Archive:
    def __init__(self, client: BaseClient, bucket: str, role: str = "pipeline", ledger_cache: Path | None = None):
        """ledger_cache: a local folder where ledger entries once read are kept (storage.ledger_cache)."""
        self.client = client
        self.bucket = bucket
        self.role = role
        self.ledger = Ledger(self, ledger_cache)

    @classmethod
    def connected(cls, settings: Settings, role: str = "pipeline") -> Archive:
        """The configured archive for a task: one client per process, set-up and role, shared (boto3
        clients are thread-safe), the embedded server not started (the flow's prepare step did)."""
        setup = (settings.use_embedded_s3, settings.s3_endpoint_url, settings.s3_region, settings.s3_bucket,
                 str(settings.data_dir), settings.s3_embedded_port, role)
        with _CONNECTED_LOCK:
            if setup not in _CONNECTED:
                _CONNECTED[setup] = cls.from_settings(settings, start_embedded=False, role=role)
            return _CONNECTED[setup]

    @classmethod
    def from_settings(cls, settings: Settings, start_embedded: bool = True, role: str = "pipeline") -> Archive:
        """Connect as *role*; with the embedded default, start SeaweedFS (and create the bucket) if needed.

        The pipeline uses the default AWS credential chain; the archivist and auditor identities of
        an external S3 service come from the AWS profiles SOMEARKIV_S3_ARCHIVIST_PROFILE and
        SOMEARKIV_S3_AUDITOR_PROFILE (unset: the default chain, which ``doctor`` reports as not separated).
        """
        if role not in ROLES:
            raise ArchiveError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        if settings.use_embedded_s3:
            server = EmbeddedS3(settings.data_dir / "seaweedfs", settings.s3_embedded_port)
            if start_embedded:
                server.start()
                server.ensure_bucket(settings.s3_bucket)
            key, secret = server.credentials(role)
            client = boto3.client("s3", endpoint_url=server.endpoint_url, aws_access_key_id=key,
                                  aws_secret_access_key=secret, region_name="us-east-1", config=_CLIENT_CONFIG)
        else:
            profile = {"archivist": settings.s3_archivist_profile, "auditor": settings.s3_auditor_profile}.get(role)
            client = boto3.Session(profile_name=profile).client(
                "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region, config=_CLIENT_CONFIG)
        return cls(client, settings.s3_bucket, role, ledger_cache=settings.data_dir / "ledger-cache")

    # -- bucket ---------------------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock if missing; refuse a bucket without Object Lock."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                raise
            kwargs: dict = {"Bucket": self.bucket, "ObjectLockEnabledForBucket": True}
            region = self.client.meta.region_name
            if region and region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                self.client.create_bucket(**kwargs)
            except ClientError as refused:
                raise ArchiveError(
                    f"bucket {self.bucket!r} does not exist and the {self.role} identity may not create it: "
                    "create it with Object Lock as the archive's administrator (README, 'Identities')") from refused
        try:
            conf = self.client.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except ClientError as exc:
            raise ArchiveError(f"bucket {self.bucket!r} has no Object Lock; archived objects could be deleted. "
                               "Create a bucket with Object Lock enabled.") from exc
        if conf.get("ObjectLockEnabled") != "Enabled":
            raise ArchiveError(f"bucket {self.bucket!r} has Object Lock disabled")

    # -- filing ---------------------------------------------------------------------------------

    def put_new(self, key: str, body: bytes, media_type: str, metadata: dict[str, str],
                lock: ObjectLock | None = None) -> str | None:
        """PUT one object only if *key* is free (``If-None-Match: *``), with its SHA-256 checked by the
        server and its lock in the PUT (default: the permanent-records lock); return its version id,
        or None when the key is already taken."""
        sha256 = hashlib.sha256(body).hexdigest()
        lock = lock or records_lock(dt.datetime.now(dt.UTC))
        try:
            response = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=media_type,
                ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
                Metadata={**metadata, "sha256": sha256, "media-type": _meta(media_type)},
                ObjectLockMode=lock.mode.value, ObjectLockRetainUntilDate=lock.retain_until,
                # a hold is only ever set ON: an identity that may set holds need never send OFF
                **({"ObjectLockLegalHoldStatus": "ON"} if lock.legal_hold else {}),
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("PreconditionFailed", "412"):
                return None
            if exc.response["Error"]["Code"] in ("InternalError", "500", "503"):
                raise ArchiveError(
                    f"{key}: the S3 server answered {exc.response['Error']['Code']}. If its disk was full, free space "
                    "and restart it (embedded server: somearkiv s3 restart), then run again") from exc
            raise
        return response.get("VersionId") or "null"

    def _put(self, key: str, body: bytes, media_type: str, metadata: dict[str, str], lock: ObjectLock) -> str | None:
        """PUT one object, never over an existing one; return its version id.

        A retried upload that finds its own bytes already there (same SHA-256) is accepted.
        """
        version = self.put_new(key, body, media_type, metadata, lock)
        if version is not None:
            return version
        existing = self.head(key)
        if existing.sha256 != hashlib.sha256(body).hexdigest():
            raise ArchiveError(f"{key} already exists with other content; it is never overwritten")
        return existing.version_id

    def file_capture(self, record: CaptureRecord, folder: Path, lock: ObjectLock,
                     companions: Companions | None = None) -> CaptureRecord:
        """File every file of *record* from *folder*, then record.json, then its *companions*, then
        append the capture to the custody ledger; return the filed record.

        Filing the same capture again (a retried task) returns the record already filed and
        completes what a crash left undone (companions, the ledger entry), never twice.
        """
        prefix = capture_prefix(record.capture_id, record.status)
        already = self._filed_record(prefix + RECORD_NAME)
        if already is not None:
            if {(f.name, f.sha256) for f in already.files} != {(f.name, f.sha256) for f in record.files}:
                raise ArchiveError(f"{record.capture_id} is already filed with other content; it is never overwritten")
            final, record_version = already, self.head(prefix + RECORD_NAME).version_id
        else:
            final, record_version = self._file_files_and_record(record, folder, lock, prefix)
        record_body = final.model_dump_json(indent=2).encode()
        present = frozenset(k.removeprefix(prefix) for k in self.capture_keys(record.capture_id, record.status))
        made = companions(final, present) if companions else []
        filed_companions = []
        for companion in made:
            key = prefix + companion.name
            if companion.name in present:  # a retry: as filed then
                info = self.head(key)
                filed_companions.append(LedgerObject(key=key, version_id=info.version_id, size=info.size,
                                                     sha256=info.sha256))
                continue
            version = self._put(key, companion.body, companion.media_type,
                                {"capture-id": record.capture_id, "account": record.account.id, "origin": "upprattad"},
                                lock)
            filed_companions.append(LedgerObject(key=key, version_id=version, size=len(companion.body),
                                                 sha256=hashlib.sha256(companion.body).hexdigest()))
        if self.ledger.find_capture(final.capture_id, since=final.filed_at) is None:
            objects = [LedgerObject(key=f.key, version_id=f.version_id, size=f.size, sha256=f.sha256)
                       for f in final.files]
            objects.append(LedgerObject(key=final.record_key, version_id=record_version,
                                        size=len(record_body), sha256=hashlib.sha256(record_body).hexdigest()))
            objects += filed_companions
            manifest_sha256 = next((o.sha256 for c, o in zip(made, filed_companions, strict=True)
                                    if c.media_type == "application/json" and c.name.startswith("manifest")), None)
            self.ledger.append("capture", capture_id=final.capture_id, account_id=final.account.id,
                               status=final.status, objects=objects, manifest_sha256=manifest_sha256,
                               retention_class=final.retention_class, lock=lock, person=final.requested_by,
                               detail=f"filed ({final.status.value}, trigger {final.trigger.value})")
        return final

    def _file_files_and_record(self, record: CaptureRecord, folder: Path, lock: ObjectLock,
                               prefix: str) -> tuple[CaptureRecord, str | None]:
        """The files, then record.json: the filed record and the record's version id."""
        common = {
            "capture-id": record.capture_id,
            "account": record.account.id,
            "platform": record.account.platform.value,
            "captured-at": record.started_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "trigger": record.trigger.value,
            "retention-class": record.retention_class,
            "municipality": _meta(record.municipality),
            "created-by": f"somearkiv/{__version__}",
            "origin": "upprattad",  # created by the authority itself, not received (P7)
            "status": record.status.value,
        }
        if record.pdfa is not None:
            common["pdfa"] = (f"{record.pdfa.conformance} validated, text {record.pdfa.text_layer}"
                              if record.pdfa.valid else "failed")
        if record.metrics is not None:
            for name, value in (("followers", record.metrics.followers),
                                ("posts-last-month", record.metrics.posts_last_month)):
                common[name] = "unknown" if value.value is None else str(value.value)
                common[f"{name}-source"] = _meta(value.source)
        filed = self._file_files(record.files, folder, prefix, common, lock, self._put)
        final = record.model_copy(update={
            "files": tuple(filed), "lock": lock, "bucket": self.bucket, "filed_at": dt.datetime.now(dt.UTC),
            "record_key": prefix + RECORD_NAME,
        })
        version = self._put(prefix + RECORD_NAME, final.model_dump_json(indent=2).encode(), "application/json",
                            {**common, "role": "record"}, lock)
        return final, version

    # -- reading --------------------------------------------------------------------------------

    @staticmethod
    def _file_files(files, folder: Path, prefix: str, common: dict[str, str], lock: ObjectLock, put) -> list:
        """Each of *files* from *folder* under *prefix*, its bytes checked against the SHA-256 it was captured
        with, put with *put* (a PUT that never overwrites) and *lock*; the files with their keys and versions."""
        filed = []
        for f in files:
            body = (folder / f.name).read_bytes()
            if hashlib.sha256(body).hexdigest() != f.sha256:
                raise FixityError(f"{folder / f.name} changed since it was captured")
            version = put(prefix + f.name, body, f.media_type, {**common, "role": f.role.value}, lock)
            filed.append(f.model_copy(update={"key": prefix + f.name, "version_id": version}))
        return filed

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo:
        h = self.client.head_object(**self._version(key, version_id), ChecksumMode="ENABLED")
        meta = {k: unquote(v) for k, v in h.get("Metadata", {}).items()}
        return ObjectInfo(
            key=key, version_id=h.get("VersionId"), size=h["ContentLength"],
            media_type=meta.get("media-type") or h.get("ContentType", "application/octet-stream"),
            sha256=meta.get("sha256") or _b64_to_hex(h.get("ChecksumSHA256")), metadata=meta,
            lock_mode=h.get("ObjectLockMode"), retain_until=h.get("ObjectLockRetainUntilDate"),
            legal_hold=h.get("ObjectLockLegalHoldStatus") == "ON",
        )

    def _filed_record(self, key: str) -> CaptureRecord | None:
        try:
            return self.read_record(key)
        except ObjectMissing:
            return None

    def read_record(self, key: str, version_id: str | None = None) -> CaptureRecord:
        return CaptureRecord.model_validate_json(self.read(key, version_id))

    def custody(self) -> Custody:
        """Every ledgered capture's custody (storage.ledger), read from the ledger's first versions."""
        entries, _problems = self.ledger.verify(fresh=False)
        return custody(entries)

    def list_captures(self, account_id: str | None = None, status: CaptureStatus = CaptureStatus.captured,
                      state: dict[str, CaptureCustody] | None = None, last: int | None = None
                      ) -> list[CaptureRecord]:
        """Every filed capture the ledger knows and that is not disposed of, oldest first, each read
        by the version it was filed as (a capture hidden or forged since still shows as filed).

        state: the custody already read (``custody()``), to read the ledger once.
        last: only the newest *last* of them (by the time in their ids), so only those are read.
        """
        return self.read_records(self.capture_records(account_id, status, state, last))

    def capture_records(self, account_id: str | None = None, status: CaptureStatus = CaptureStatus.captured,
                        state: dict[str, CaptureCustody] | None = None, last: int | None = None
                        ) -> list[LedgerObject]:
        """The record.json versions that list_captures reads (as the ledger filed them), without reading
        them: small, to be read later with read_records."""
        source = self.custody() if state is None else state
        candidates = source.of_account(account_id) if account_id and isinstance(source, Custody) \
            else source.values()
        kept = sorted((k for k in candidates if k.entry.status is status and k.record_object is not None
                       and (not account_id or k.entry.account_id == account_id)),
                      key=lambda k: k.capture_id.rsplit("/", 1)[-1])  # its time, then its trigger
        return [k.record_object for k in (kept[-last:] if last is not None else kept)]

    def read_records(self, objects: list[LedgerObject]) -> list[CaptureRecord]:
        """The capture records at these versions, oldest first; one missing is left out (fixity reports it)."""
        records = []
        for found in objects:
            try:
                records.append(self.read_record(found.key, found.version_id))
            except ObjectMissing:
                continue
        return sorted(records, key=lambda r: (r.started_at, r.capture_id))

    # -- the audit trail, documents ---------------------------------------------------------------

    def file_audit(self, event: AuditEvent, lock: ObjectLock) -> str:
        """File one audit event as its own locked object; return its key."""
        when = event.event_datetime.astimezone(dt.UTC)
        key = (f"{AUDIT_PREFIX}{when:%Y/%m/%d}/{when:%Y-%m-%dT%H%M%S.%fZ}-{event.event_type}-"
               f"{event.event_id[:8]}.json")
        body = event.model_dump_json().encode()
        self._put(key, body, "application/json",
                  {"event-type": event.event_type, "account": event.account_id or "", "origin": "upprattad"}, lock)
        return key

    def read_audit(self, prefix: str = AUDIT_PREFIX) -> list[AuditEvent]:
        events = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                body = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                events.append(AuditEvent.model_validate_json(body))
        return sorted(events, key=lambda e: e.event_datetime)

    def file_report(self, kind: str, label: str, body: bytes, media_type: str, when: dt.datetime) -> str:
        """File a report of the archive's own (``reports/<kind>/<time>-<label>.<ext>``), permanently."""
        extension = {"text/csv": "csv", "application/json": "json"}.get(media_type.split(";")[0], "bin")
        key = f"{REPORTS_PREFIX}{kind}/{when.astimezone(dt.UTC):%Y-%m-%dT%H%M%SZ}-{label}.{extension}"
        self.file_document(key, body, media_type, records_lock(when))
        return key

    def file_delivery(self, account_id: str, body: bytes, when: dt.datetime) -> str:
        """File the record of one delivery to the e-archive (``deliveries/``), permanently."""
        key = f"{DELIVERIES_PREFIX}{when.astimezone(dt.UTC):%Y-%m-%dT%H%M%SZ}-{account_id}.json"
        self.file_document(key, body, "application/json", records_lock(when))
        return key

    @staticmethod
    def protocol_keys(when: dt.datetime) -> dict[str, str]:
        """Where a gallringsprotokoll made at *when* is filed, as JSON and as PDF/A."""
        stamp = f"{when.astimezone(dt.UTC):%Y-%m-%dT%H%M%SZ}"
        return {"json": f"{PROTOCOL_PREFIX}{stamp}.json", "pdf": f"{PROTOCOL_PREFIX}{stamp}.pdf"}

    def file_document(self, key: str, body: bytes, media_type: str, lock: ObjectLock,
                      metadata: dict[str, str] | None = None) -> str | None:
        """File a document of the archive's own (a disposal protocol) once, locked; return its version."""
        return self._put(key, body, media_type, {"origin": "upprattad", **(metadata or {})}, lock)

    # -- objects of a capture: holds, fixity, disposal -------------------------------------------

    def captures_named(self, target: str) -> list[CaptureRecord]:
        """The filed captures *target* names: an account id, a capture id, or any key inside a capture."""
        capture_id = capture_of(target) or (target if "/" in target else None)
        account = (capture_id or target).split("/")[0]
        return [r for r in self.list_captures(account) if capture_id is None or r.capture_id == capture_id]

    def capture_objects(self, record: CaptureRecord,
                        state: dict[str, CaptureCustody] | None = None) -> list[tuple[str, str | None]]:
        """(key, version id) of every object version the ledger says was filed for the capture and
        is not disposed of: its files, record.json, manifest and timestamp token.

        state: the custody already read (``custody()``), when asking for many captures."""
        kept = (self.custody() if state is None else state).get(record.capture_id)
        if kept is None:
            raise ArchiveError(f"{record.capture_id} is not in the custody ledger")
        return list(kept.objects)

    def capture_keys(self, capture_id: str, status: CaptureStatus = CaptureStatus.captured) -> list[str]:
        """The keys now in a capture's folder: its files, record.json, manifest and timestamp token."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=capture_prefix(capture_id, status))
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if is_missing(exc):
                return False
            raise

    def read(self, key: str, version_id: str | None = None) -> bytes:
        try:
            return self.client.get_object(**self._version(key, version_id))["Body"].read()
        except ClientError as exc:
            raise storage_error(exc, key) from exc

    def _version(self, key: str, version_id: str | None) -> dict:
        """The Bucket/Key(/VersionId) arguments of one object version."""
        return {"Bucket": self.bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}

    def mark_delivered(self, record: CaptureRecord, package_id: str, when: dt.datetime,
                       state: dict[str, CaptureCustody] | None = None) -> None:
        """Tag every filed object of a capture as delivered to the e-archive (tags, not the locked bytes),
        and ledger the delivery."""
        tags = {"TagSet": [{"Key": "delivered", "Value": when.strftime("%Y-%m-%dT%H%M%SZ")},
                           {"Key": "package", "Value": package_id.replace(":", "_")[:250]}]}
        objects = self.capture_objects(record, state)
        for key, version in objects:
            self.client.put_object_tagging(Bucket=self.bucket, Key=key, VersionId=version, Tagging=tags)
        self.ledger.append("delivery", capture_id=record.capture_id, account_id=record.account.id,
                           objects=[LedgerObject(key=k, version_id=v) for k, v in objects],
                           detail=f"delivered to the e-archive in package {package_id}")

    def tags(self, key: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.client.get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"]}

    def set_legal_hold(self, key: str, version_id: str | None, on: bool) -> None:
        self.client.put_object_legal_hold(**self._version(key, version_id),
                                          LegalHold={"Status": "ON" if on else "OFF"})

    def delete_version(self, key: str, version_id: str, bypass_governance: bool = False) -> None:
        """Delete exactly one version (the disposal flow's only way to remove anything)."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id,
                                      BypassGovernanceRetention=bypass_governance)
        except ClientError as exc:
            error = exc.response["Error"]
            raise ArchiveError(f"{key} version {version_id}: {error.get('Code')} {error.get('Message', '')}".strip()) \
                from exc

    def version_exists(self, key: str, version_id: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            return True
        except ClientError as exc:
            if is_missing(exc) or exc.response["Error"]["Code"] in ("400", "405", "MethodNotAllowed"):
                return False
            raise

    def stage_review_copy(self, capture_id: str, path: Path, expires_s: int) -> str:
        """An unlocked copy under review/ of a file not filed yet, and a link to it."""
        key = f"{REVIEW_PREFIX}{capture_id}/{path.name}"
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=path.read_bytes(), ContentType="image/png",
                                   IfNoneMatch="*")
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("PreconditionFailed", "412"):
                raise  # a copy staged by an earlier try of the same capture is as good
        return self.presigned_url(key, expires_s)

    def remove_review_copies(self, links: list[str]) -> None:
        """Delete the review copies behind *links* (every version: they were never records)."""
        from urllib.parse import urlsplit

        for link in links:
            key = unquote(urlsplit(link).path.split(f"/{self.bucket}/", 1)[-1])
            if not key.startswith(REVIEW_PREFIX):
                continue
            for v in self.client.list_object_versions(Bucket=self.bucket, Prefix=key).get("Versions", []):
                self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=v["VersionId"])

    def presigned_url(self, key: str, expires_s: int) -> str:
        """A time-limited link to read *key* (at most 7 days, the SigV4 limit)."""
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                  ExpiresIn=min(expires_s, 7 * 24 * 3600))

    def download(self, key: str, dest: Path, version_id: str | None = None) -> ObjectInfo:
        """Fetch *key* to *dest*, checking its bytes against the SHA-256 it was filed with."""
        try:
            info = self.head(key, version_id)
            body = self.client.get_object(**self._version(key, version_id))["Body"]
        except ClientError as exc:
            raise storage_error(exc, key or "(empty key)") from exc
        if not info.sha256:
            raise FixityError(f"{key} carries no SHA-256 to check against")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in body.iter_chunks(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != info.sha256:
                raise FixityError(f"{key}: SHA-256 {digest.hexdigest()} does not match the filed {info.sha256}")
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return info

    # -- disclosures (utlämnande med maskning): a masked copy of a capture and the decision's record --

    DISCLOSURES_PREFIX = "disclosures/"  # kept as the decision's lock says; the capture itself is never touched

    @classmethod
    def disclosure_prefix(cls, capture_id: str, when: dt.datetime) -> str:
        """disclosures/<capture-id>/<YYYY-MM-DDTHHMMSSZ>/: one folder per decision to disclose a capture."""
        return f"{cls.DISCLOSURES_PREFIX}{capture_id}/{when.astimezone(dt.UTC):%Y-%m-%dT%H%M%SZ}/"

    def file_disclosure(self, capture_id: str, account_id: str, when: dt.datetime, documents: list[Companion],
                        record: Callable[[list[LedgerObject]], Companion], lock: ObjectLock,
                        person: str | None = None, detail: str = "") -> list[LedgerObject]:
        """File a disclosure's *documents* (the masked copy), then its record, made by *record* from what was
        filed (keys, versions, SHA-256), all under ``disclosure_prefix`` with *lock* in the PUT and never over
        an existing key; then append a ``disclosure`` entry to the custody ledger. Returns every object
        filed, the record last."""
        prefix = self.disclosure_prefix(capture_id, when)
        meta = {"capture-id": capture_id, "account": account_id, "origin": "upprattad", "role": "disclosure"}
        filed: list[LedgerObject] = []
        for document in [*documents, None]:
            if document is None:  # the record, last: a disclosure whose record exists is complete
                document, meta = record(list(filed)), {**meta, "role": "disclosure-record"}
            version = self._put(prefix + document.name, document.body, document.media_type, meta, lock)
            filed.append(LedgerObject(key=prefix + document.name, version_id=version, size=len(document.body),
                                      sha256=hashlib.sha256(document.body).hexdigest()))
        self.ledger.append("disclosure", capture_id=capture_id, account_id=account_id, objects=filed, lock=lock,
                           person=person, detail=detail)
        return filed

    def disclosure_record_keys(self, capture_id: str | None = None) -> list[str]:
        """The keys of the disclosure records filed (for one capture), oldest first."""
        return self._keys_under(self.DISCLOSURES_PREFIX + (f"{capture_id}/" if capture_id else ""), "/disclosure.json")

    def _keys_under(self, prefix: str, ending: str) -> list[str]:
        """Every key under *prefix* that ends with *ending*, sorted (oldest first where keys carry the time)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", [])
                      if item["Key"].endswith(ending))

    # -- the weekly watch: light captures under watch/, in a short-lived class, outside the custody ledger --
    # (a watch that shows the last state before an unannounced change is promoted: copied into a new
    # capture under captures/, filed and ledgered like any other; the watch itself is never rewritten)

    WATCH_PREFIX = "watch/"
    WATCH_RECORD_NAME = "watch.json"

    @classmethod
    def watch_prefix(cls, watch_id: str) -> str:
        """watch/<account>/<YYYY-MM-DDTHHMMSSZ>-watch/"""
        return f"{cls.WATCH_PREFIX}{watch_id}/"

    def file_watch(self, record: WatchRecord, folder: Path, lock: ObjectLock) -> WatchRecord:
        """File a watch's files from *folder*, then watch.json, each with *lock* in the PUT and never over an
        existing key; return the filed record. Filing it again (a retry) returns the record already filed."""
        prefix = self.watch_prefix(record.watch_id)
        try:
            already = WatchRecord.model_validate_json(self.read(prefix + self.WATCH_RECORD_NAME))
        except ObjectMissing:
            already = None
        if already is not None:
            if {(f.name, f.sha256) for f in already.files} != {(f.name, f.sha256) for f in record.files}:
                raise ArchiveError(f"watch {record.watch_id} is already filed with other content")
            return already
        common = {"watch-id": record.watch_id, "account": record.account.id,
                  "platform": record.account.platform.value,
                  "captured-at": record.started_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
                  "retention-class": record.retention_class, "created-by": f"somearkiv/{__version__}",
                  "origin": "upprattad", "status": record.status.value}
        filed = self._file_files(record.files, folder, prefix, common, lock, self._put)
        final = record.model_copy(update={"files": tuple(filed), "lock": lock, "bucket": self.bucket,
                                          "filed_at": dt.datetime.now(dt.UTC),
                                          "record_key": prefix + self.WATCH_RECORD_NAME})
        self._put(prefix + self.WATCH_RECORD_NAME, final.model_dump_json(indent=2).encode(), "application/json",
                  {**common, "role": "watch-record"}, lock)
        return final

    def list_watches(self, account_id: str) -> list[str]:
        """The ids of the account's filed watches (those whose watch.json exists), oldest first."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.WATCH_PREFIX}{account_id}/")
        return sorted(item["Key"].removeprefix(self.WATCH_PREFIX).removesuffix("/" + self.WATCH_RECORD_NAME)
                      for page in pages for item in page.get("Contents", [])
                      if item["Key"].endswith("/" + self.WATCH_RECORD_NAME))

    def all_watch_ids(self) -> list[str]:
        """The ids of every filed watch, of every account (for disposal of the short-lived buffer)."""
        return [key.removeprefix(self.WATCH_PREFIX).removesuffix("/" + self.WATCH_RECORD_NAME)
                for key in self._keys_under(self.WATCH_PREFIX, "/" + self.WATCH_RECORD_NAME)]

    def read_watch(self, watch_id: str) -> WatchRecord:
        return WatchRecord.model_validate_json(self.read(self.watch_prefix(watch_id) + self.WATCH_RECORD_NAME))

    def latest_watch(self, account_id: str, before: str | None = None) -> WatchRecord | None:
        """The account's newest filed watch (older than the watch id *before*, when given)."""
        ids = [w for w in self.list_watches(account_id) if before is None or w < before]
        return self.read_watch(ids[-1]) if ids else None

    # -- evidence before removal (moderering): restricted, read only by the archivist and auditor identities --
    # (storage.gateway refuses the pipeline any read under these prefixes; it may file new, locked objects there)

    EVIDENCE_PREFIX = "evidence/"  # evidence/<account>/<YYYY-MM-DDTHHMMSSZ>-evidence/: a capture kept as evidence
    CASES_PREFIX = "cases/"  # cases/<account>/<YYYY-MM-DDTHHMMSSZ>/<NNNN>-<status>.json: each version of a case

    @classmethod
    def evidence_prefix(cls, capture_id: str) -> str:
        return f"{cls.EVIDENCE_PREFIX}{capture_id}/"

    def _put_once(self, key: str, body: bytes, media_type: str, metadata: dict[str, str], lock: ObjectLock) -> str:
        """PUT a new object; a key already taken is an error (no read-back: the pipeline may not read here)."""
        version = self.put_new(key, body, media_type, metadata, lock)
        if version is None:
            raise ArchiveError(f"{key} already exists; it is never overwritten")
        return version

    def file_evidence(self, record: CaptureRecord, folder: Path, lock: ObjectLock, case_id: str) -> CaptureRecord:
        """File an evidence capture's files from *folder*, then its record.json, under ``evidence_prefix``, each
        with *lock* in the PUT and never over an existing key; then an ``evidence`` ledger entry. Returns the
        filed record. Outside the captures' custody: never listed by ``list_captures``, searched or disposed
        of with the captures."""
        prefix = self.evidence_prefix(record.capture_id)
        common = {"capture-id": record.capture_id, "case-id": case_id, "account": record.account.id,
                  "captured-at": record.started_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
                  "trigger": record.trigger.value, "retention-class": record.retention_class,
                  "created-by": f"somearkiv/{__version__}", "origin": "upprattad", "status": record.status.value}
        filed = self._file_files(record.files, folder, prefix, common, lock, self._put_once)
        final = record.model_copy(update={"files": tuple(filed), "lock": lock, "bucket": self.bucket,
                                          "filed_at": dt.datetime.now(dt.UTC), "record_key": prefix + RECORD_NAME})
        body = final.model_dump_json(indent=2).encode()
        version = self._put_once(prefix + RECORD_NAME, body, "application/json", {**common, "role": "record"}, lock)
        objects = [LedgerObject(key=f.key, version_id=f.version_id, size=f.size, sha256=f.sha256) for f in filed]
        objects.append(LedgerObject(key=prefix + RECORD_NAME, version_id=version, size=len(body),
                                    sha256=hashlib.sha256(body).hexdigest()))
        self.ledger.append("evidence", capture_id=record.capture_id, account_id=record.account.id,
                           status=record.status, objects=objects, retention_class=record.retention_class, lock=lock,
                           detail=f"evidence for moderation case {case_id} ({record.status.value})")
        return final

    def read_evidence(self, capture_id: str) -> CaptureRecord:
        return self.read_record(self.evidence_prefix(capture_id) + RECORD_NAME)

    def file_case(self, case: ModerationCase, lock: ObjectLock) -> ModerationCase:
        """File one version of a moderation case as a new locked object (never over an earlier one: two
        changes of one case at once cannot both win), then a ``moderation`` ledger entry; return it as filed."""
        key = f"{self.CASES_PREFIX}{case.case_id}/{case.version:04d}-{case.status}.json"
        final = case.model_copy(update={"lock": lock, "filed_at": dt.datetime.now(dt.UTC), "record_key": key})
        body = final.model_dump_json(indent=2).encode()
        meta = {"case-id": case.case_id, "account": case.account_id, "status": case.status,
                "version": str(case.version), "retention-class": case.retention_class, "origin": "upprattad",
                "role": "moderation-case"}
        version = self.put_new(key, body, "application/json", meta, lock)
        if version is None:
            raise ArchiveError(f"moderation case {case.case_id} version {case.version} is already filed "
                               "(changed at the same time elsewhere): show the case and try again")
        self.ledger.append("moderation", capture_id=case.evidence_capture_id, account_id=case.account_id,
                           objects=[LedgerObject(key=key, version_id=version, size=len(body),
                                                 sha256=hashlib.sha256(body).hexdigest())],
                           retention_class=case.retention_class, lock=lock,
                           detail=f"moderation case {case.case_id} version {case.version}: {case.status}")
        return final

    def _case_keys(self, case_id: str | None = None) -> list[str]:
        return self._keys_under(self.CASES_PREFIX + (f"{case_id}/" if case_id else ""), ".json")

    def case_ids(self) -> list[str]:
        """Every moderation case's id, oldest first."""
        return sorted({key.removeprefix(self.CASES_PREFIX).rsplit("/", 1)[0] for key in self._case_keys()})

    def case_history(self, case_id: str) -> list[ModerationCase]:
        """Every filed version of a case, oldest first (empty: no such case)."""
        return [ModerationCase.model_validate_json(self.read(key)) for key in self._case_keys(case_id)]

    def read_case(self, case_id: str) -> ModerationCase | None:
        """The case as it is now: its newest version (None: no such case)."""
        keys = self._case_keys(case_id)
        return ModerationCase.model_validate_json(self.read(keys[-1])) if keys else None



def _b64_to_hex(value: str | None) -> str | None:
    if not value or "-" in value:  # multipart checksums are checksums of checksums
        return None
    return base64.b64decode(value).hex()
