"""What changed since the account's previous snapshot: said by every snapshot run, per account.

The same comparison as the weekly watch against a snapshot (tasks.watch.compare with
``images=False``): both captures' profile elements (name, handle, bio, link, pinned post), as
each capture read them on the live page (elements.json), and numbers compared, with the same
noise rules and thresholds. Captures from before elements.json was kept have their DOMs
rendered offline instead (no script, no request), both of them, so like is compared with like.
A failure to compare never fails the run: the account is then reported as "not compared" with
the reason.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv.log import get_logger
from somearkiv.models import CaptureRecord, CaptureStatus, ChangeReport, FileRole
from somearkiv.settings import Settings, get_settings
from storage import Archive
from storage.ledger import Custody
from tasks.watch.compare import compare, text_diff
from tasks.watch.config import WatchConfig, read_watch_config
from tasks.watch.run import snapshot_side

__all__ = ["changes_since_previous", "describe_change"]

# The account's newest captures read to find the one before this (this one, perhaps one filed
# meanwhile by another run, and the previous): never the account's whole history.
_RECENT = 3

_READERS = 8  # accounts compared at once: each is a few small reads from S3


@task(name="changes-since-previous", cache_policy=NO_CACHE)
def changes_since_previous(records: list[CaptureRecord]) -> dict[str, str]:
    """Task: per account of this run, what changed since its previous snapshot, in one line."""
    settings = get_settings()
    archive = Archive.connected(settings, role="auditor")
    config = read_watch_config()
    state = archive.custody()
    captured = [r for r in records if r.status is CaptureStatus.captured]
    runs = [contextvars.copy_context() for _ in captured]  # this run's context: log lines go to its page
    with ThreadPoolExecutor(_READERS) as pool:
        said = pool.map(lambda run, record: run.run(_change_of, archive, state, record, config, settings),
                        runs, captured)
        return {record.account.id: line for record, line in zip(captured, said)}


def _change_of(archive: Archive, state: Custody, record: CaptureRecord, config: WatchConfig,
               settings: Settings) -> str:
    earlier = [r for r in archive.list_captures(record.account.id, state=state, last=_RECENT)
               if r.started_at < record.started_at and r.capture_id != record.capture_id]
    if not earlier:
        return "första ögonblicksbilden / first snapshot"
    try:  # both as read on the live page, or (a snapshot from before that was kept) both rendered
        rendered = not all(any(f.role is FileRole.elements for f in r.files) for r in (earlier[-1], record))
        before = snapshot_side(archive, earlier[-1], settings, screenshot=False, rendered=rendered)
        after = snapshot_side(archive, record, settings, screenshot=False, rendered=rendered)
        report = compare(before, after, config, watch_id=record.capture_id, images=False)
    except Exception as exc:  # a comparison is information, never a reason to fail the run
        get_logger(account=record.account.id).warning("change.not_compared", error=type(exc).__name__)
        return f"inte jämförd / not compared ({type(exc).__name__})"
    return describe_change(report, earlier[-1])


def describe_change(report: ChangeReport, previous: CaptureRecord) -> str:
    """'mindre ändring sedan 2026-07-01: bio "…" → "…"; followers +120' (the Swedish class first)."""
    since = f"{report.classification} sedan {previous.started_at:%Y-%m-%d}"
    parts = []
    for change in report.changes:
        if change.kind == "text":
            diff = text_diff(change.before, change.after)
            parts.append(f"{change.element}: {diff if len(diff) <= 160 else diff[:159] + '…'}")
        elif change.kind == "metric":
            parts.append(f"{change.element}: {change.before} → {change.after}")
        else:
            parts.append(change.element)
    return since + (": " + "; ".join(parts) if parts else "")
