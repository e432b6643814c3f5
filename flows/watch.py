"""The weekly watch (bevakning): never miss a major change nobody announced.

Each active account whose turn it is (config/watch.yaml) gets a light capture, filed under watch/
in a short-lived class, compared with its previous watch and, when newer, the last snapshot. On a
major change (*större ändring*) nobody announced: the previous watch is promoted to a permanent
capture, a snapshot of the new state is taken at once (trigger ``change-detected``), the event
``somearkiv.major-change.detected`` is emitted, and a review artifact shows before and after.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, State

from somearkiv.log import get_logger
from somearkiv.models import Account, CaptureStatus, ChangeReport, Trigger, WatchOutcome, WatchRecord
from somearkiv.runstate import failed_state, run_result
from somearkiv.settings import get_settings
from storage import Archive
from tasks.audit import record_event
from tasks.events import emit
from tasks.filing import file_capture, prepare_archive
from tasks.pdfa import convert_to_pdfa
from tasks.register import load_register, select_accounts
from tasks.retention import load_retention_schedule
from tasks.watch.config import read_watch_config
from tasks.watch.promote import PROMOTION_REASON, promoted_capture
from tasks.watch.review import REVIEW_NAME, review_markdown, summary_markdown, watch_artifact_key
from tasks.watch.run import announcement, compare_watch, drop_local, file_watch, take_watch

__all__ = ["watch_accounts"]

DETECTED_EVENT = "major-change.detected"  # emitted as somearkiv.major-change.detected


@flow(name="watch-accounts")
def watch_accounts(
    account_ids: list[str] | None = None,
    register_path: str | None = None,
    config_path: str | None = None,
    force: bool = False,
) -> State:
    """Watch each active account whose turn it is; act on a major change nobody announced.

    account_ids: only these accounts (default: every active one); force: watch them even if their
    last watch is recent; config_path: the watch's settings (default config/watch.yaml).
    """
    settings = get_settings()
    config = read_watch_config(config_path)
    schedule = load_retention_schedule(str(settings.retention_config))
    register = load_register(str(register_path or settings.register_path), sorted(schedule.ids))
    watch_class = schedule.get(config.retention_class)
    prepare_archive()
    archive = Archive.connected(settings)
    now = dt.datetime.now(dt.UTC)
    outcomes: list[WatchOutcome] = []
    for account in select_accounts(register, account_ids):
        last = archive.latest_watch(account.id)
        if not force and not config.due(account.id, last.started_at if last else None, now):
            outcomes.append(WatchOutcome(account_id=account.id, status="skipped",
                                         error="not due yet" if config.interval(account.id) else "not watched"))
            continue
        try:
            outcomes.append(_watch_one(account, register.municipality, config, watch_class, schedule, archive,
                                       register_path))
        except Exception as exc:  # one account never stops the others
            get_logger(account=account.id).error("watch.failed", error=str(exc)[:500])
            outcomes.append(WatchOutcome(account_id=account.id, status="failed", error=str(exc)[:500]))
    create_markdown_artifact(summary_markdown(outcomes), key="watch-summary",
                             description="Veckobevakning / weekly watch")
    failed = [o.account_id for o in outcomes if o.status == "failed"]
    major = [o.account_id for o in outcomes if o.classification == "större ändring"]
    message = (f"{sum(o.status == 'watched' for o in outcomes)} watched, "
               f"{sum(o.status == 'skipped' for o in outcomes)} not due; major change: {', '.join(major) or 'none'}")
    if failed:
        return failed_state(message + f"; failed: {', '.join(failed)}", outcomes)
    return Completed(message=message, data=outcomes)


def _watch_one(account: Account, municipality: str, config, watch_class, schedule, archive: Archive,
               register_path: str | None) -> WatchOutcome:
    """One account: take, compare, file; then act when the change is major and was not announced."""
    settings = get_settings()
    watch, folder = take_watch(account, municipality, config, watch_class.id)
    watch, reports, sides = compare_watch(watch, folder, config)
    filed = file_watch(watch, folder, watch_class)
    if filed.status is not CaptureStatus.captured:
        drop_local(folder, settings)
        return WatchOutcome(account_id=account.id, status="blocked", watch_id=filed.watch_id,
                            error=f"{filed.wall.kind}: {filed.wall.reason}" if filed.wall else None)
    worst = max(reports, key=lambda r: r.score) if reports else None
    outcome = WatchOutcome(account_id=account.id, status="watched", watch_id=filed.watch_id,
                           classification=worst.classification if worst else None,
                           score=worst.score if worst else None,
                           baseline=f"{worst.baseline} {worst.compared_with}" if worst else None)
    if worst is None or worst.classification != "större ändring":
        drop_local(folder, settings)
        return outcome
    outcome = _act(account, filed, worst, sides, schedule, archive, config, register_path, outcome)
    drop_local(folder, settings)
    return outcome


def _act(account: Account, filed: WatchRecord, report: ChangeReport, sides, schedule, archive: Archive, config,
         register_path: str | None, outcome: WatchOutcome) -> WatchOutcome:
    """A major change: was it announced? If not, keep the state before it, snapshot the new one, tell people."""
    log = get_logger(account=account.id, watch_id=filed.watch_id)
    before = sides[report.baseline]
    announced = announcement(archive, account.id, before.at, config)
    review_key = next((f.key for f in filed.files if f.name == REVIEW_NAME), None)
    outcome = outcome.model_copy(update={"announced": announced, "review_key": review_key})
    if announced is None:
        if report.baseline == "watch":  # the state before the change is only in a short-lived watch: keep it
            outcome = outcome.model_copy(update={"promoted_capture_id": _promote(archive, before.id, report,
                                                                                 schedule, account)})
        state = _snapshot_new_state(account, report, register_path)
        outcome = outcome.model_copy(update={"snapshot_capture_id": state})
        emit(DETECTED_EVENT, account.id, account=account.id, watch_id=filed.watch_id, baseline=report.baseline,
             compared_with=report.compared_with, score=report.score, classification=report.classification,
             changes=[{"element": c.element, "detail": c.detail} for c in report.changes],
             promoted_capture_id=outcome.promoted_capture_id, snapshot_capture_id=outcome.snapshot_capture_id,
             review_key=review_key, responsible=account.responsible, substitute=account.substitute)
        log.warning("watch.major_change", score=report.score, promoted=outcome.promoted_capture_id,
                    snapshot=outcome.snapshot_capture_id)
    else:
        log.info("watch.major_change_announced", announced=announced, score=report.score)
    url = archive.presigned_url(review_key, get_settings().review_link_hours * 3600) if review_key else None
    create_markdown_artifact(review_markdown(account.name, outcome, report, before, sides["after"], url),
                             key=watch_artifact_key(account.id),
                             description=f"Före och efter / before and after: {account.id}")
    return outcome


def _promote(archive: Archive, watch_id: str, report: ChangeReport, schedule, account: Account) -> str:
    """The previous watch as a permanent capture (the account's class and hold), ledgered, with its audit entry."""
    settings = get_settings()
    watch = archive.read_watch(watch_id)
    captured = promoted_capture(archive, watch, report, settings.data_dir)
    converted = convert_to_pdfa(captured)
    record, _folder = file_capture(converted, schedule.get(account.retention_class))
    record_event(archive, "capture", "success",
                 f"{PROMOTION_REASON}: {record.capture_id} upphöjd från bevakningen {watch_id} "
                 f"(ändring upptäckt i {report.watch_id}, poäng {report.score})",
                 account_id=account.id,
                 objects=[f"{f.key}?versionId={f.version_id}" for f in watch.files if f.key],
                 data={"capture_id": record.capture_id, "watch_id": watch_id, "detected_in": report.watch_id,
                       "reason": PROMOTION_REASON, "retention_class": record.retention_class})
    return record.capture_id


def _snapshot_new_state(account: Account, report: ChangeReport, register_path: str | None) -> str | None:
    """A full snapshot of the new state now, as a child run of snapshot-accounts."""
    from flows.snapshot import snapshot_accounts

    changed = ", ".join(c.element for c in report.changes)
    state = snapshot_accounts(account_ids=[account.id], trigger=Trigger.change_detected,
                              reason=f"oanmäld större ändring upptäckt av bevakningen {report.watch_id}: {changed}",
                              requested_by=None, register_path=register_path, return_state=True)
    summary = run_result(state)
    captured = [o.capture_id for o in getattr(summary, "outcomes", ()) if o.capture_id]
    return captured[0] if captured else None
