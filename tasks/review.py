"""What the archivist reads in the Prefect UI after a snapshot run, without a terminal.

A page per account with the record's essentials, its screenshot and time-limited links to its
files (Prefect's table artifacts do not render links; markdown does), made as soon as the
account is filed; then a summary of the run that answers "is everything archived?" (one row
per account, problems first, reasons in plain Swedish, links) and an overview of the whole
archive. Artifact keys follow Prefect's rule [a-z0-9-].
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from somearkiv.log import get_logger
from somearkiv.models import (
    Account,
    Captured,
    CaptureRecord,
    CaptureReview,
    CaptureStatus,
    LedgerObject,
    SnapshotSummary,
)
from somearkiv.settings import Settings, get_settings
from storage import Archive
from tasks.events import emit
from tasks.inactivity import INACTIVE_LABEL, follower_change, is_inactive
from tasks.reasons import outcome_in_swedish, wall_in_swedish
from tasks.timestamp import TOKEN_NAME
from tasks.watch.config import read_watch_config
from tasks.watch.since import change_since

__all__ = ["artifact_key", "capture_markdown", "metrics_csv", "metrics_rows", "overview_markdown", "recent_captures",
           "report_snapshot", "review_capture", "summary_markdown"]

_STOCKHOLM = ZoneInfo("Europe/Stockholm")
_STATUS_SV = {"captured": "tagen", "blocked": "blockerad", "failed": "misslyckades"}


def artifact_key(*parts: str) -> str:
    """A key Prefect accepts: lowercase letters, digits and dashes."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", "-".join(parts).lower())).strip("-")


def _when(moment: dt.datetime) -> str:
    return (f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC "
            f"({moment.astimezone(_STOCKHOLM):%Y-%m-%d %H:%M} Europe/Stockholm)")


def capture_markdown(record: CaptureRecord, links: dict[str, str], link_hours: int, change: str | None = None) -> str:
    """The capture record's essentials, in Swedish and English, with links to the files (and what changed since
    the account's previous snapshot, when that is known)."""
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
    if change:
        rows.append(("Ändrat sedan förra / Changed since the last", change))
    if record.wall:
        rows.append(("Hinder / Wall", f"**{wall_in_swedish(record.wall.kind, record.wall.reason)}** "
                                      f"({record.wall.kind}: {record.wall.reason})"))
    if record.session:
        rows.append(("Inloggad vy / Logged-in view", f"som / as {record.session.role} (sparad / saved "
                                                     f"{record.session.saved_at:%Y-%m-%d})"))
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
    shot = "startpage.png" if record.status is CaptureStatus.captured else "wall.png"
    if shot in links:  # shown when the browser reaches the S3 endpoint
        lines += ["", f"![{shot}]({links[shot]})"]
    return "\n".join(lines)


def _number(value) -> str:
    return "—" if value is None or value.value is None else f"{value.value} ({value.source})"


def _history_size(settings: Settings) -> int:
    """Captures an account's review reads: enough for inactivity (inactive_after in a row with numbers),
    and the one before this round's for the change."""
    return settings.inactive_after + 3


@task(name="recent-captures", cache_policy=NO_CACHE)
def recent_captures(account_ids: list[str]) -> dict[str, list[LedgerObject]]:
    """Task: where each account's newest filed capture records are, the ledger read once (for review_capture,
    while the round's first pages load). Not the records themselves: each review reads its account's, so a
    round holds a few small references per account, not a few records (38 kB each in memory, measured)."""
    settings = get_settings()
    archive = Archive.connected(settings, role="auditor")
    state = archive.custody()
    return {account_id: archive.capture_records(account_id, state=state, last=_history_size(settings))
            for account_id in account_ids}


@task(name="review-capture", cache_policy=NO_CACHE)
def review_capture(filed: Captured, earlier: list[LedgerObject] | None) -> CaptureReview:
    """Task: one capture, as soon as it is filed: what changed since the account's previous snapshot, its
    followers against that one, whether the account is now inactive, and its page for the archivist
    (artifact ``capture-<account>``).

    earlier: the account's newest capture records as recent_captures found them, read here (one of this
    round's, filed meanwhile, is left out); None when they could not be found. Not found or not read, nothing
    is said about change or inactivity rather than something wrong, and the page is still made.
    """
    record, _ = filed
    settings = get_settings()
    review = CaptureReview()
    reader = Archive.connected(settings, role="auditor")
    try:  # the account's page is made whatever happens to its history
        read = None if earlier is None else reader.read_records(earlier)
    except Exception as exc:  # noqa: BLE001 - S3 refused or went away: said, never a reason to fail
        get_logger(account=record.account.id).warning("review.history_unread", error=type(exc).__name__)
        read = None
    if read is not None:
        before = [r for r in read if r.capture_id != record.capture_id and r.started_at < record.started_at]
        history = before + ([record] if record.status is CaptureStatus.captured else [])
        review = CaptureReview(
            change=change_since(reader, record, before[-1] if before else None, read_watch_config(), settings)
            if record.status is CaptureStatus.captured else None,
            follower_change=follower_change(history), inactive=is_inactive(history, settings.inactive_after))
    elif record.status is CaptureStatus.captured:
        review = CaptureReview(change="inte jämförd / not compared (the account's earlier captures were not read)")
    archive, hours = Archive.connected(settings), settings.review_link_hours
    create_markdown_artifact(capture_markdown(record, _links(archive, record, hours), hours, review.change),
                             key=artifact_key("capture", record.account.id),
                             description=f"{record.account.id}: {record.status.value}")
    return review


