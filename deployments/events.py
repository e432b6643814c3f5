"""The 'before major change' announcement: emit the event, find the run it started."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import FlowRunSort
from prefect.events import emit_event

from deployments.definitions import MAJOR_CHANGE_EVENT, SERVE_SUFFIX, account_resource_id

__all__ = ["emit_major_change", "major_change_event", "wait_for_state", "wait_for_triggered_runs"]

DEPLOYMENT = "before-major-change"


def major_change_event(account: str, reason: str, by: str | None, planned: str | None) -> dict:
    """The event as JSON, the same shape a CMS or a form can POST to the server's /api/events."""
    return {
        "event": MAJOR_CHANGE_EVENT,
        "resource": {"prefect.resource.id": account_resource_id(account), "prefect.resource.name": account},
        "payload": {"account": account, "reason": reason, "announced_by": by or "", "planned_date": planned or ""},
    }


async def _healthcheck() -> Exception | None:
    async with get_client() as client:
        return await client.api_healthcheck()


def emit_major_change(account: str, reason: str, by: str | None, planned: str | None) -> tuple[UUID, dt.datetime]:
    """Emit the announcement once the Prefect server answers: an event emitted to a server that is
    down is queued in this process and lost with it, and the command would have said "announced"."""
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL

    if (problem := asyncio.run(_healthcheck())) is not None:
        raise RuntimeError(f"Failed to reach API at {PREFECT_API_URL.value()}: {problem}; nothing was announced")
    emitted_at = dt.datetime.now(dt.UTC)
    event = emit_event(**major_change_event(account, reason, by, planned))
    if event is None:
        raise RuntimeError("the event could not be emitted (no Prefect API configured)")
    EventsWorker.drain_all()  # make sure it has left this process
    return event.id, emitted_at


async def _find(account: str, since: dt.datetime) -> list[FlowRun]:
    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[DEPLOYMENT, DEPLOYMENT + SERVE_SUFFIX])),
            sort=FlowRunSort.ID_DESC, limit=20)
    return [run for run in runs if run.parameters.get("account") == account and run.created
            and run.created >= since - dt.timedelta(seconds=2)]


def wait_for_triggered_runs(account: str, since: dt.datetime, timeout: float) -> list[FlowRun]:
    """The runs the announcement started, once the server has created them (empty after *timeout*).

    Normally one; two when both a served and a prefect.yaml deployment carry the trigger.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runs := asyncio.run(_find(account, since)):
            time.sleep(2.0)  # a second deployment's run is created right after the first
            return asyncio.run(_find(account, since))
        time.sleep(1.0)
    return []


async def _read(run_id: UUID) -> FlowRun:
    async with get_client() as client:
        return await client.read_flow_run(run_id)


def wait_for_state(run_id: UUID, timeout: float, final: bool) -> FlowRun | None:
    """The run once it is running (final=False) or finished (final=True); None after *timeout*."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = asyncio.run(_read(run_id))
        if run.state is not None and (run.state.is_final() or (not final and run.state.is_running())):
            return run
        time.sleep(1.0)
    return None
