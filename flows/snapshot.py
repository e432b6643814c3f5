"""Snapshot flows: the ögonblicksbild of every registered account (P1), or of one account before a
major change (P2); each capture converted to PDF/A (P3) and filed in order (P7)."""

from __future__ import annotations

from prefect import flow
from prefect.futures import PrefectFuture, wait
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from somearkiv.models import Account, AccountOutcome, CaptureRecord, CaptureStatus, SnapshotSummary, Trigger
from somearkiv.settings import get_settings
from tasks.capture import capture_start_page
from tasks.filing import file_capture, prepare_archive
from tasks.pdfa import convert_to_pdfa
from tasks.register import load_register, select_accounts
from tasks.retention import load_retention_schedule
from tasks.review import report_snapshot

__all__ = ["before_major_change", "snapshot_accounts"]

_STAGES = ("capture", "pdfa", "filing")


@flow(name="snapshot-accounts", task_runner=ThreadPoolTaskRunner(max_workers=8))
def snapshot_accounts(
    account_ids: list[str] | None = None,
    trigger: Trigger = Trigger.scheduled,
    reason: str | None = None,
    requested_by: str | None = None,
    register_path: str | None = None,
) -> State:
    """Capture, convert to PDF/A and file each account; one failing account never stops the others.

    account_ids: the accounts to capture (any status); default every active account.
    trigger: why (scheduled, before-change, before-close, manual); reason: the why in words.
    """
    settings = get_settings()
    schedule = load_retention_schedule(str(settings.retention_config))
    register = load_register(str(register_path or settings.register_path), sorted(schedule.ids))
    accounts = select_accounts(register, account_ids)
    bucket = prepare_archive()

    pipelines: dict[str, tuple[PrefectFuture, ...]] = {}
    for account in accounts:
        captured = capture_start_page.submit(account, register.municipality, trigger, reason, requested_by)
        converted = convert_to_pdfa.submit(captured)
        filed = file_capture.submit(converted, schedule.get(account.retention_class))
        pipelines[account.id] = (captured, converted, filed)
    wait([stages[-1] for stages in pipelines.values()])

    outcomes = [_outcome(account, pipelines[account.id]) for account in accounts]
    summary = SnapshotSummary(trigger=trigger, reason=reason, bucket=bucket, flow_run_id=flow_run.id,
                              outcomes=tuple(outcome for outcome, _ in outcomes))
    report_snapshot(summary, [record for _, record in outcomes if record is not None])

    message = f"{len(summary.captured)} of {len(accounts)} accounts captured and filed"
    if summary.blocked:
        message += f"; blocked by a wall (evidence filed): {', '.join(o.account_id for o in summary.blocked)}"
    no_pdfa = [o.account_id for o in summary.captured if o.pdfa == "failed"]
    if no_pdfa:
        message += f"; PDF/A FAILED (PNG and print PDF filed, no archival PDF): {', '.join(no_pdfa)}"
    if summary.failed or no_pdfa:
        failed = f"; failed: {', '.join(o.account_id for o in summary.failed)}" if summary.failed else ""
        return Failed(message=message + failed, data=summary)
    return Completed(message=message, data=summary)


@flow(name="before-major-change")
def before_major_change(
    account: str,
    reason: str,
    announced_by: str | None = None,
    planned_date: str | None = None,
) -> State:
    """Ögonblicksbild of one account before a major change (policy: "inför stora ändringar").

    account: the account id in the register; reason: what is about to change;
    announced_by: who announced it; planned_date: when the change is planned (YYYY-MM-DD).
    """
    why = reason.strip() + (f" (planerad ändring / planned change: {planned_date})" if planned_date else "")
    return snapshot_accounts(account_ids=[account], trigger=Trigger.before_change, reason=why,
                             requested_by=announced_by or None, return_state=True)


def _outcome(account: Account, stages: tuple[PrefectFuture, ...]) -> tuple[AccountOutcome, CaptureRecord | None]:
    """Read one account's pipeline: the filed record, or the first stage that failed and why."""
    for stage, future in zip(_STAGES, stages):
        if future.state.is_failed() or future.state.is_crashed():
            return AccountOutcome(account_id=account.id, platform=account.platform, status=CaptureStatus.failed,
                                  failed_stage=stage, error=future.state.message), None
    record, folder = stages[-1].result()
    return AccountOutcome(
        account_id=account.id, platform=account.platform, status=record.status,
        error=f"{record.wall.kind}: {record.wall.reason}" if record.wall else None,
        capture_id=record.capture_id, object_keys=(*(f.key for f in record.files if f.key), record.record_key),
        local_folder=str(folder),
        pdfa=None if record.pdfa is None else (record.pdfa.conformance if record.pdfa.valid else "failed"),
    ), record