def _links(archive: Archive, record: CaptureRecord, hours: int) -> dict[str, str]:
    return {f.name: archive.presigned_url(f.key, hours * 3600) for f in record.files if f.key}


@task(name="report-snapshot", cache_policy=NO_CACHE)
def report_snapshot(summary: SnapshotSummary, records: list[CaptureRecord],
                    register_accounts: list[Account] | None = None) -> None:
    """Task: the run's artifacts, the metrics report (CSV in the bucket), inactivity flags, failure events.

    Artifacts: the overview of the whole archive (``archive-overview``, refreshed by every run) and
    last the run's summary (``snapshot-summary``), one row per account with links: the newest card.
    Each account's own page was made when it was filed (review_capture), which also said whether it
    is inactive and how its followers changed.
    """
    settings = get_settings()
    archive = Archive.connected(settings)
    by_account = {r.account.id: r for r in records}
    state = archive.custody()  # the ledger read once: which captures are sealed, the archive's overview
    rows, inactive = [], []
    for o in summary.outcomes:
        record = by_account.get(o.account_id)
        flagged = bool(record) and o.inactive
        if flagged:
            inactive.append(o.account_id)
            emit("account.inactive", o.account_id, capture_id=record.capture_id,
                 rule=f"no written posts at {settings.inactive_after} captures in a row")
        m = record.metrics if record else None
        change = o.follower_change if record else None
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
    if rows:
        _file_report(archive, summary, rows)
    hours = settings.review_link_hours
    links_of = {r.account.id: _links(archive, r, hours) for r in records}
    if register_accounts:
        create_markdown_artifact(overview_markdown(register_accounts, state, settings), key="archive-overview",
                                 description="Arkivet i dag / the archive today")
    unsealed = {r.account.id for r in records  # filed without an RFC 3161 token: seal-pending seals them
                if r.capture_id in state and state[r.capture_id].named(TOKEN_NAME) is None}
    create_markdown_artifact(summary_markdown(summary, by_account, links_of, set(inactive), hours, unsealed,
                                              tsa_configured=bool(settings.tsa_url)),
                             key="snapshot-summary", description=_headline(summary))
    log = get_logger()
    for account_id in inactive:
        log.warning("account.inactive", account=account_id, label=INACTIVE_LABEL,
                    hint=f"take the final capture and close it: somearkiv register close {account_id} --date ...")
    log.info("review.artifacts", accounts=len(records), failed=len(summary.failed), blocked=len(summary.blocked))


_ORDER = {CaptureStatus.failed: 0, CaptureStatus.blocked: 1, CaptureStatus.captured: 2}


def _headline(summary: SnapshotSummary) -> str:
    total, done = len(summary.outcomes), len(summary.captured)
    what = f"{summary.trigger.value}" + (f": {summary.reason}" if summary.reason else "")
    if done == total:
        return f"Alla {total} konton arkiverade / all {total} accounts archived ({what})"
    return (f"{done} av {total} arkiverade – {len(summary.blocked)} blockerade, {len(summary.failed)} misslyckades / "
            f"{done} of {total} archived ({what})")


