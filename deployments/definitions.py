"""The deployments, defined once: `somearkiv serve` builds them from here, prefect.yaml mirrors them
(a test checks that the two agree)."""

from __future__ import annotations

from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron

from deployments.forms import label_form
from somearkiv.settings import Settings

__all__ = [
    "FIXITY_CRON",
    "MAJOR_CHANGE_EVENT",
    "MODERATION_CRON",
    "PRUNE_CRON",
    "PUBLISH_CRON",
    "SEAL_CRON",
    "SERVE_SUFFIX",
    "TIMEZONE",
    "account_resource_id",
    "major_change_trigger",
    "semiannual_schedule",
    "FORMS",
    "labelled",
    "served_deployments",
]

TIMEZONE = "Europe/Stockholm"
MAJOR_CHANGE_EVENT = "somearkiv.major-change.announced"
FIXITY_CRON = "0 3 2 * *"  # the 2nd of every month, 03:00
PRUNE_CRON = "0 7 15 * *"  # the 15th of every month, 07:00: the archivist answers in the UI
PUBLISH_CRON = "0 5 * * 1"  # Mondays 05:00
SEAL_CRON = "30 4 * * *"  # daily 04:30: timestamps captures filed unsealed (the TSA was down)
MODERATION_CRON = "0 * * * *"  # every hour, on the hour: moderation cases past 36 hours raise an event
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


# The Run forms in the UI: a label and a description per parameter (Prefect would show the bare names)
FORMS: dict[str, dict[str, tuple[str, str]]] = {
    "before-major-change": {
        "account": ("Konto / Account", "Kontot som ska ändras (från registret) / the account about to change"),
        "reason": ("Vad ändras? / What changes?", "T.ex. 'ny profilbild', 'byter namn' – sparas i posten"),
        "announced_by": ("Anmäld av / Announced by", "Ditt namn eller din roll"),
        "planned_date": ("Planerat datum / Planned date", "ÅÅÅÅ-MM-DD, när ändringen görs (valfritt)"),
    },
    "semiannual-snapshot": {
        "account_ids": ("Konton / Accounts", "Tomt = alla aktiva konton / empty = every active account"),
        "trigger": ("Utlösare / Trigger", "Varför ögonblicksbilden tas"),
        "reason": ("Skäl / Reason", "Skälet i ord, sparas i posten (valfritt)"),
        "requested_by": ("Begärd av / Requested by", "Vem som begärde den (valfritt)"),
        "register_path": ("Register", "Tomt = det konfigurerade registret"),
        "ask_for_missing": ("Fråga efter saknade siffror / Ask for missing numbers",
                            "Pausa och fråga i UI:t när följare eller inlägg inte kunde läsas"),
        "manual_timeout_s": ("Väntetid för svar (s) / Answer timeout (s)", "Hur länge frågan väntar på svar"),
    },
    "disclose-capture": {
        "capture_id": ("Ögonblicksbild / Capture",
                       "Capture-id, <konto>/<tid>-<utlösare> (`somearkiv captures` listar dem)"),
        "ground": ("Laglig grund / Legal ground",
                   "T.ex. 'OSL 21 kap. 7 §' – stämplas på kopian och sparas i beslutet"),
        "masks": ("Maskera text / Mask text", "Varje förekomst i sidans ord maskeras (namn, telefonnummer, ...)"),
        "regions": ("Maskera område / Mask region", "SIDA:x,y,b,h i bildens pixlar, t.ex. 1:100,200,300,40"),
        "requested_by": ("Förberedd av / Prepared by",
                         "Ditt namn (den som beslutar anger sitt namn i granskningen)"),
        "approval_timeout_s": ("Väntetid för granskning (s) / Review timeout (s)", "Sedan sparas ingenting"),
    },
    "search-archive": {
        "query": ("Sök / Search", 'Ord i valfri böjning (skolan hittar skola, skolor), "nya skolan" som fras, '
                                  'skol* som början av ord, OR, -ord utesluter / words in any form, "phrases", '
                                  'prefix*, OR, -word'),
        "account": ("Konto / Account", "Tomt = alla konton / empty = every account"),
        "start": ("Från / From", "Tagna från och med denna dag (svensk tid) / captured on or after this day"),
        "end": ("Till / To", "Till och med denna dag / up to and including this day"),
        "limit": ("Högst / At most", "Antal träffar som visas, bästa först / hits shown, best first"),
    },
}


def labelled(deployment, form: str, choices: dict[str, list[str]] | None = None):
    """*deployment* with its Run form's labels and descriptions, and fixed choices (e.g. the register's accounts)."""
    return label_form(deployment, FORMS[form], choices)


