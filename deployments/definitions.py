"""The deployments, defined once: `somearkiv serve` builds them from here, prefect.yaml mirrors them
(a test checks that the two agree)."""

from __future__ import annotations

from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron

from somearkiv.settings import Settings

__all__ = [
    "FIXITY_CRON",
    "MAJOR_CHANGE_EVENT",
    "PRUNE_CRON",
    "PUBLISH_CRON",
    "SERVE_SUFFIX",
    "TIMEZONE",
    "account_resource_id",
    "major_change_trigger",
    "semiannual_schedule",
    "served_deployments",
]

TIMEZONE = "Europe/Stockholm"
MAJOR_CHANGE_EVENT = "somearkiv.major-change.announced"
FIXITY_CRON = "0 3 2 * *"  # the 2nd of every month, 03:00
PRUNE_CRON = "0 7 15 * *"  # the 15th of every month, 07:00: the archivist answers in the UI
PUBLISH_CRON = "0 5 * * 1"  # Mondays 05:00
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

    from flows.disposal import prune_expired
    from flows.fixity import verify_fixity
    from flows.metrics_check import check_metrics
    from flows.publish import publish_register
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
        verify_fixity.to_deployment(
            entrypoint_type=module,
            name="verify-fixity" + SERVE_SUFFIX,
            description="Re-read every archived object and compare with its record (monthly).",
            schedules=[Cron(FIXITY_CRON, timezone=TIMEZONE)],
            tags=["somearkiv"],
        ),
        prune_expired.to_deployment(
            entrypoint_type=module,
            name="prune-expired" + SERVE_SUFFIX,
            description="Propose expired 'gallras' captures for disposal; waits for the archivist's approval.",
            schedules=[Cron(PRUNE_CRON, timezone=TIMEZONE)],
            tags=["somearkiv"],
        ),
        check_metrics.to_deployment(
            entrypoint_type=module,
            name="check-metrics" + SERVE_SUFFIX,
            description="Kontroll av mätvärden: followers and posts of each account now, through the APIs, "
                        "without archiving; fails when a configured API cannot be read.",
            tags=["somearkiv"],
        ),
        publish_register.to_deployment(
            entrypoint_type=module,
            name="publish-register" + SERVE_SUFFIX,
            description="The public list of accounts (förteckning) as HTML and JSON, weekly and after closing one.",
            schedules=[Cron(PUBLISH_CRON, timezone=TIMEZONE)],
            tags=["somearkiv"],
        ),
    ]
