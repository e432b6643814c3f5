"""What changed since the account's previous snapshot: said by every snapshot run, per account (as each
capture is filed: tasks.review.review_capture).

The same comparison as the weekly watch against a snapshot (tasks.watch.compare with
``images=False``): both captures' profile elements (name, handle, bio, link, pinned post), as
each capture read them on the live page (elements.json), and numbers compared, with the same
noise rules and thresholds. Captures from before elements.json was kept have their DOMs
rendered offline instead (no script, no request), both of them, so like is compared with like.
A failure to compare never fails the run: the account is then reported as "not compared" with
the reason.
"""

from __future__ import annotations

from somearkiv.log import get_logger
from somearkiv.models import CaptureRecord, ChangeReport, FileRole
from somearkiv.settings import Settings
from storage import Archive
from tasks.watch.compare import compare, text_diff
from tasks.watch.config import WatchConfig
from tasks.watch.run import snapshot_side

__all__ = ["change_since", "describe_change"]


def change_since(archive: Archive, record: CaptureRecord, previous: CaptureRecord | None, config: WatchConfig,
                 settings: Settings) -> str:
    """What changed from the account's *previous* capture (None: there is none) to *record*, in one line."""
    if previous is None:
        return "första ögonblicksbilden / first snapshot"
    try:  # both as read on the live page, or (a snapshot from before that was kept) both rendered
        rendered = not all(any(f.role is FileRole.elements for f in r.files) for r in (previous, record))
        before = snapshot_side(archive, previous, settings, screenshot=False, rendered=rendered)
        after = snapshot_side(archive, record, settings, screenshot=False, rendered=rendered)
        report = compare(before, after, config, watch_id=record.capture_id, images=False)
    except Exception as exc:  # a comparison is information, never a reason to fail the run
        get_logger(account=record.account.id).warning("change.not_compared", error=type(exc).__name__)
        return f"inte jämförd / not compared ({type(exc).__name__})"
    return describe_change(report, previous)


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