def served_deployments(settings: Settings, account_ids: list[str] | None = None) -> list:
    """Everything `somearkiv serve` runs in one process.

    account_ids: the register's accounts, offered as choices in the before-change Run form.
    """
    from prefect.deployments.runner import EntrypointType

    from flows.disclosure import disclose_capture
    from flows.disposal import prune_expired
    from flows.doctor import doctor
    from flows.fixity import verify_fixity
    from flows.metrics_check import check_metrics
    from flows.moderation import moderation_overdue
    from flows.publish import publish_register
    from flows.seal import seal_pending
    from flows.search import search_archive
    from flows.snapshot import before_major_change, snapshot_accounts, snapshot_batch
    from flows.watch import watch_accounts
    from tasks.watch.config import read_watch_config

    module = EntrypointType.MODULE_PATH  # runs from any working directory: the flows are installed
    return [
        labelled(snapshot_accounts.to_deployment(
            entrypoint_type=module,
            name="semiannual-snapshot" + SERVE_SUFFIX,
            description="Ögonblicksbild of every active account, twice a year.",
            schedules=[semiannual_schedule(settings.semiannual_cron)],
            parameters={"trigger": "scheduled"},
            tags=["somearkiv"],
        ), "semiannual-snapshot"),
        labelled(before_major_change.to_deployment(
            entrypoint_type=module,
            name="before-major-change" + SERVE_SUFFIX,
            description="Ögonblicksbild inför en stor ändring: välj kontot och skriv vad som ändras. / "
                        "Snapshot of one account before a major change (event or this Run form).",
            triggers=[major_change_trigger()],
            tags=["somearkiv"],
        ), "before-major-change", {"account": sorted(account_ids or [])}),
        snapshot_batch.to_deployment(
            entrypoint_type=module,
            name="snapshot-batch" + SERVE_SUFFIX,
            description="One batch of a round spread over child runs (started by semiannual-snapshot; "
                        "SOMEARKIV_SNAPSHOT_BATCH_SIZE); not run by hand.",
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
        seal_pending.to_deployment(
            entrypoint_type=module,
            name="seal-pending" + SERVE_SUFFIX,
            description="Timestamp (RFC 3161) the captures filed unsealed because no TSA answered, daily; "
                        "fails while any stays unsealed.",
            schedules=[Cron(SEAL_CRON, timezone=TIMEZONE)],
            tags=["somearkiv"],
        ),
        doctor.to_deployment(
            entrypoint_type=module,
            name="doctor" + SERVE_SUFFIX,
            description="Readiness check (somearkiv doctor): Prefect, S3 and the bucket's lock, identities, register, "
                        "metrics, logins, TSA, allow-list, Chromium, disk; fails when the policy's needs are missing.",
            tags=["somearkiv"],
        ),
        labelled(disclose_capture.to_deployment(
            entrypoint_type=module,
            name="disclose-capture" + SERVE_SUFFIX,
            description="Utlämnande med maskning: a masked copy of one capture (texts and regions burnt into the "
                        "pixels, left out of the text), shown for review; filed under disclosures/ when approved.",
            tags=["somearkiv"],
        ), "disclose-capture"),
        watch_accounts.to_deployment(
            entrypoint_type=module,
            name="weekly-watch" + SERVE_SUFFIX,
            description="Veckobevakning: a light capture of each active account whose turn it is "
                        "(config/watch.yaml), compared with the last one; a major change nobody announced keeps "
                        "the state before it, snapshots the new one and emits somearkiv.major-change.detected.",
            schedules=[Cron(read_watch_config().cron, timezone=TIMEZONE)],
            tags=["somearkiv"],
        ),
        labelled(search_archive.to_deployment(
            entrypoint_type=module,
            name="search-archive" + SERVE_SUFFIX,
            description="Sök i arkivet (offentlighetsprincipen): the text of every capture, Swedish stemming, "
                        "phrases and prefixes; the hits with snippets and links are the run's search-results "
                        "artifact.",
            tags=["somearkiv"],
        ), "search-archive"),
        moderation_overdue.to_deployment(
            entrypoint_type=module,
            name="moderation-overdue" + SERVE_SUFFIX,
            description="Moderering: every open moderation case (somearkiv evidence) past 36 hours of the "
                        "policy's 48 raises somearkiv.moderation.overdue, hourly.",
            schedules=[Cron(MODERATION_CRON, timezone=TIMEZONE)],
            tags=["somearkiv"],
        ),
    ]
