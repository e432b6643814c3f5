"""What the archivist reads in the Prefect UI after a snapshot run, without a terminal.

A table of the run, a markdown page per account with the record's essentials and time-limited
links to the PDF/A and the screenshots, and the screenshot itself as an image artifact when
the storage gives a URL a browser can open. Artifact keys follow Prefect's rule [a-z0-9-].
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from prefect import task
from prefect.artifacts import create_image_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from somearkiv.log import get_logger
from somearkiv.models import CaptureRecord, CaptureStatus, SnapshotSummary
from somearkiv.settings import get_settings
from storage import Archive
from tasks.events import emit
from tasks.inactivity import INACTIVE_LABEL, follower_change, is_inactive

__all__ = ["artifact_key", "capture_markdown", "metrics_csv", "metrics_rows", "report_snapshot"]

_STOCKHOLM = ZoneInfo("Europe/Stockholm")
_STATUS_SV = {"captured": "tagen", "blocked": "blockerad", "failed": "misslyckades"}


def artifact_key(*parts: str) -> str:
    """A key Prefect accepts: lowercase letters, digits and dashes."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", "-".join(parts).lower())).strip("-")


def _when(moment: dt.datetime) -> str:
    return (f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC "
            f"({moment.astimezone(_STOCKHOLM):%Y-%m-%d %H:%M} Europe/Stockholm)")


def capture_markdown(record: CaptureRecord, links: dict[str, str], link_hours: int) -> str:
    """The capture record's essentials, in Swedish and English, with links to the files."""
    a = record.account
    rows = [
        ("Konto / Account", f"{a.name} – {a.platform.value} `{a.handle}` (`{a.id}`)"),
        ("Förvaltning / Department", a.department),
        ("Status", f"**{record.status.value}** ({_STATUS_SV[record.status.value]})"),
        ("Tagen / Captured", _when(record.started_at)),
        ("Utlösare / Trigger", record.trigger.value + (f" – {record.reason}" if record.reason else "")
         + (f" (begärd av / requested by {record.requested_by})" if record.requested_by else "")),
        ("Sida / Page", f"{record.page.final_url} (HTTP {record.page.http_status}) – {record.page.title}"),
    ]
    if record.wall:
        rows.append(("Hinder / Wall", f"**{record.wall.kind}**: {record.wall.reason}"))
    if record.pdfa:
        rows.append(("PDF/A", f"{record.pdfa.conformance}, {'giltig / valid' if record.pdfa.valid else 'OGILTIG'}"
                              f" ({record.pdfa.validator})"))
    if record.consent and record.consent.found:
        rows.append(("Samtyckesruta / Consent popup",
                     f"{record.consent.platform or record.consent.method}: {record.consent.action or '—'}"
                     f" ({'stängd / dismissed' if record.consent.dismissed else 'INTE stängd / not dismissed'})"))
    if record.blocked_requests:
        rows.append(("Stoppade anrop / Refused requests", str(len(record.blocked_requests))))
    if record.lock:
        rows.append(("Gallringsklass / Retention", f"{record.retention_class}: {record.lock.mode.value} till / until "
                     f"{record.lock.retain_until:%Y-%m-%d}" + (", legal hold" if record.lock.legal_hold else "")))
    rows.append(("Webbläsare / Browser", f"Chromium {record.browser.version}, {record.browser.viewport_width}×"
                                         f"{record.browser.viewport_height}, {record.browser.locale}"))
    rows.append(("Post / Record", f"`{record.record_key}`"))
    lines = [f"# Ögonblicksbild / Snapshot: {a.name} ({a.platform.value})", "", "| Fält / Field | Värde / Value |",
             "|---|---|"]
    lines += [f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows]
    lines += ["", f"## Filer / Files (länkarna gäller {link_hours} h / links valid {link_hours} h)", ""]
    for f in record.files:
        name = f"[{f.name}]({links[f.name]})" if f.name in links else f.name
        lines.append(f"- {name} – {f.role.value}, {f.size:,} B, sha256 `{f.sha256[:16]}…`".replace(",", " "))
    if record.notes:
        lines += ["", "## Noteringar / Notes", ""] + [f"- {n}" for n in record.notes]
    return "\n".join(lines)


def _number(value) -> str:
    return "—" if value is None or value.value is None else f"{value.value} ({value.source})"


