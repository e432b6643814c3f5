"""`somearkiv migrate-to-workers`: from `somearkiv serve` to a work pool, without double runs.

`somearkiv serve` registers its deployments on the Prefect server with names ending in
``-serve`` (deployments.definitions.SERVE_SUFFIX), and the trigger of ``before-major-change-serve``
as an automation owned by that deployment. They stay on the server after serve stops: a
scheduled run would wait for a serve process that never comes back, and a major-change event
would start two runs once prefect.yaml's deployments are there too. This removes them, and
their own automations (the triggers serve created), and says what it removed. Automations
someone made by hand that refer to them are listed, never removed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from uuid import UUID

from deployments.definitions import SERVE_SUFFIX

__all__ = ["ServeDeployment", "find_serve_deployments", "migrate_to_workers"]


@dataclass(frozen=True)
class ServeDeployment:
    """One `-serve` deployment on the server, and the automations that refer to it."""

    id: UUID
    name: str  # flow/deployment, as the UI shows it
    triggers: list[str] = field(default_factory=list)  # its own automations (removed with it)
    others: list[str] = field(default_factory=list)  # automations made by hand that refer to it (kept)
    scheduled_runs: int = 0  # runs waiting for a serve process (removed with it)


def _own_trigger(automation, deployment_id: UUID) -> bool:
    """An automation serve made for this deployment: its only actions run this very deployment."""
    actions = list(getattr(automation, "actions", []) or [])
    return bool(actions) and all(getattr(a, "type", None) == "run-deployment" and getattr(a, "source", None) ==
                                 "selected" and getattr(a, "deployment_id", None) == deployment_id for a in actions)


async def _describe(client, deployment, flows: dict[UUID, str]) -> ServeDeployment:
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    related = await client.read_resource_related_automations(f"prefect.deployment.{deployment.id}")
    own = [a.name for a in related if _own_trigger(a, deployment.id)]
    others = [a.name for a in related if not _own_trigger(a, deployment.id)]
    waiting = await client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))))
    return ServeDeployment(deployment.id, f"{flows.get(deployment.flow_id, '?')}/{deployment.name}", own, others,
                           len(waiting))


async def _find(client) -> list[ServeDeployment]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    deployments = await client.read_deployments(
        deployment_filter=DeploymentFilter(name=DeploymentFilterName(like_=SERVE_SUFFIX)))
    deployments = [d for d in deployments if d.name.endswith(SERVE_SUFFIX)]
    flows = {f.id: f.name for f in await client.read_flows()} if deployments else {}
    return sorted([await _describe(client, d, flows) for d in deployments], key=lambda d: d.name)


async def _remove(client, found: ServeDeployment) -> ServeDeployment:
    """Delete the deployment's own automations, then the deployment (its scheduled runs go with it)."""
    resource = f"prefect.deployment.{found.id}"
    before = {a.id: a.name for a in await client.read_resource_related_automations(resource)}
    await client.delete_resource_owned_automations(resource)
    for automation in await client.read_resource_related_automations(resource):
        # the server keeps no owner for automations made by older clients: remove those that are surely its triggers
        if _own_trigger(automation, found.id):
            await client.delete_automation(automation.id)
    after = {a.id: a.name for a in await client.read_resource_related_automations(resource)}
    await client.delete_deployment(found.id)
    removed = [name for aid, name in before.items() if aid not in after]
    return ServeDeployment(found.id, found.name, removed, list(after.values()), found.scheduled_runs)


async def find_serve_deployments() -> list[ServeDeployment]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await _find(client)


async def _migrate(dry_run: bool) -> list[ServeDeployment]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        found = await _find(client)
        if dry_run:
            return found
        return [await _remove(client, d) for d in found]


def migrate_to_workers(dry_run: bool = False) -> list[ServeDeployment]:
    """Remove every `-serve` deployment and its triggers from the configured Prefect server (PREFECT_API_URL).

    With *dry_run*, only list what would be removed. Returns what was (or would be) removed.
    """
    return asyncio.run(_migrate(dry_run))