def summary_markdown(summary: SnapshotSummary, records: dict[str, CaptureRecord], links: dict[str, dict[str, str]],
                     inactive: set[str], link_hours: int, unsealed: set[str] = frozenset(),
                     tsa_configured: bool = True) -> str:
    """'Is everything archived?' at a glance: the problems first, each with its reason in plain Swedish."""
    lines = [f"# {_headline(summary)}", "",
             "| Konto / Account | Status och filer / Status and files | Varför / Why | "
             "Ändrat sedan förra / Changed since the last | Följare, inlägg / Followers, posts |",
             "|---|---|---|---|---|"]
    for o in sorted(summary.outcomes, key=lambda o: (_ORDER[o.status], o.account_id)):
        record = records.get(o.account_id)
        m = record.metrics if record else None
        # words, not emoji: a browser without an emoji font shows those as empty boxes (seen in Chromium here)
        status = {"captured": "**arkiverad**", "blocked": "**BLOCKERAD**", "failed": "**MISSLYCKADES**"}[o.status.value]
        why = "; ".join(part for part in (outcome_in_swedish(o, record),
                                          INACTIVE_LABEL if o.account_id in inactive else "",
                                          "ej tidsstämplad / UNSEALED" if o.account_id in unsealed else "") if part)
        own = links.get(o.account_id, {})
        files = " · ".join(f"[{label}]({own[name]})" for name, label in _FILE_LINKS if name in own)
        lines.append(f"| `{o.account_id}` ({o.platform.value}) | {status}{' · ' + files if files else ''} | "
                     f"{_cell(why) or '—'} | {_cell(o.change or '') or '—'} | "
                     f"{_number(m.followers if m else None)}, {_number(m.posts_last_month if m else None)} |")
    if unsealed or not tsa_configured:
        lines += ["", f"⚠ {len(unsealed)} utan RFC 3161-tidsstämpel / UNSEALED: "
                      + (", ".join(f"`{a}`" for a in sorted(unsealed)) or "—") + ". "
                      + ("Ingen tidsstämpeltjänst (TSA) är inställd: sätt SOMEARKIV_TSA_URL. / No TSA configured: set "
                         "SOMEARKIV_TSA_URL." if not tsa_configured else
                         "Flödet seal-pending tidsstämplar dem när TSA:n svarar. / The seal-pending flow seals them "
                         "when the TSA answers.")]
    lines += ["", f"Länkarna gäller {link_hours} timmar och kräver att webbläsaren når arkivets S3-adress. / "
                  f"Links are valid {link_hours} h and need a browser that reaches the archive's S3 endpoint."]
    return "\n".join(lines)


_FILE_LINKS = (("startpage.pdf", "PDF/A"), ("startpage.png", "skärmbild"), ("startpage-mobile.png", "mobil"),
               ("wall.png", "hindret / the wall"), ("record.json", "post / record"))


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def _next_run(cron: str, after: dt.datetime) -> dt.datetime:
    """The next time *cron* fires in Swedish time (Prefect's own croniter, as its scheduler reads it)."""
    from prefect._vendor.croniter import croniter

    local = after.astimezone(_STOCKHOLM).replace(tzinfo=None)
    return croniter(cron, local).get_next(dt.datetime).replace(tzinfo=_STOCKHOLM)


def overview_markdown(accounts: list[Account], state: dict, settings) -> str:
    """Per account: last capture, its age, the next scheduled run, closed or not, holds (from the ledger alone)."""
    now = dt.datetime.now(dt.UTC)
    when = f"{_next_run(settings.semiannual_cron, now):%Y-%m-%d %H:%M}"
    last: dict[str, tuple[dt.datetime, str]] = {}
    holds: dict[str, int] = {}
    for kept in state.values():
        account_id, _, rest = kept.capture_id.partition("/")
        try:
            taken = dt.datetime.strptime(rest[:18], "%Y-%m-%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        if account_id not in last or taken > last[account_id][0]:
            last[account_id] = (taken, rest[19:])
        holds[account_id] = holds.get(account_id, 0) + int(kept.held)
    lines = [f"# Arkivet i dag / The archive today ({now.astimezone(_STOCKHOLM):%Y-%m-%d %H:%M})", "",
             f"Nästa halvårsvis ögonblicksbild / next half-yearly snapshot: **{when}** (Europe/Stockholm)", "",
             "| Konto / Account | Senaste / Last capture | Ålder / Age | Utlösare / Trigger | Status | "
             "Bevaras med spärr / Legal holds |", "|---|---|---|---|---|---|"]
    for account in sorted(accounts, key=lambda a: a.id):
        taken, trigger = last.get(account.id, (None, ""))
        age = f"{(now - taken).days} dagar" if taken else "—"
        old = taken is not None and (now - taken).days > 190
        status = "stängt / closed" if account.closed else ("⚠ äldre än ett halvår / older than six months" if old
                                                           else ("⚠ aldrig tagen / never captured" if not taken
                                                                 else "aktivt / active"))
        lines.append(f"| `{account.id}` ({account.platform.value}) | {f'{taken:%Y-%m-%d}' if taken else '—'} | "
                     f"{age} | {trigger or '—'} | {status} | {holds.get(account.id, 0) or '—'} |")
    return "\n".join(lines)


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

