"""A round of snapshots spread over the work pool: batches of accounts as child flow runs.

One flow run capturing every account lands on one worker, so adding workers does not make a
half-yearly round faster. Here the round is split into batches that are submitted with
Prefect's ``run_deployment`` to the ``snapshot-batch`` deployment: every worker polling the
pool takes batches, and the global concurrency limit on browsers still holds across them.

Each batch publishes its outcomes as an artifact (type ``somearkiv-batch``) that the parent
reads through the API, so no shared result storage is needed between machines. A batch that
ends without one (its worker died, it crashed, it ran past its time) loses nothing: what it
filed is found in the archive by its run id, and the accounts it did not file are submitted
again in a new batch; each capture is filed exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.states import Cancelling, Crashed

from somearkiv.log import get_logger
from somearkiv.models import Account, AccountOutcome, CaptureRecord, CaptureStatus, Platform, SnapshotSummary
from somearkiv.settings import Settings
from tasks.pipeline import filed_outcome

__all__ = ["BATCH_ARTIFACT_TYPE", "BATCH_FLOW", "BatchRun", "publish_batch", "run_in_batches", "split", "spread_round"]

BATCH_FLOW = "snapshot-batch"  # the flow's name, and its deployment's (with -serve under `somearkiv serve`)

BATCH_ARTIFACT_TYPE = "somearkiv-batch"


def split(account_ids: Sequence[str], size: int) -> list[list[str]]:
    """Batches of at most *size* accounts, in register order."""
    return [list(account_ids[i:i + size]) for i in range(0, len(account_ids), size)]


def publish_batch(summary: SnapshotSummary) -> None:
    """A batch's outcomes, for the round that started it (read back by run_in_batches)."""
    from prefect.artifacts import Artifact

    Artifact(type=BATCH_ARTIFACT_TYPE, data=summary.model_dump(mode="json"),
             description=f"{len(summary.outcomes)} accounts: {len(summary.captured)} captured, "
                         f"{len(summary.blocked)} blocked, {len(summary.failed)} failed").create()


_CANCEL_GRACE_S = 60.0  # a cancelled batch whose worker does not answer is marked crashed after this


@dataclass
class BatchRun:
    account_ids: list[str]
    attempt: int
    run: FlowRun
    started: float = field(default_factory=time.monotonic)
    cancelled_at: float | None = None


def run_in_batches(account_ids: Sequence[str], platforms: dict[str, Platform], *, size: int, deployment: str,
                   parameters: dict, timeout_s: float, filed_by_run: Callable[[str, str], AccountOutcome | None],
                   retries: int = 1, poll_s: float = 2.0) -> list[AccountOutcome]:
    """Run the accounts in batches on the pool; every account's outcome, in the order given.

    filed_by_run(account_id, flow_run_id): the outcome of what that run filed for the account,
    or None (used for a batch that ended without publishing its outcomes).
    timeout_s: a batch still running after this is marked crashed and recovered.
    """
    log = get_logger(deployment=deployment)
    outcomes: dict[str, AccountOutcome] = {}
    running = [_submit(ids, 0, deployment, parameters) for ids in split(account_ids, size)]
    log.info("round.batches", batches=len(running), size=size)
    while running:
        time.sleep(poll_s)
        finished, running = _poll(running, timeout_s)
        for batch in finished:
            published = _published(batch.run.id)
            if published is not None:
                outcomes.update({o.account_id: o for o in published.outcomes})
                continue
            left = []
            for account_id in batch.account_ids:
                found = filed_by_run(account_id, str(batch.run.id))
                if found is not None:
                    outcomes[account_id] = found
                else:
                    left.append(account_id)
            state = batch.run.state.name if batch.run.state else "?"
            log.warning("round.batch_lost", run=batch.run.name, state=state,
                        recovered=len(batch.account_ids) - len(left), again=len(left) if batch.attempt < retries else 0)
            if left and batch.attempt < retries:
                running.append(_submit(left, batch.attempt + 1, deployment, parameters))
            else:
                outcomes.update({a: AccountOutcome(
                    account_id=a, platform=platforms[a], status=CaptureStatus.failed, failed_stage="batch",
                    error=f"its batch run {batch.run.name} ended {state} without a result, "
                          f"{batch.attempt + 1} time(s)") for a in left})
    return [outcomes[a] for a in account_ids]


