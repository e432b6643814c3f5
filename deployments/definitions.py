"""The deployments, defined once: `somearkiv serve` builds them from here, prefect.yaml mirrors them
(a test checks that the two agree)."""

from __future__ import annotations

from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron

from somearkiv.settings import Settings

__all__ = [
    "MAJOR_CHANGE_EVENT",
    "SERVE_SUFFIX",
    "TIMEZONE",
    "account_resource_id",
    "major_change_trigger",
    "semiannual_schedule",
    "served_deployments",
]

TIMEZONE = "Europe/Stockholm"
MAJOR_CHANGE_EVENT = "somearkiv.major-change.announced"
SERVE_SUFFIX = "-serve"  # served deployments must not overwrite the prefect.yaml ones of the same flow


def account_resource_id(account_id: str) -> str:
    return f"somearkiv.account.{account_id}"


def semiannual_schedule(cron: str) -> Cron:
    """The half-yearly ögonblicksbild, in Swedish time (a bare cron string would mean UTC)."""
    return Cron(cron, timezone=TIMEZONE)


def major_change_trigger() -> DeploymentEventTrigger:
    """Run 'before-major-change' for the account named in a somearkiv.major-change.announced event."""
    return DeploymentEventTrigger(
        name="major change announced",
        expect={MAJOR_CHANGE_EVENT},
        match={"prefect.resource.id": "somearkiv.account.*"},
        parameters={  # optional payload fields need a default: an undefined value fails the whole action
            "account": "{{ event.payload.account }}",
            "reason": "{{ event.payload.reason | default('(inget skäl angivet / no reason given)') }}",
            "announced_by": "{{ event.payload.announced_by | default('') }}",
            "planned_date": "{{ event.payload.planned_date | default('') }}",
        },
    )


def served_deployments(settings: Settings) -> list:
    """Everything `somearkiv serve` runs in one process."""
    from prefect.deployments.runner import EntrypointType

    from flows.snapshot import before_major_change, snapshot_accounts

    module = EntrypointType.MODULE_PATH  # runs from any working directory: the flows are installed
    return [
        snapshot_accounts.to_deployment(
            entrypoint_type=module,
            name="semiannual-snapshot" + SERVE_SUFFIX,
            description="Ögonblicksbild of every active account, twice a year.",
            schedules=[semiannual_schedule(settings.semiannual_cron)],
            parameters={"trigger": "scheduled"},
            tags=["somearkiv"],
        ),
        before_major_change.to_deployment(
            entrypoint_type=module,
            name="before-major-change" + SERVE_SUFFIX,
            description="Ögonblicksbild of one account before a major change (event or the Run form).",
            triggers=[major_change_trigger()],
            tags=["somearkiv"],
        ),
    ]
