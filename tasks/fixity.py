"""Fixity: re-read archived objects and compare them with the SHA-256 their record was filed with."""

from __future__ import annotations

import datetime as dt
import zlib

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from somearkiv.models import CaptureRecord, FixityResult
from somearkiv.settings import get_settings
from storage import Archive
from tasks.audit import record_event
from tasks.events import emit
from tasks.timestamp import MANIFEST_NAME, TOKEN_NAME

__all__ = ["check_capture_fixity", "choose_sample", "list_filed", "report_fixity"]


def choose_sample(records: list[CaptureRecord], share: float, today: dt.date) -> list[CaptureRecord]:
    """Every record (share 1), or a rotating share: over 1/share consecutive days every record is checked."""
    if share >= 1:
        return records
    buckets = max(1, round(1 / share))
    turn = today.toordinal() % buckets
    return [r for r in records if zlib.crc32(r.capture_id.encode()) % buckets == turn]


@task(name="list-filed-captures", cache_policy=NO_CACHE)
def list_filed(account_id: str | None = None) -> list[CaptureRecord]:
    return Archive.connected(get_settings()).list_captures(account_id)


@task(name="check-capture-fixity", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def check_capture_fixity(record: CaptureRecord) -> list[FixityResult]:
    """Every file of one capture, by the version id it was filed as, and its record.json."""
    archive = Archive.connected(get_settings())
    results = [archive.check_fixity(f.key, f.version_id, f.sha256) for f in record.files if f.key]
    folder = record.record_key.rsplit("/", 1)[0]
    for key in (record.record_key, f"{folder}/{MANIFEST_NAME}", f"{folder}/{TOKEN_NAME}"):
        if key == record.record_key or archive.exists(key):  # manifest and token: where they were filed
            info = archive.head(key)
            results.append(archive.check_fixity(key, info.version_id, info.sha256 or ""))
    return results


@task(name="report-fixity", cache_policy=NO_CACHE)
def report_fixity(checked: dict[str, list[FixityResult]]) -> list[FixityResult]:
    """A table artifact, one PREMIS fixity-check event per capture, an alarm event for problems."""
    archive = Archive.connected(get_settings())
    rows, problems = [], []
    for capture_id, results in checked.items():
        bad = [r for r in results if r.status != "ok"]
        problems += bad
        account = capture_id.split("/")[0]
        record_event(archive, "fixity-check", "failure" if bad else "success",
                     f"{capture_id}: {len(results) - len(bad)} of {len(results)} objects intact"
                     + "".join(f"; {r.key}: {r.status}" for r in bad),
                     account_id=account, objects=[f"{r.key}?versionId={r.version_id}" for r in results],
                     data={"capture_id": capture_id, "algorithm": "SHA-256",
                           "results": [r.model_dump(mode="json") for r in bad]})
        rows += [{"capture": capture_id, "object": r.key, "status": r.status, "detail": r.detail or ""}
                 for r in (bad or results[:1])]
    create_table_artifact(rows, key="fixity-check",
                          description=f"Fixity: {len(checked)} captures, {len(problems)} problems")
    if problems:
        emit("fixity.failed", None, problems=[p.model_dump(mode="json") for p in problems])
    return problems
