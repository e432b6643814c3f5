"""Fixity: re-read what the custody ledger says was filed, version by version, and report."""

from __future__ import annotations

import datetime as dt
import zlib

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from somearkiv.models import FixityResult
from somearkiv.settings import get_settings
from storage import Archive
from storage.custody import account_of_group, check_custody
from tasks.audit import record_event
from tasks.events import emit

__all__ = ["check_fixity", "in_sample", "report_fixity"]


def in_sample(capture_id: str, share: float, today: dt.date) -> bool:
    """Every capture (share 1), or a rotating share: over 1/share consecutive days every one is checked."""
    if share >= 1:
        return True
    buckets = max(1, round(1 / share))
    return zlib.crc32(capture_id.encode()) % buckets == today.toordinal() % buckets


@task(name="check-fixity", cache_policy=NO_CACHE)
def check_fixity(account_id: str | None = None, sample_share: float = 1.0) -> dict[str, list[FixityResult]]:
    """Findings per capture (and for the ledger itself): see storage.custody."""
    archive = Archive.connected(get_settings(), role="auditor")
    today = dt.date.today()
    return check_custody(archive, account_id=account_id,
                         selected=lambda capture_id: in_sample(capture_id, sample_share, today))


@task(name="report-fixity", cache_policy=NO_CACHE)
def report_fixity(checked: dict[str, list[FixityResult]]) -> list[FixityResult]:
    """A table artifact, one PREMIS fixity-check event per capture, an alarm event for problems."""
    archive = Archive.connected(get_settings())
    rows, problems = [], []
    for group, results in checked.items():
        bad = [r for r in results if r.status != "ok"]
        problems += bad
        account = account_of_group(group)
        record_event(archive, "fixity-check", "failure" if bad else "success",
                     f"{group}: {len(results) - len(bad)} of {len(results)} checks intact"
                     + "".join(f"; {r.key}: {r.status}" for r in bad[:20]),
                     account_id=account, objects=[f"{r.key}?versionId={r.version_id}" for r in results],
                     data={"capture_id": group, "algorithm": "SHA-256",
                           "results": [r.model_dump(mode="json") for r in bad]})
        rows += [{"capture": group, "object": r.key, "status": r.status, "detail": r.detail or ""}
                 for r in (bad or results[:1])]
    create_table_artifact(rows, key="fixity-check",
                          description=f"Fixity: {len(checked)} groups checked, {len(problems)} problems")
    if problems:
        emit("fixity.failed", None, problems=[p.model_dump(mode="json") for p in problems[:100]],
             count=len(problems))
    return problems
