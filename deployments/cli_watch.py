"""`somearkiv watch`: run the weekly watch now, and show what the watches saw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["watch_app"]

watch_app = typer.Typer(no_args_is_help=True, help="The weekly watch (bevakning): unannounced major changes.")


@watch_app.command("run")
def watch_run(
    account: Annotated[list[str] | None, typer.Option("--account", "-a", help="An account id (repeatable).")] = None,
    all_accounts: Annotated[bool, typer.Option("--all", help="Every active account in the register.")] = False,
    force: Annotated[bool, typer.Option(help="Watch even if the last watch is recent.")] = False,
    register: Annotated[Path | None, typer.Option("--register", help="The register.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="The watch's settings (config/watch.yaml).")] = None,
) -> None:
    """Watch accounts now: light capture, compare, and act on a major change nobody announced."""
    from deployments import cli as base
    from flows.watch import watch_accounts
    from somearkiv.runstate import run_result

    if all_accounts == bool(account):
        raise base._fail("say either --all or --account ID")
    register = register or base._settings().register_path
    known = base._configured_register(register)
    unknown = [a for a in account or [] if a not in {x.id for x in known.accounts}]
    if unknown:
        raise base._fail(f"unknown account(s) in {register}: {', '.join(unknown)}")
    with base._prefect_server():
        state = watch_accounts(account_ids=account or None, register_path=str(register),
                               config_path=str(config) if config else None, force=force, return_state=True)
    outcomes = run_result(state) or []
    for o in outcomes:
        action = ", ".join(x for x in (o.announced and f"announced by {o.announced}",
                                       o.promoted_capture_id and f"kept {o.promoted_capture_id}",
                                       o.snapshot_capture_id and f"snapshot {o.snapshot_capture_id}", o.error) if x)
        typer.echo(f"{o.account_id:<28} {o.status:<8} {o.classification or '-':<15} "
                   f"{'' if o.score is None else o.score:<6} {action}")
    raise typer.Exit(1 if state.is_failed() else 0)


@watch_app.command("show")
def watch_show(
    account: Annotated[str, typer.Argument(help="The account id.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """The account's watches in the archive, oldest first, with what each saw change."""
    from deployments import cli as base

    archive = base._archive("auditor")
    for watch_id in archive.list_watches(account):
        watch = archive.read_watch(watch_id)
        reports = [{"baseline": f"{r.baseline} {r.compared_with}", "score": r.score,
                    "classification": r.classification, "changes": [c.element for c in r.changes]}
                   for r in watch.changes]
        if as_json:
            typer.echo(json.dumps({"watch_id": watch_id, "status": watch.status.value, "changes": reports},
                                  ensure_ascii=False))
            continue
        said = "; ".join(f"{r['classification']} ({r['score']}: {', '.join(r['changes']) or '-'}) vs {r['baseline']}"
                         for r in reports) or "nothing to compare with"
        typer.echo(f"{watch_id}  {watch.status.value}  {said}")
