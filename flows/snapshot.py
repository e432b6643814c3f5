"""Snapshot flows: the ögonblicksbild of every registered account (P1), or of one account before a
major change (P2); each capture converted to PDF/A (P3) and filed in order (P7)."""

from __future__ import annotations

from prefect import flow
from prefect.futures import PrefectFuture, wait
from prefect.runtime import flow_run
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from somearkiv.models import Account, AccountOutcome, CaptureRecord, SnapshotSummary, Trigger
from somearkiv.retention import RetentionSchedule
from somearkiv.settings import Settings, get_settings
from tasks.capture import capture_start_page, warm_browser
from tasks.fanout import publish_batch, spread_round
from tasks.filing import file_capture, prepare_archive, seal_ledger_head
from tasks.metrics.capture import ask_for_missing_metrics, read_capture_metrics
from tasks.pdfa import convert_to_pdfa, warm_converter
from tasks.pipeline import as_captured, final_state, outcome, reviewed
from tasks.register import load_register, select_accounts
from tasks.retention import load_retention_schedule
from tasks.review import recent_captures, report_snapshot, review_capture

__all__ = ["before_major_change", "snapshot_accounts", "snapshot_batch"]


@flow(name="snapshot-accounts", task_runner=ThreadPoolTaskRunner(max_workers=16))
def snapshot_accounts(
    account_ids: list[str] | None = None,
    trigger: Trigger = Trigger.scheduled,
    reason: str | None = None,
    requested_by: str | None = None,
    register_path: str | None = None,
    ask_for_missing: bool = False,
    manual_timeout_s: int = 24 * 3600,
    batch_size: int | None = None,
) -> State:
    """Capture, count, convert to PDF/A and file each account; one failing account never stops the others.

    account_ids: the accounts to capture (any status); default every active account.
    trigger: why (scheduled, before-change, before-close, manual); reason: the why in words.
    ask_for_missing: when neither API nor page gives followers or posts, pause and ask in the UI
    (for manual_timeout_s seconds; then the capture is filed with the numbers missing).
    batch_size: split the round into child runs of this many accounts on the work pool, so every
    worker takes a share (default SOMEARKIV_SNAPSHOT_BATCH_SIZE; 0 = all in this run).
    """
    return _snapshot(account_ids, trigger, reason, requested_by, register_path, ask_for_missing, manual_timeout_s,
                     batch_size)


@flow(name="snapshot-batch", task_runner=ThreadPoolTaskRunner(max_workers=16))
def snapshot_batch(
    account_ids: list[str],
    trigger: Trigger = Trigger.scheduled,
    reason: str | None = None,
    requested_by: str | None = None,
    register_path: str | None = None,
) -> State:
    """One batch of a round spread over the work pool (started by snapshot-accounts; see tasks.fanout)."""
    settings = get_settings()
    schedule = load_retention_schedule(str(settings.retention_config))
    register = load_register(str(register_path or settings.register_path), sorted(schedule.ids))
    accounts = select_accounts(register, account_ids)
    if accounts:
        warm_browser()  # its start overlaps the archive's preparation
    prepare_archive()
    outcomes, _ = _capture_round(accounts, register.municipality, schedule, settings,
                                 trigger, reason, requested_by, False, 0)
    summary = SnapshotSummary(trigger=trigger, reason=reason, flow_run_id=flow_run.id, outcomes=tuple(outcomes))
    publish_batch(summary)
    return final_state(summary)