def _submit(account_ids: list[str], attempt: int, deployment: str, parameters: dict) -> BatchRun:
    run = run_deployment(name=deployment, parameters={**parameters, "account_ids": account_ids}, timeout=0,
                         as_subflow=True, tags=["somearkiv", "batch"])
    return BatchRun(account_ids=account_ids, attempt=attempt, run=run)


def _poll(batches: list[BatchRun], timeout_s: float) -> tuple[list[BatchRun], list[BatchRun]]:
    """(the batches that ended, those still going).

    A batch past its time is cancelled first (its worker stops it, so it cannot file after its
    accounts were given to another batch); one whose worker does not answer within a minute is
    gone with it, and is marked crashed.
    """
    now = time.monotonic()
    done, going = [], []
    with get_client(sync_client=True) as client:
        for batch in batches:
            batch.run = run = client.read_flow_run(batch.run.id)
            if run.state is not None and run.state.is_final():
                done.append(batch)
                continue
            if batch.cancelled_at is None and now - batch.started > timeout_s:
                batch.cancelled_at = now
                client.set_flow_run_state(run.id, Cancelling(message=f"no result within {timeout_s:g} s: "
                                                                     "stopped, its accounts are run again"), force=True)
            elif batch.cancelled_at is not None and now - batch.cancelled_at > _CANCEL_GRACE_S:
                batch.run = client.read_flow_run(run.id)
                client.set_flow_run_state(run.id, Crashed(message="its worker did not stop it: presumed gone"),
                                          force=True)
                done.append(batch)
                continue
            going.append(batch)
    return done, going


def _published(run_id: UUID) -> SnapshotSummary | None:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]), type=ArtifactFilterType(any_=[BATCH_ARTIFACT_TYPE])))
    if not found:
        return None
    data = found[0].data  # the API gives it back as JSON text
    return SnapshotSummary.model_validate_json(data) if isinstance(data, str) else SnapshotSummary.model_validate(data)


def spread_round(accounts: Sequence[Account], size: int, parameters: dict, settings: Settings
                 ) -> tuple[list[AccountOutcome], list[CaptureRecord]]:
    """The round's accounts in batches on the pool (see the module); their outcomes and filed records.

    parameters: what every batch run gets besides its accounts (trigger, reason, requested_by,
    register_path), JSON-ready.
    """
    from prefect.runtime import deployment as this_deployment

    from deployments.definitions import SERVE_SUFFIX
    from storage import Archive

    suffix = SERVE_SUFFIX if str(this_deployment.name or "").endswith(SERVE_SUFFIX) else ""
    archive = Archive.connected(settings)

    def filed_by_run(account_id: str, run_id: str) -> AccountOutcome | None:
        for status in (CaptureStatus.captured, CaptureStatus.blocked):
            for record in archive.list_captures(account_id, status=status):
                if record.flow_run_id == run_id:
                    return filed_outcome(record)
        return None

    per_batch = settings.capture_timeout_s * 3 * size / max(1, settings.capture_concurrency) + 600
    outcomes = run_in_batches([a.id for a in accounts], {a.id: a.platform for a in accounts}, size=size,
                              deployment=f"{BATCH_FLOW}/{BATCH_FLOW}{suffix}", parameters=parameters,
                              timeout_s=settings.batch_timeout_s or per_batch, filed_by_run=filed_by_run)
    records = [archive.read_record(o.object_keys[-1]) for o in outcomes
               if o.status is not CaptureStatus.failed and o.object_keys]
    return outcomes, records
