"""`somearkiv evidence`: evidence before removal (moderering) and the moderation case's 48-hour clock.

Registered in deployments/cli.py; the helpers of that module are imported when a command runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["evidence_app"]

evidence_app = typer.Typer(no_args_is_help=True, help="Evidence before removal (moderering): capture a reported "
                                                      "comment or post, open a case, confirm it is gone in 48 hours.")


def _account(account_id: str, path: Path | None = None):
    """The registered account and the municipality (a clear error for an unknown id)."""
    from deployments import cli as base

    register = base._configured_register(path)
    found = next((a for a in register.accounts if a.id == account_id), None)
    if found is None:
        raise base._fail(f"unknown account {account_id!r} in {register.source or 'the register'}")
    return found, register.municipality


def _when(moment: dt.datetime | None) -> str:
    from tasks.evidence import STOCKHOLM

    return "-" if moment is None else f"{moment.astimezone(STOCKHOLM):%Y-%m-%d %H:%M} (Swedish time)"


def _kept(value: bool | None) -> str:
    return {True: "kept", False: "EXCEEDED", None: "running"}[value]


@evidence_app.command("capture")
def evidence_capture(
    url: Annotated[str, typer.Argument(help="The post's or comment's own page.")],
    account: Annotated[str, typer.Option("--account", "-a", help="The registered account it is on.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is to be removed (kept in the case only).")],
    reported_at: Annotated[str, typer.Option("--reported-at", help="When it was reported: YYYY-MM-DDTHH:MM "
                                                                   "(Swedish time) or with an offset.")],
    by: Annotated[str, typer.Option("--by", help="Who reported or registers it (kept in the case).")],
    quote: Annotated[str | None, typer.Option("--quote", help="Text the content shows: its absence later proves "
                                                              "removal (kept in the case only).")] = None,
    register: Annotated[Path | None, typer.Option("--register", help="The register; default "
                                                                     "SOMEARKIV_REGISTER_PATH.")] = None,
) -> None:
    """Capture a reported post or comment page as evidence (restricted, under evidence/) and open a
    moderation case for it. Exit 0: opened; 1: the page could not be captured (a wall); 2: a bad request."""
    from deployments import cli as base
    from tasks.capture import PageUnavailableError
    from tasks.evidence import EvidenceError, open_case, parse_reported_at

    reason, by = base._reason(reason, "--reason"), base._reason(by, "--by")
    if quote is not None and not quote.strip():
        raise base._fail("--quote must not be blank")
    found, municipality = _account(account, register)
    now = dt.datetime.now(dt.UTC)
    try:
        reported = parse_reported_at(reported_at, now)
    except EvidenceError as exc:
        raise base._fail(str(exc)) from None
    settings = base._settings()
    writer = base._archive("pipeline")  # files new, locked objects; may not read evidence back
    try:
        case = open_case(writer, settings, found, municipality, url.strip(), reason=reason, reported_at=reported,
                         reported_by=by, quote=quote.strip() if quote else None, now=now)
    except EvidenceError as exc:
        raise base._fail(str(exc), 1 if str(exc).startswith("blocked") else 2) from None
    except PageUnavailableError as exc:
        raise base._fail(f"the page could not be captured: {exc}", 1) from None
    typer.echo(f"opened moderation case {case.case_id}\n    evidence {case.evidence_capture_id} "
               f"at {_when(case.evidence_at)}\n    reported {_when(case.reported_at)}; remove by "
               f"{_when(case.reported_at + dt.timedelta(hours=48))}\n"
               f"    then: somearkiv evidence confirm-removed {case.case_id} --by NAME")


@evidence_app.command("confirm-removed")
def evidence_confirm_removed(
    case_id: Annotated[str, typer.Argument(help="The case id (`somearkiv evidence list`).")],
    by: Annotated[str, typer.Option("--by", help="Who confirms it (kept in the case).")] = "",
    register: Annotated[Path | None, typer.Option("--register", help="The register; default "
                                                                     "SOMEARKIV_REGISTER_PATH.")] = None,
) -> None:
    """Capture the case's page again and record that the content is gone (HTTP 404/410, or the page no
    longer shows the --quote text). Exit 0: recorded; 1: still shown, or a wall (the case is unchanged);
    2: an unknown or closed case."""
    from deployments import cli as base
    from tasks.capture import PageUnavailableError
    from tasks.evidence import EvidenceError, StillShown, case_clock, confirm_removed

    by = base._reason(by, "--by") if by else "somearkiv"
    settings = base._settings()
    reader = base._archive("auditor")
    case = reader.read_case(case_id)
    if case is None:
        raise base._fail(f"no moderation case {case_id!r} (`somearkiv evidence list`)")
    found, municipality = _account(case.account_id, register)
    try:
        removed = confirm_removed(reader, base._archive("pipeline"), settings, found, municipality, case_id, by)
    except StillShown as exc:
        raise base._fail(str(exc), 1) from None
    except EvidenceError as exc:
        raise base._fail(str(exc), 1 if "could not be seen" in str(exc) else 2) from None
    except PageUnavailableError as exc:
        raise base._fail(f"the page could not be captured: {exc}; case {case_id} is unchanged", 1) from None
    clock = case_clock(removed, removed.removed_at or dt.datetime.now(dt.UTC))
    typer.echo(f"removed: case {removed.case_id} ({removed.removal_proof}) at {_when(removed.removed_at)}\n"
               f"    {clock.hours} h after the report; 48-hour limit {_kept(clock.limit_kept)}\n"
               f"    evidence of removal {removed.removal_capture_id}")


def _row(case, now: dt.datetime) -> dict:
    from tasks.evidence import case_clock

    clock = case_clock(case, now)
    return {"case_id": case.case_id, "account": case.account_id, "status": case.status, "url": case.url,
            "reported_at": case.reported_at.isoformat(), "evidence_at": case.evidence_at.isoformat(),
            "removed_at": case.removed_at.isoformat() if case.removed_at else None, "hours": clock.hours,
            "limit_kept": clock.limit_kept, "overdue": clock.overdue,
            "evidence_capture_id": case.evidence_capture_id, "removal_capture_id": case.removal_capture_id,
            "removal_proof": case.removal_proof, "version": case.version}


@evidence_app.command("show")
def evidence_show(
    case_id: Annotated[str, typer.Argument(help="The case id (`somearkiv evidence list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="The case (every version) as JSON.")] = False,
) -> None:
    """One moderation case: reported, evidence, removed, hours taken and whether the 48-hour limit was kept."""
    from deployments import cli as base
    from tasks.evidence import case_clock

    history = base._archive("auditor").case_history(case_id)
    if not history:
        raise base._fail(f"no moderation case {case_id!r} (`somearkiv evidence list`)")
    case, now = history[-1], dt.datetime.now(dt.UTC)
    if as_json:
        typer.echo(json.dumps({**_row(case, now), "versions": [v.model_dump(mode="json") for v in history]},
                              indent=2, ensure_ascii=False))
        return
    clock = case_clock(case, now)
    lines = [f"case         {case.case_id} ({case.status}, version {case.version})",
             f"account      {case.account_id}", f"url          {case.url}", f"reason       {case.reason}",
             f"reported     {_when(case.reported_at)} by {case.reported_by}",
             f"evidence     {_when(case.evidence_at)}: {case.evidence_capture_id}",
             f"removed      {_when(case.removed_at)}"
             + (f" by {case.removed_by}: {case.removal_capture_id} ({case.removal_proof})" if case.removed_at else ""),
             f"hours        {clock.hours}" + ("" if case.removed_at else " (open)"),
             f"48-hour limit {_kept(clock.limit_kept)}" + (" — OVERDUE (past 36 h)" if clock.overdue else "")]
    if case.quote:
        lines.insert(4, f"quote        {case.quote}")
    typer.echo("\n".join(lines))


@evidence_app.command("list")
def evidence_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only cases not yet confirmed removed.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Every moderation case with its clock. Open cases past 36 hours are marked OVERDUE: the hourly
    moderation-overdue deployment raises somearkiv.moderation.overdue for each of them."""
    from deployments import cli as base

    archive = base._archive("auditor")
    now = dt.datetime.now(dt.UTC)
    cases = [c for c in (archive.read_case(i) for i in archive.case_ids()) if c and (c.status == "open" or not open_only)]
    overdue = 0
    for case in cases:
        row = _row(case, now)
        overdue += row["overdue"]
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False))
            continue
        typer.echo(f"{case.case_id:<40} {case.status:<8} reported {_when(case.reported_at)}  evidence "
                   f"{_when(case.evidence_at)}  removed {_when(case.removed_at)}  {row['hours']} h  "
                   f"48 h {_kept(row['limit_kept'])}{'  OVERDUE' if row['overdue'] else ''}")
    if not as_json:
        if not cases:
            typer.echo("no moderation cases" + (" open" if open_only else ""))
        typer.echo(f"{overdue} open case(s) past 36 hours: the hourly moderation-overdue deployment raises "
                   "somearkiv.moderation.overdue for each")
