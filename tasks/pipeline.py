"""The walk of each account through a snapshot run: captures started a few at a time, each
account's stages read back into its outcome. Used by the snapshot flow."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prefect.futures import PrefectFuture, as_completed
from prefect.states import Completed, State

from somearkiv.models import Account, AccountOutcome, CaptureRecord, CaptureStatus, SnapshotSummary
from somearkiv.runstate import failed_state

__all__ = ["STAGES", "as_captured", "filed_outcome", "final_state", "outcome", "reviewed"]

STAGES = ("capture", "metrics", "pdfa", "filing")


def as_captured(accounts: list[Account], capture: Callable[[Account], PrefectFuture],
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


def outcome(account: Account, stages: tuple[PrefectFuture, ...]) -> tuple[AccountOutcome, CaptureRecord | None]:
    """Read one account's pipeline: the filed record, or the first stage that failed and why."""
    for stage, future in zip(STAGES, stages):
        if future.state.is_failed() or future.state.is_crashed():
            return AccountOutcome(account_id=account.id, platform=account.platform, status=CaptureStatus.failed,
                                  failed_stage=stage, error=future.state.message), None
    record, folder = stages[-1].result()  # the filed Captured
    return filed_outcome(record, str(folder)), record


def reviewed(result: AccountOutcome, review: PrefectFuture | None) -> AccountOutcome:
    """*result* with what its capture's review said (tasks.review.review_capture); as it is when there was no
    review (the account was not filed) or the review failed (its task run in the UI says why)."""
    if review is None or not review.state.is_completed():
        return result
    return result.model_copy(update=review.result().model_dump())


def filed_outcome(record: CaptureRecord, local_folder: str | None = None) -> AccountOutcome:
    """The outcome of an account whose capture was filed as *record*."""
    return AccountOutcome(
        account_id=record.account.id, platform=record.account.platform, status=record.status,
        error=f"{record.wall.kind}: {record.wall.reason}" if record.wall else None,
        capture_id=record.capture_id, object_keys=(*(f.key for f in record.files if f.key), record.record_key),
        local_folder=local_folder,
        pdfa=None if record.pdfa is None else (record.pdfa.conformance if record.pdfa.valid else "failed"),
    )


def final_state(summary: SnapshotSummary) -> State:
    """The run's end: Completed when every account was captured (or blocked, with its evidence filed) and
    every archival PDF validated; Failed, naming them, when any failed."""
    message = f"{len(summary.captured)} of {len(summary.outcomes)} accounts captured and filed"
    if summary.blocked:
        message += f"; blocked by a wall (evidence filed): {', '.join(o.account_id for o in summary.blocked)}"
    no_pdfa = [o.account_id for o in summary.captured if o.pdfa == "failed"]
    if no_pdfa:
        message += f"; PDF/A FAILED (PNG and print PDF filed, no archival PDF): {', '.join(no_pdfa)}"
    if summary.failed or no_pdfa:
        failed = f"; failed: {', '.join(o.account_id for o in summary.failed)}" if summary.failed else ""
        return failed_state(message + failed, summary)
    return Completed(message=message, data=summary)
