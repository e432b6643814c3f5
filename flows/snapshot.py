"""Snapshot flows: the ögonblicksbild of every registered account (P1), or of one account before a
major change (P2); each capture converted to PDF/A (P3) and filed in order (P7)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from prefect import flow
from prefect.futures import PrefectFuture, as_completed, wait
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from somearkiv.models import Account, AccountOutcome, CaptureRecord, CaptureStatus, SnapshotSummary, Trigger
from somearkiv.settings import get_settings
from flows.approval import Answer, ask_person
from tasks.capture import capture_start_page
from tasks.filing import file_capture, prepare_archive, remove_review_copies, seal_ledger_head, stage_review_copies
from tasks.metrics.capture import metrics_complete, read_capture_metrics, with_manual_metrics
from tasks.pdfa import convert_to_pdfa
from tasks.register import load_register, select_accounts
from tasks.retention import load_retention_schedule
from tasks.review import report_snapshot

__all__ = ["before_major_change", "snapshot_accounts"]

_STAGES = ("capture", "metrics", "pdfa", "filing")


@flow(name="snapshot-accounts", task_runner=ThreadPoolTaskRunner(max_workers=16))
def snapshot_accounts(
    account_ids: list[str] | None = None,
    trigger: Trigger = Trigger.scheduled,
    reason: str | None = None,
    requested_by: str | None = None,
    register_path: str | None = None,
    ask_for_missing: bool = False,
    manual_timeout_s: int = 24 * 3600,
) -> State:
    """Capture, count, convert to PDF/A and file each account; one failing account never stops the others.

    account_ids: the accounts to capture (any status); default every active account.
    trigger: why (scheduled, before-change, before-close, manual); reason: the why in words.
    ask_for_missing: when neither API nor page gives followers or posts, pause and ask in the UI
    (for manual_timeout_s seconds; then the capture is filed with the numbers missing).
    """
    settings = get_settings()
    schedule = load_retention_schedule(str(settings.retention_config))
    register = load_register(str(register_path or settings.register_path), sorted(schedule.ids))
    accounts = select_accounts(register, account_ids)
    bucket = prepare_archive()

    def capture(account: Account) -> PrefectFuture:
        return capture_start_page.submit(account, register.municipality, trigger, reason, requested_by)

    def convert_and_file(account: Account, counted: PrefectFuture) -> tuple[PrefectFuture, PrefectFuture]:
        converted = convert_to_pdfa.submit(counted)
        return converted, file_capture.submit(converted, schedule.get(account.retention_class))

    pipelines: dict[str, tuple[PrefectFuture, ...]] = {}
    if ask_for_missing:  # every count must be in before the form is shown: capture all, then ask, then file
        measured: dict[str, tuple[PrefectFuture, PrefectFuture]] = {}
        for account in accounts:
            captured = capture(account)
            measured[account.id] = (captured, read_capture_metrics.submit(captured))
        typed_in = _ask_for_missing_metrics(measured, manual_timeout_s)
        for account in accounts:
            captured, counted = measured[account.id]
            pipelines[account.id] = (captured, counted, *convert_and_file(account, typed_in.get(account.id, counted)))
    else:
        for account, captured in _as_captured(accounts, capture, ahead=settings.capture_concurrency + 1):
            counted = read_capture_metrics.submit(captured)
            pipelines[account.id] = (captured, counted, *convert_and_file(account, counted))
    wait([stages[-1] for stages in pipelines.values()])

    outcomes = [_outcome(account, pipelines[account.id]) for account in accounts]
    summary = SnapshotSummary(trigger=trigger, reason=reason, bucket=bucket, flow_run_id=flow_run.id,
                              outcomes=tuple(outcome for outcome, _ in outcomes))
    report_snapshot(summary, [record for _, record in outcomes if record is not None])
    seal_ledger_head()

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


def _as_captured(accounts: list[Account], capture: Callable[[Account], PrefectFuture],
                 ahead: int) -> Iterator[tuple[Account, PrefectFuture]]:
    """Start captures at most *ahead* at a time; yield each (account, capture) as it ends.

    Prefect's thread pool runs submitted tasks first come, first served, and a capture waiting
    for the browser holds a thread. Submitting every capture at once put every account's PDF/A
    and filing behind the last capture: with 200 accounts nothing was filed for a quarter of an
    hour (measured). With a short window, each capture is converted and filed while the next
    ones are taken.
    """
    waiting = list(reversed(accounts))
    running: dict[PrefectFuture, Account] = {}
    while waiting or running:
        while waiting and len(running) < ahead:
            account = waiting.pop()
            running[capture(account)] = account
        done = next(as_completed(list(running)))
        yield running.pop(done), done


def _ask_for_missing_metrics(measured: dict[str, tuple[PrefectFuture, PrefectFuture]],
                             timeout_s: int) -> dict[str, tuple[CaptureRecord, Path]]:
    """One form for every account whose numbers nothing could read; the answers, applied."""
    from pydantic import Field, create_model

    wait([counted for _, counted in measured.values()])
    missing = {account_id: counted.result() for account_id, (_, counted) in measured.items()
               if counted.state.is_completed() and counted.result()[0].status is CaptureStatus.captured
               and not metrics_complete(counted.result()[0])}
    if not missing:
        return {}
    links = stage_review_copies([record for record, _ in missing.values()])
    fields, lines = {}, []
    for account_id, (record, _) in missing.items():
        slug = account_id.replace("-", "_")
        fields[f"{slug}_followers"] = (int | None, Field(default=None, ge=0, description=f"{account_id}: följare"))
        fields[f"{slug}_posts_last_month"] = (int | None, Field(
            default=None, ge=0, description=f"{account_id}: skrivna inlägg senaste månaden / posts last month"))
        lines.append(f"- **{account_id}** ({record.account.platform.value}): [startsidan]({record.account.url}), "
                     f"[skärmdumpen / screenshot]({links.get(account_id, '#')})")
    form = create_model("ManualMetrics", __base__=Answer, **fields)
    answer, asked = ask_person(
        form, timeout_s=timeout_s, key="metrics",
        sv="Antal följare och skrivna inlägg senaste månaden kunde inte läsas för dessa konton. Fyll i "
           "siffrorna från plattformens statistik (lämna tomt om okänt):\n\n" + "\n".join(lines),
        en="Followers and posts in the last month could not be read for these accounts. Enter the numbers "
           "from the platform's statistics (leave empty if unknown).")
    remove_review_copies(list(links.values()))
    if answer is None:
        return {}
    return {account_id: (with_manual_metrics(record, getattr(answer, f"{account_id.replace('-', '_')}_followers"),
                                             getattr(answer, f"{account_id.replace('-', '_')}_posts_last_month"),
                                             asked.answered_by or "?", asked.answered_at, answer.comment), folder)
            for account_id, (record, folder) in missing.items()}


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