def _snapshot(account_ids: list[str] | None, trigger: Trigger, reason: str | None, requested_by: str | None,
              register_path: str | None, ask_for_missing: bool, manual_timeout_s: int,
              batch_size: int | None = None) -> State:
    """The round of captures, reported in the calling flow's run (so its page has the artifacts)."""
    settings = get_settings()
    schedule = load_retention_schedule(str(settings.retention_config))
    register = load_register(str(register_path or settings.register_path), sorted(schedule.ids))
    accounts = select_accounts(register, account_ids)
    size = settings.snapshot_batch_size if batch_size is None else batch_size
    spread = bool(size and len(accounts) > size and not ask_for_missing)  # a form cannot wait in a batch: asked here
    if accounts and not spread:
        warm_browser()  # its start overlaps the archive's preparation
    bucket = prepare_archive()
    if spread:
        outcomes, records = spread_round(accounts, size, {
            "trigger": Trigger(trigger).value, "reason": reason, "requested_by": requested_by,
            "register_path": register_path}, settings)
    else:
        outcomes, records = _capture_round(accounts, register.municipality, schedule, settings, trigger, reason,
                                           requested_by, ask_for_missing, manual_timeout_s)
    summary = SnapshotSummary(trigger=trigger, reason=reason, bucket=bucket, flow_run_id=flow_run.id,
                              outcomes=tuple(outcomes))
    report_snapshot(summary, records, list(register.accounts))
    seal_ledger_head()
    return final_state(summary)


def _capture_round(accounts: list[Account], municipality: str, schedule: RetentionSchedule, settings: Settings,
                   trigger: Trigger, reason: str | None, requested_by: str | None, ask_for_missing: bool,
                   manual_timeout_s: int) -> tuple[list[AccountOutcome], list[CaptureRecord]]:
    """Each account through capture, metrics, PDF/A, filing and review, in this run; outcomes and filed records."""
    recent = recent_captures.submit([a.id for a in accounts])  # read while the first pages load

    def capture(account: Account) -> PrefectFuture:
        return capture_start_page.submit(account, municipality, trigger, reason, requested_by)

    def convert_file_and_review(account: Account, counted: PrefectFuture) -> tuple[PrefectFuture, ...]:
        converted = convert_to_pdfa.submit(counted)
        filed = file_capture.submit(converted, schedule.get(account.retention_class))
        earlier = recent.result(raise_on_failure=False)  # the first time, waits for the read (done by then)
        reviews[account.id] = review_capture.submit(filed, earlier.get(account.id, []) if isinstance(earlier, dict)
                                                    else None)
        return converted, filed

    pipelines: dict[str, tuple[PrefectFuture, ...]] = {}
    reviews: dict[str, PrefectFuture] = {}
    if ask_for_missing:  # every count must be in before the form is shown: capture all, then ask, then file
        measured: dict[str, tuple[PrefectFuture, PrefectFuture]] = {}
        for account in accounts:
            captured = capture(account)
            measured[account.id] = (captured, read_capture_metrics.submit(captured))
        typed_in = ask_for_missing_metrics(measured, manual_timeout_s)
        for account in accounts:
            captured, counted = measured[account.id]
            pipelines[account.id] = (captured, counted,
                                     *convert_file_and_review(account, typed_in.get(account.id, counted)))
    else:
        warm_converter()  # its start overlaps the first page's load
        for account, captured in as_captured(accounts, capture, ahead=settings.capture_concurrency + 1):
            counted = read_capture_metrics.submit(captured)
            pipelines[account.id] = (captured, counted, *convert_file_and_review(account, counted))
    wait([stages[-1] for stages in pipelines.values()] + list(reviews.values()))

    read = [outcome(account, pipelines[account.id]) for account in accounts]
    return [reviewed(result, reviews.get(account.id)) for account, (result, _) in zip(accounts, read)], \
        [record for _, record in read if record is not None]


@flow(name="before-major-change", task_runner=ThreadPoolTaskRunner(max_workers=4))
def before_major_change(
    account: str,
    reason: str,
    announced_by: str = "",
    planned_date: str = "",
) -> State:
    """Ögonblicksbild of one account before a major change (policy: "inför stora ändringar").

    account: the account id in the register; reason: what is about to change;
    announced_by: who announced it; planned_date: when the change is planned (YYYY-MM-DD).
    The capture runs in this run itself: its page has the capture's artifacts and its record
    names this run.
    """
    why = reason.strip() + (f" (planerad ändring / planned change: {planned_date})" if planned_date else "")
    return _snapshot([account], Trigger.before_change, why, announced_by or None, None, False, 24 * 3600)