@task(name="report-snapshot", cache_policy=NO_CACHE)
def report_snapshot(summary: SnapshotSummary, records: list[CaptureRecord]) -> None:
    """Task: the run's artifacts, the metrics report (CSV in the bucket), inactivity flags, failure events."""
    settings = get_settings()
    archive = Archive.connected(settings)
    by_account = {r.account.id: r for r in records}
    state = archive.custody()  # the ledger read once for every account's history
    rows, inactive = [], []
    for o in summary.outcomes:
        record = by_account.get(o.account_id)
        history = archive.list_captures(o.account_id, state=state) if record else []
        flagged = bool(record) and is_inactive(history, settings.inactive_after)
        if flagged:
            inactive.append(o.account_id)
            emit("account.inactive", o.account_id, capture_id=record.capture_id,
                 rule=f"no written posts at {settings.inactive_after} captures in a row")
        m = record.metrics if record else None
        change = follower_change(history) if record else None
        rows.append({
            "konto / account": o.account_id, "plattform / platform": o.platform.value,
            "status": o.status.value + (f" – {INACTIVE_LABEL}" if flagged else ""),
            "följare / followers": _number(m.followers if m else None),
            "förändring / change": "—" if change is None else f"{change:+d}",
            "inlägg senaste månaden / posts last month": _number(m.posts_last_month if m else None),
            "PDF/A": o.pdfa or "—",
            "nyckel / key": record.record_key if record else f"{o.failed_stage}: {o.error}",
        })
        if o.status is CaptureStatus.failed:
            emit("capture.failed", o.account_id, stage=o.failed_stage, error=o.error, flow_run_id=summary.flow_run_id)
    description = (f"Ögonblicksbilder / snapshots – {summary.trigger.value}"
                   + (f": {summary.reason}" if summary.reason else "")
                   + (f". {INACTIVE_LABEL.capitalize()}: {', '.join(inactive)}" if inactive else ""))
    create_table_artifact(rows, key="snapshot-summary", description=description)
    if rows:
        _file_report(archive, summary, rows)
    hours = settings.review_link_hours
    for record in records:
        links = {f.name: archive.presigned_url(f.key, hours * 3600) for f in record.files if f.key}
        create_markdown_artifact(capture_markdown(record, links, hours), key=artifact_key("capture", record.account.id),
                                 description=f"{record.account.id}: {record.status.value}")
        shot = "startpage.png" if record.status is CaptureStatus.captured else "wall.png"
        if shot in links:
            create_image_artifact(links[shot], key=artifact_key("screenshot", record.account.id),
                                  description=f"{record.account.id} {record.started_at:%Y-%m-%d}")
    log = get_logger()
    for account_id in inactive:
        log.warning("account.inactive", account=account_id, label=INACTIVE_LABEL,
                    hint=f"take the final capture and close it: somearkiv register close {account_id} --date ...")
    log.info("review.artifacts", accounts=len(records), failed=len(summary.failed), blocked=len(summary.blocked))


def _file_report(archive: Archive, summary: SnapshotSummary, rows: list[dict]) -> None:
    """The run's table as CSV under reports/, kept permanently like the audit trail."""
    archive.file_report("metrics", summary.trigger.value, _csv(rows), "text/csv; charset=utf-8",
                        dt.datetime.now(dt.UTC))


def _csv(rows: list[dict]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["account"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def metrics_csv(records: list[CaptureRecord]) -> bytes:
    """The metrics of *records* as CSV, as the run reports file it."""
    return _csv(metrics_rows(records))


def metrics_rows(records: list[CaptureRecord]) -> list[dict]:
    """Followers and posts in the last month, one row per capture that has metrics (P4)."""
    rows = []
    for r in records:
        if r.metrics is None:
            continue
        m = r.metrics
        rows.append({"account": r.account.id, "platform": r.account.platform.value,
                     "captured_at": r.started_at.isoformat(), "trigger": r.trigger.value,
                     "followers": m.followers.value, "followers_source": m.followers.source,
                     "posts_last_month": m.posts_last_month.value, "posts_source": m.posts_last_month.source,
                     "window": f"{m.window_start:%Y-%m-%d}..{m.window_end:%Y-%m-%d}",
                     "total_posts": m.total_posts.value if m.total_posts else None})
    return rows

