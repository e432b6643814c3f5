"""The archive in S3: the only place that knows the bucket, the key layout, checksums and locks.

Every object is filed once: with its SHA-256 checked by the server on upload, with its
retention (and legal hold) set in the PUT itself, and with ``If-None-Match: *`` so nothing
archived is ever overwritten. ``record.json`` is filed last, so a capture whose record exists
is complete.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from somearkiv import __version__
from somearkiv.models import AuditEvent, CaptureRecord, CaptureStatus, FixityResult, ObjectLock
from somearkiv.settings import Settings
from storage.embedded import EmbeddedS3

__all__ = [
    "Archive",
    "ArchiveError",
    "FixityError",
    "ObjectInfo",
    "AUDIT_PREFIX",
    "CAPTURES_PREFIX",
    "PROTOCOL_PREFIX",
    "RECORD_NAME",
    "capture_prefix",
]

CAPTURES_PREFIX = "captures/"
BLOCKED_PREFIX = "blocked/"  # evidence of walls: kept, but never taken for an ögonblicksbild
AUDIT_PREFIX = "audit/"  # the append-only audit trail, one locked object per event
PROTOCOL_PREFIX = "gallringsprotokoll/"  # disposal records: kept permanently
REVIEW_PREFIX = "review/"  # temporary copies for a person to look at before filing; not records
RECORD_NAME = "record.json"


class ArchiveError(RuntimeError):
    pass


class FixityError(ArchiveError):
    """Bytes read back do not match the SHA-256 they were filed with."""


def capture_prefix(capture_id: str, status: CaptureStatus = CaptureStatus.captured) -> str:
    """captures/<account>/<YYYY-MM-DDTHHMMSSZ>-<trigger>/ (blocked/... for a wall's evidence)"""
    return f"{BLOCKED_PREFIX if status is CaptureStatus.blocked else CAPTURES_PREFIX}{capture_id}/"


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


_CONNECTED: dict[tuple, Archive] = {}
_CONNECTED_LOCK = threading.Lock()


class Archive:
    def __init__(self, client: BaseClient, bucket: str):
        self.client = client
        self.bucket = bucket

    @classmethod
    def connected(cls, settings: Settings) -> Archive:
        """The configured archive for a task: one client per process and set-up, shared (boto3
        clients are thread-safe), the embedded server not started (the flow's prepare step did)."""
        setup = (settings.use_embedded_s3, settings.s3_endpoint_url, settings.s3_region, settings.s3_bucket,
                 str(settings.data_dir), settings.s3_embedded_port)
        with _CONNECTED_LOCK:
            if setup not in _CONNECTED:
                _CONNECTED[setup] = cls.from_settings(settings, start_embedded=False)
            return _CONNECTED[setup]

    @classmethod
    def from_settings(cls, settings: Settings, start_embedded: bool = True) -> Archive:
        """Connect as configured; with the embedded default, start SeaweedFS if it is not running."""
        config = Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 5},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=10,
            read_timeout=60,
        )
        if settings.use_embedded_s3:
            server = EmbeddedS3(settings.data_dir / "seaweedfs", settings.s3_embedded_port)
            if start_embedded:
                server.start()
            key, secret = server.credentials()
            client = boto3.client("s3", endpoint_url=server.endpoint_url, aws_access_key_id=key,
                                  aws_secret_access_key=secret, region_name="us-east-1", config=config)
        else:  # credentials from the standard AWS chain
            client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
                                  config=config)
        return cls(client, settings.s3_bucket)

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
            self.client.create_bucket(**kwargs)
        try:
            conf = self.client.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except ClientError as exc:
            raise ArchiveError(f"bucket {self.bucket!r} has no Object Lock; archived objects could be deleted. "
                               "Create a bucket with Object Lock enabled.") from exc
        if conf.get("ObjectLockEnabled") != "Enabled":
            raise ArchiveError(f"bucket {self.bucket!r} has Object Lock disabled")

    # -- filing ---------------------------------------------------------------------------------

    def _put(self, key: str, body: bytes, sha256: str, media_type: str, metadata: dict[str, str],
             lock: ObjectLock) -> str | None:
        """PUT one object, never over an existing one; return its version id.

        A retried upload that finds its own bytes already there (same SHA-256) is accepted.
        """
        try:
            response = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=media_type,
                ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
                Metadata={**metadata, "sha256": sha256, "media-type": _meta(media_type)},
                ObjectLockMode=lock.mode.value, ObjectLockRetainUntilDate=lock.retain_until,
                ObjectLockLegalHoldStatus="ON" if lock.legal_hold else "OFF",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("PreconditionFailed", "412"):
                raise
            existing = self.head(key)
            if existing.sha256 != sha256:
                raise ArchiveError(f"{key} already exists with other content; it is never overwritten") from exc
            return existing.version_id
        return response.get("VersionId")

    def file_capture(self, record: CaptureRecord, folder: Path, lock: ObjectLock) -> CaptureRecord:
        """File every file of *record* from *folder*, then record.json; return the filed record.

        Filing the same capture again (a retried task) returns the record already filed.
        """
        prefix = capture_prefix(record.capture_id, record.status)
        already = self._filed_record(prefix + RECORD_NAME)
        if already is not None:
            if {(f.name, f.sha256) for f in already.files} != {(f.name, f.sha256) for f in record.files}:
                raise ArchiveError(f"{record.capture_id} is already filed with other content; it is never overwritten")
            return already
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
        filed = []
        for f in record.files:
            body = (folder / f.name).read_bytes()
            if hashlib.sha256(body).hexdigest() != f.sha256:
                raise FixityError(f"{folder / f.name} changed since it was captured")
            version = self._put(prefix + f.name, body, f.sha256, f.media_type, {**common, "role": f.role.value}, lock)
            filed.append(f.model_copy(update={"key": prefix + f.name, "version_id": version}))
        final = record.model_copy(update={
            "files": tuple(filed), "lock": lock, "bucket": self.bucket, "filed_at": dt.datetime.now(dt.UTC),
            "record_key": prefix + RECORD_NAME,
        })
        body = final.model_dump_json(indent=2).encode()
        self._put(prefix + RECORD_NAME, body, hashlib.sha256(body).hexdigest(), "application/json",
                  {**common, "role": "record"}, lock)
        return final

    # -- reading --------------------------------------------------------------------------------

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo:
        kwargs = {"Bucket": self.bucket, "Key": key, "ChecksumMode": "ENABLED"}
        if version_id:
            kwargs["VersionId"] = version_id
        h = self.client.head_object(**kwargs)
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
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    def read_record(self, key: str) -> CaptureRecord:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return CaptureRecord.model_validate_json(body)

    def iter_record_keys(self, account_id: str | None = None) -> Iterator[str]:
        prefix = CAPTURES_PREFIX + (f"{account_id}/" if account_id else "")
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/" + RECORD_NAME):
                    yield obj["Key"]

    def list_captures(self, account_id: str | None = None) -> list[CaptureRecord]:
        """Every filed capture (those whose record.json exists), oldest first."""
        records = [self.read_record(key) for key in self.iter_record_keys(account_id)]
        return sorted(records, key=lambda r: (r.started_at, r.capture_id))

    # -- the audit trail, documents ---------------------------------------------------------------

    def file_audit(self, event: AuditEvent, lock: ObjectLock) -> str:
        """File one audit event as its own locked object; return its key."""
        when = event.event_datetime.astimezone(dt.UTC)
        key = (f"{AUDIT_PREFIX}{when:%Y/%m/%d}/{when:%Y-%m-%dT%H%M%S.%fZ}-{event.event_type}-"
               f"{event.event_id[:8]}.json")
        body = event.model_dump_json().encode()
        self._put(key, body, hashlib.sha256(body).hexdigest(), "application/json",
                  {"event-type": event.event_type, "account": event.account_id or "", "origin": "upprattad"}, lock)
        return key

    def read_audit(self, prefix: str = AUDIT_PREFIX) -> list[AuditEvent]:
        events = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                body = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                events.append(AuditEvent.model_validate_json(body))
        return sorted(events, key=lambda e: e.event_datetime)

    def file_document(self, key: str, body: bytes, media_type: str, lock: ObjectLock,
                      metadata: dict[str, str] | None = None) -> str | None:
        """File a document of the archive's own (a disposal protocol) once, locked; return its version."""
        return self._put(key, body, hashlib.sha256(body).hexdigest(), media_type,
                         {"origin": "upprattad", **(metadata or {})}, lock)

    # -- objects of a capture: holds, fixity, disposal -------------------------------------------

    def capture_objects(self, record: CaptureRecord) -> list[tuple[str, str | None]]:
        """(key, version id) of every object version under the capture's prefix: its files, its
        record.json, its manifest and timestamp token (and anything put over them since)."""
        prefix = capture_prefix(record.capture_id, record.status)
        objects = []
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=prefix):
            objects += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        return objects

    def capture_keys(self, capture_id: str, status: CaptureStatus = CaptureStatus.captured) -> list[str]:
        """The keys now in a capture's folder: its files, record.json, manifest and timestamp token."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=capture_prefix(capture_id, status))
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def file_beside(self, record: CaptureRecord, name: str, body: bytes, media_type: str, lock: ObjectLock) -> str:
        """File a document that belongs to a capture (its manifest, its timestamp) in its folder, once."""
        key = capture_prefix(record.capture_id, record.status) + name
        self._put(key, body, hashlib.sha256(body).hexdigest(), media_type,
                  {"capture-id": record.capture_id, "account": record.account.id, "origin": "upprattad"}, lock)
        return key

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if _missing(exc):
                return False
            raise

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def mark_delivered(self, record: CaptureRecord, package_id: str, when: dt.datetime) -> None:
        """Tag every object of a capture as delivered to the e-archive (tags, not the locked bytes)."""
        tags = {"TagSet": [{"Key": "delivered", "Value": when.strftime("%Y-%m-%dT%H%M%SZ")},
                           {"Key": "package", "Value": package_id.replace(":", "_")[:250]}]}
        for key, version in self.capture_objects(record):
            self.client.put_object_tagging(Bucket=self.bucket, Key=key, VersionId=version, Tagging=tags)

    def tags(self, key: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.client.get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"]}

    def set_legal_hold(self, key: str, version_id: str | None, on: bool) -> None:
        kwargs = {"Bucket": self.bucket, "Key": key, "LegalHold": {"Status": "ON" if on else "OFF"}}
        if version_id:
            kwargs["VersionId"] = version_id
        self.client.put_object_legal_hold(**kwargs)

    def check_fixity(self, key: str, version_id: str | None, sha256: str) -> FixityResult:
        """Re-read one filed version and compare with *sha256*; also notice a newer version over it."""
        kwargs = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        result = {"key": key, "version_id": version_id, "expected_sha256": sha256}
        try:
            body = self.client.get_object(**kwargs)["Body"]
            digest = hashlib.sha256()
            for chunk in body.iter_chunks(1 << 20):
                digest.update(chunk)
        except ClientError as exc:
            if _missing(exc):
                return FixityResult(**result, status="missing", detail="the filed version is gone")
            raise
        if digest.hexdigest() != sha256:
            return FixityResult(**result, status="mismatch", actual_sha256=digest.hexdigest())
        if version_id:
            try:
                current = self.client.head_object(Bucket=self.bucket, Key=key).get("VersionId")
            except ClientError as exc:
                if not _missing(exc):
                    raise
                current = None  # hidden behind a delete marker
            if current != version_id:
                return FixityResult(**result, status="replaced", actual_sha256=digest.hexdigest(),
                                    detail=f"the current version is {current or 'a delete marker'}, "
                                           "not the filed one (which is intact)")
        return FixityResult(**result, status="ok", actual_sha256=digest.hexdigest())

    def delete_version(self, key: str, version_id: str, bypass_governance: bool = False) -> None:
        """Delete exactly one version (the disposal flow's only way to remove anything)."""
        self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id,
                                  BypassGovernanceRetention=bypass_governance)

    def version_exists(self, key: str, version_id: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            return True
        except ClientError as exc:
            if _missing(exc) or exc.response["Error"]["Code"] in ("400", "405", "MethodNotAllowed"):
                return False
            raise

    def stage_review_copy(self, capture_id: str, path: Path, expires_s: int) -> str:
        """An unlocked copy under review/ of a file not filed yet, and a link to it."""
        key = f"{REVIEW_PREFIX}{capture_id}/{path.name}"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=path.read_bytes(), ContentType="image/png")
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
        info = self.head(key, version_id)
        if not info.sha256:
            raise FixityError(f"{key} carries no SHA-256 to check against")
        kwargs = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        body = self.client.get_object(**kwargs)["Body"]
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


def _missing(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in ("NoSuchKey", "NoSuchVersion", "404", "NotFound")


def _b64_to_hex(value: str | None) -> str | None:
    if not value or "-" in value:  # multipart checksums are checksums of checksums
        return None
    return base64.b64decode(value).hex()
