"""The `somearkiv` command."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from somearkiv.log import configure_logging, console_without_tracebacks
from somearkiv.models import AccountOutcome, CaptureStatus, SnapshotSummary, Trigger
from somearkiv.runstate import run_result
from somearkiv.settings import Settings, SettingsError, UnknownSetting, get_settings
from somearkiv.yamlfile import ConfigError

try:  # newer Typer carries its own copy of click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, NoSuchOption, UsageError
except ImportError:  # pragma: no cover - older Typer on plain click
    from click.exceptions import ClickException, NoArgsIsHelpError, NoSuchOption, UsageError

if TYPE_CHECKING:
    from storage import Archive

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="somearkiv: social media accounts kept as public records (allmänna handlingar).")
register_app = typer.Typer(no_args_is_help=True, help="The account register (förteckning).")
s3_app = typer.Typer(no_args_is_help=True, help="The embedded S3 server (SeaweedFS).")
app.add_typer(register_app, name="register")
metrics_app = typer.Typer(help="Followers and posts in the last month (P4).")
app.add_typer(metrics_app, name="metrics")
ledger_app = typer.Typer(no_args_is_help=True, help="The custody ledger: what was filed and done to it, hash-chained.")
app.add_typer(s3_app, name="s3")
app.add_typer(ledger_app, name="ledger")


RegisterOption = Annotated[Path | None, typer.Option("--register", help="The register; default SOMEARKIV_REGISTER_PATH.")]


def _date(value: str | None, option: str) -> dt.date | None:
    """A YYYY-MM-DD option's date (None when not given); a clear error otherwise."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None


MAX_REASON = 2000  # characters: a reason, a ground, a name is a sentence or two
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe(c: str) -> bool:
    """A character that breaks a printed line or reorders it on screen: C0/C1 controls, bidi overrides."""
    return ord(c) < 32 or 127 <= ord(c) < 160 or c in _BIDI_CONTROLS


def _reason(value: str, option: str = "--reason") -> str:
    """Text for the records (a reason, a ground, who decided): one line of words. Blank text, control
    characters and line breaks (which would forge lines in the audit trail as printed) and text
    that reorders itself on screen are refused."""
    text = value.strip()
    what = "say who (a name or a role)" if option in ("--by", "--as") else "say why, in words"
    if text and any(map(_unsafe, text)):
        raise _fail(f"{option} may not hold line breaks or control characters: write it as one line of text")
    if not any(c.isalnum() for c in text):  # blank, or only marks and invisible characters (a zero-width space)
        raise _fail(f"{option} must {what} (it is kept in the records)")
    if len(text) > MAX_REASON:
        raise _fail(f"{option} is {len(text)} characters: at most {MAX_REASON} (say the rest in the case file)")
    return text


def _who(by: str | None) -> str | None:
    """--by, when given: who decided or asked, checked like a reason."""
    return None if by is None else _reason(by, "--by")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(_printable(message), err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _printable(text: str) -> str:
    """An error line as the terminal should show it: a control or bidi character that came in with a
    key or a path is written as an escape, so it cannot break the line or hide what follows."""
    if not any(map(_unsafe, text)):
        return text
    return "".join(c.encode("unicode_escape").decode("ascii") if _unsafe(c) else c for c in text)


def _settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic's message names the variable or the TOML key
        raise _fail(f"configuration error: {exc}") from None


def _nothing_for(what: str, account: str | None, err: bool = False) -> None:
    """Say that a listing is empty and, when an account was named, whether the register knows it at
    all: a mistyped id is the usual reason, and without this the command printed nothing."""
    line = what + (f" for {_printable(account)}" if account else "")
    if account and not _known_account(account):
        line += f"; {_printable(account)} is not in the register either (its ids: somearkiv register check)"
    typer.echo(line, err=err)


def _known_account(account: str) -> bool:
    """Whether the configured register lists the account (open or closed); True when it cannot be read,
    so that a missing register never makes a real account look unknown."""
    from tasks.register import read_register

    try:
        return any(a.id == account for a in read_register(_settings().register_path).accounts)
    except (ConfigError, OSError, ValueError, typer.Exit):
        return True


# -- register ---------------------------------------------------------------------------------


def _configured_register(path: Path | None):
    """The register (default SOMEARKIV_REGISTER_PATH), checked against the configured retention classes;
    a broken one ends the command with its problems."""
    from tasks.register import read_register
    from tasks.retention import read_retention_schedule

    settings = _settings()
    try:
        return read_register(path or settings.register_path, read_retention_schedule(settings.retention_config).ids)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


@register_app.command("check")
def register_check(path: Annotated[Path, typer.Argument(help="The register file, e.g. accounts.yaml.")]) -> None:
    """Validate a register (and its retention classes) without capturing anything.

    Exit status 0: valid (a start page the browser's egress guard would refuse is a warning); 2: each
    problem listed, one a line with file and line (a bad register is a usage error, as for every command
    that reads one)."""
    from tasks.register import read_register, start_pages_refused
    from tasks.retention import read_retention_schedule

    settings = _settings()
    try:
        schedule = read_retention_schedule(settings.retention_config)
        register = read_register(path, schedule.ids)
    except ConfigError as exc:
        for problem in exc.problems:  # a key or a path from the file: printed so it cannot forge a line
            typer.secho(_printable(str(problem)), err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(f"{path}: OK, {len(register.accounts)} accounts ({len(register.active)} active) "
               f"for {register.municipality}")
    for account, why in start_pages_refused(register, settings.allowed_hosts):  # valid, but not capturable here
        typer.secho(_printable(f"warning: {account.id} ({account.url}): {why}: the browser will refuse its start "
                               "page unless SOMEARKIV_ALLOWED_HOSTS allows it"), err=True, fg=typer.colors.YELLOW)


@register_app.command("publish")
def register_publish(
    out: Annotated[Path, typer.Option("--out", help="Folder to write index.html and accounts.json to.")],
    register: RegisterOption = None,
) -> None:
    """Write the public list (förteckning) as accessible HTML and JSON, for the municipality's website."""
    from tasks.forteckning import write_forteckning

    for path in write_forteckning(_configured_register(register), out):
        typer.echo(f"wrote {path}")


@register_app.command("close")
def register_close(
    account: Annotated[str, typer.Argument(help="The account to close.")],
    date: Annotated[str, typer.Option("--date", help="The closing date (YYYY-MM-DD).")],
    reason: Annotated[str, typer.Option(help="Why, e.g. 'inaktivt sedan mars'.")] = "kontot stängs / account closed",
    by: Annotated[str | None, typer.Option("--by", help="Who decided.")] = None,
    register: RegisterOption = None,
) -> None:
    """Take the final capture (trigger before-close), then mark the account closed in the register."""
    from tasks.register import close_in_file

    reason, by = _reason(reason), _who(by)
    path = register or _settings().register_path
    day = _date(date, "--date")
    summary = _run_snapshot([account], path, Trigger.before_close, reason, by)
    _print_summary(summary, _ui_url())
    if summary.failed or summary.blocked:
        raise _fail(f"the final capture of {account} did not succeed; {path} is unchanged", 1)
    close_in_file(path, account, day)
    typer.echo(f"{path}: {account} marked closed on {day}. Publish the list again: "
               f"somearkiv register publish --out DIR (or the publish-register deployment)")


# -- snapshot ---------------------------------------------------------------------------------


def _filed_keys(archive: Archive | None, outcome: AccountOutcome) -> Sequence[str]:
    """Every key in the capture's folder as the archive lists it now (manifest and token included);
    the flow's own list if the archive cannot be asked."""
    if archive is None or not outcome.capture_id:
        return outcome.object_keys
    try:
        return archive.capture_keys(outcome.capture_id, outcome.status) or outcome.object_keys
    except Exception:  # noqa: BLE001 - the summary is printed either way
        return outcome.object_keys


def _print_summary(summary: SnapshotSummary, ui_url: str | None) -> None:
    try:
        archive = _archive()
    except Exception:  # noqa: BLE001 - the summary is printed either way
        archive = None
    for outcome in summary.outcomes:
        if outcome.status is CaptureStatus.captured:
            typer.secho(f"✔ {outcome.account_id} ({outcome.platform.value}): {outcome.capture_id}", fg=typer.colors.GREEN)
            for key in _filed_keys(archive, outcome):
                typer.echo(f"    s3://{summary.bucket}/{key}")
            if outcome.pdfa == "failed":
                typer.secho("    no archival PDF: the PDF/A conversion failed (its PNGs and print PDF are filed; "
                            "why is in the record's pdfa.findings)", fg=typer.colors.RED)
            else:
                typer.echo(f"    local PDF/A copy: {Path(outcome.local_folder or '.') / 'startpage.pdf'}")
        elif outcome.status is CaptureStatus.blocked:
            typer.secho(f"⚠ {outcome.account_id} ({outcome.platform.value}): BLOCKED, not an ögonblicksbild: "
                        f"{outcome.error}", fg=typer.colors.YELLOW)
            for key in _filed_keys(archive, outcome):
                typer.echo(f"    evidence: s3://{summary.bucket}/{key}")
        else:
            typer.secho(f"✘ {outcome.account_id} ({outcome.platform.value}): failed at {outcome.failed_stage}: "
                        f"{outcome.error}", fg=typer.colors.RED)
    typer.echo(f"{len(summary.captured)} captured, {len(summary.blocked)} blocked, {len(summary.failed)} failed; "
               f"flow run {summary.flow_run_id}")
    if ui_url and summary.flow_run_id:
        typer.echo(f"Prefect UI: {ui_url}/runs/flow-run/{summary.flow_run_id}")


def _run_snapshot(account_ids: list[str] | None, register: Path, trigger: Trigger, reason: str | None,
                  requested_by: str | None) -> SnapshotSummary:
    from flows.snapshot import snapshot_accounts

    known = _configured_register(register)  # refuse a broken register or unknown account before any run
    unknown = [a for a in account_ids or [] if a not in {x.id for x in known.accounts}]
    if unknown:
        raise _fail(f"unknown account(s) in {register}: {', '.join(unknown)}")
    from prefect.settings import temporary_settings

    from deployments.cli_runs import (
        as_cli_run,
        forget_unsent_to_prefect,
        mark_orphans_crashed,
        quick_client_settings,
        server_unreachable,
    )

    started = dt.datetime.now(dt.UTC)
    began = False
    with _prefect_server(), temporary_settings(updates=quick_client_settings()):
        try:
            for name in mark_orphans_crashed():
                typer.echo(f"marked the run {name} crashed: the command that ran it is gone", err=True)
            began = True  # the server answered: from here on a lost server is lost during the run
            with as_cli_run():
                state = snapshot_accounts(account_ids=account_ids, trigger=trigger, reason=reason,
                                          requested_by=requested_by, register_path=str(register), return_state=True)
        except Exception as exc:
            if _one_line(exc)[0] != EXIT_PREFECT:
                raise
            if server_unreachable(exc):  # (a live server that answered with an error still gets the run's logs)
                forget_unsent_to_prefect()  # else the exit waits on them, retried against a server that is gone
            if not began:
                raise _fail(f"{_one_line(exc)[1]}; nothing was started", EXIT_PREFECT) from None
            filed = _safely_filed_since(started)
            so_far = ("the captures filed so far could not be listed (`somearkiv captures` lists them)" if filed is None
                      else f"filed so far: {', '.join(filed)}" if filed else "nothing was filed")
            raise _fail(f"the Prefect server went away during the run ({_one_line(exc)[1]}); {so_far}"
                        "; run it again for the rest (the next run marks this one crashed)", EXIT_PREFECT) from None
    result = run_result(state)
    if not isinstance(result, SnapshotSummary):
        raise _fail(f"the snapshot run failed: {state.message or result}", 1)
    return result


@app.command()
def snapshot(
    all_accounts: Annotated[bool, typer.Option("--all", help="Every active account in the register.")] = False,
    account: Annotated[list[str] | None, typer.Option("--account", "-a", help="An account id (repeatable).")] = None,
    register: RegisterOption = None,
    trigger: Annotated[Trigger, typer.Option(help="Why the capture is taken.")] = Trigger.manual,
    reason: Annotated[str | None, typer.Option(help="The reason in words, kept in the record.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who asked for it.")] = None,
) -> None:
    """Take an ögonblicksbild of accounts now: capture, PDF/A, file in S3 with retention."""
    if all_accounts == bool(account):
        raise _fail("say either --all or --account ID")
    summary = _run_snapshot(account, register or _settings().register_path, trigger,
                            None if reason is None else _reason(reason), _who(by))
    _print_summary(summary, _ui_url())
    raise typer.Exit(1 if summary.failed or summary.blocked else 0)


def _ui_url() -> str | None:
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    api = PREFECT_API_URL.value()
    return PREFECT_UI_URL.value() or (api.removesuffix("/api") if api else None)


# -- the archive ------------------------------------------------------------------------------


def _archive(role: str = "pipeline"):
    """The archive as *role*: reading commands use the auditor, holds the archivist.

    With the embedded default, a server that is not running is started, and left running for
    the next commands: said on stderr, so that no one wonders what listens on those ports."""
    from storage import Archive

    settings = _settings()
    server = _embedded() if settings.use_embedded_s3 else None
    was_down = server is not None and not server.is_running()
    archive = Archive.from_settings(settings, role=role)  # starts the embedded server when it is down
    if was_down:
        typer.echo(f"started the embedded S3 server (SeaweedFS, {server.endpoint_url}); it keeps running for "
                   "the next commands, `somearkiv down` stops it", err=True)
    return archive


@app.command()
def captures(
    account: Annotated[str | None, typer.Option("--account", "-a", help="Only this account.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON records.")] = False,
) -> None:
    """List archived captures: key, account, time, trigger, retention, files."""
    from storage.ledger import custody
    from tasks.timestamp import describe_seal, seal_states

    archive = _archive("auditor")
    entries, _problems = archive.ledger.verify(fresh=False)  # read once: custody and seals
    state, seals = custody(entries), seal_states(entries)
    records = archive.list_captures(account, state=state)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in records], indent=2, ensure_ascii=False))
        if not records:
            _nothing_for("no captures filed", account, err=True)
        return
    if not records:
        _nothing_for("no captures filed", account)
        return
    for r in records:
        lock = r.lock
        filed = state[r.capture_id].record_object  # the record as filed; its hold as it is now
        hold = "legal hold" if archive.head(filed.key, filed.version_id).legal_hold else "no hold"
        until = f"{lock.mode.value} until {lock.retain_until:%Y-%m-%d}" if lock else "no lock"
        typer.echo(f"{r.record_key}\n    account={r.account.id} platform={r.account.platform.value} "
                   f"captured={r.started_at:%Y-%m-%d %H:%M:%S}Z trigger={r.trigger.value} "
                   f"class={r.retention_class} ({until}, {hold}) pdfa={r.pdfa.conformance if r.pdfa else '-'}")
        typer.echo(f"    timestamp: {describe_seal(seals.get(r.capture_id), archive.read)}")
        for f in r.files:
            typer.echo(f"    {f.name:15} {f.size:>10} B  sha256={f.sha256[:16]}…  {f.key}")


@app.command()
def get(
    key: Annotated[str, typer.Argument(help="The object key, e.g. captures/<account>/<time>-<trigger>/startpage.pdf")],
    output: Annotated[str, typer.Option("--output", "-o", help="Where to write the file: a file, a folder (existing, "
                                        "or ending in '/': the object's own name is used there), or '-' for "
                                        "standard output.")],
    version_id: Annotated[str | None, typer.Option(help="A specific version.")] = None,
) -> None:
    """Download one archived object, checking its SHA-256 against the one it was filed with.

    -o may name a file, a folder (an existing one, or one ending in '/', which is made; the object's
    own name is used there), or '-': the verified bytes on standard output, the check's line on
    standard error. An existing file is replaced only once the download is verified.
    """
    import shutil
    import tempfile

    from storage import ArchiveError, FixityError

    if not key.strip() or key.endswith("/"):
        raise _fail(f"{key!r} is not an object's key: name one object (`somearkiv captures` lists them)")
    if not output.strip():
        raise _fail("-o names nothing: give a file, a folder, or '-' for standard output")
    name = key.rsplit("/", 1)[-1]
    with tempfile.TemporaryDirectory(prefix="somearkiv-get-") if output == "-" else contextlib.nullcontext() as held:
        path = Path(held) / name if held else Path(output)
        if not held and (output.endswith(("/", os.sep)) or path.is_dir()):
            path = path / name
        if path.exists() and not path.is_file():
            raise _fail(f"{path} exists and is not a regular file: choose another -o", 7)
        archive = _archive("auditor")
        try:
            info = archive.download(key, path, version_id)
        except OSError as exc:
            raise _fail(f"cannot write {path}: {exc.strerror or exc} (choose another -o)", 7) from None
        except FixityError as exc:
            raise _fail(f"FIXITY ERROR: {exc}", 3) from None
        except ArchiveError as exc:
            raise _fail(str(exc)) from None
        if held:  # verified first, then written out whole
            with path.open("rb") as verified:
                shutil.copyfileobj(verified, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    typer.echo(f"{'standard output' if held else path}: {info.size} bytes, sha256 {info.sha256} verified",
               err=bool(held))


@metrics_app.callback(invoke_without_command=True)
def metrics(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", "-a", help="Only this account.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    as_csv: Annotated[bool, typer.Option("--csv", help="Same as --format csv.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Followers and posts in the last month, capture by capture, from the archive (P4).

    `somearkiv metrics check` reads them now instead, to test the set-up."""
    if ctx.invoked_subcommand is not None:
        return
    import csv

    if as_csv and as_json:
        raise _fail("--csv and --json: choose one")
    fmt = "csv" if as_csv else "json" if as_json else fmt
    if fmt not in ("table", "csv", "json"):
        raise _fail(f"--format {fmt!r}: use table, csv or json")
    from tasks.review import metrics_rows

    rows = metrics_rows(_archive("auditor").list_captures(account))
    if not rows:
        _nothing_for("no metrics recorded", account, err=fmt != "table")
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["account"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        for row in rows:
            shown = {k: ("okänt" if v is None else v) for k, v in row.items()}
            typer.echo(f"{shown['captured_at'][:16]}  {shown['account']:28} följare {shown['followers']!s:>8} "
                       f"({shown['followers_source']})  inlägg {shown['posts_last_month']!s:>4} "
                       f"({shown['posts_source']})  {shown['trigger']}")


@metrics_app.command("check")
def metrics_check(
    account: Annotated[str | None, typer.Option("--account", "-a", help="Only this account.")] = None,
    register: RegisterOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read followers and posts of each active account now (the platforms' APIs; no archiving).

    Prints the source, the window, pages read and any error in plain words; exit 1 when an account
    whose API credential is set cannot be read. Accounts without an API are read from the page at
    capture time, and the table says so.
    """
    from tasks.metrics.check import check_accounts, format_checks
    from tasks.register import select_accounts

    known = _configured_register(register)
    if account and account not in {a.id for a in known.accounts}:
        raise _fail(f"unknown account {account!r} in {known.source}")
    checks = check_accounts(select_accounts(known, [account] if account else None),
                            window_kind=_settings().metrics_window)
    if as_json:
        typer.echo(json.dumps([c.model_dump() for c in checks], indent=2, ensure_ascii=False))
    else:
        typer.echo(format_checks(checks))
    failed = [c.account_id for c in checks if c.failed]
    if failed:
        typer.secho(f"{len(failed)} account(s) with API credentials could not be read: {', '.join(failed)}",
                    err=True, fg=typer.colors.RED)
        raise typer.Exit(1)


@app.command()
def verify(
    target: Annotated[str, typer.Argument(help="A local PDF file, or an archived object's key.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a PDF against PDF/A-2b (pikepdf's rules and the byte-level ones), and an archived one's custody.

    For an archived key: the version the custody ledger says was filed is read and hashed, its lock
    and the key's history checked (see `somearkiv fixity`), the manifest and timestamp verified.
    Exit status: 0 valid (checked completely) and intact, 1 not valid PDF/A, 3 custody or fixity
    problem, 4 no violation found but some points could not be checked (listed in the report).
    """
    from storage import ArchiveError
    from tasks.pdfcheck import check_pdf, format_report
    from tasks.pdfcheck.ceiling import CHECK_MEMORY_BUDGET
    from tasks.verification import check_archived, exit_code

    custody = None
    local = Path(target)
    if not target.strip() or (target.endswith("/") and not local.exists()):  # Path("") is "."
        raise _fail(f"{target!r} is neither a file nor an object's key: name one (`somearkiv captures` lists them)")
    if local.is_file():
        try:
            report = check_pdf(local, max_memory=CHECK_MEMORY_BUDGET)
        except OSError as exc:  # /proc/self/mem is a "regular file" that cannot be read
            raise _fail(f"{target!r} cannot be read ({exc.strerror or exc}): verify reads a PDF file, "
                        "or an archived object's key", EXIT_FILE) from None
    elif local.exists() or local.is_symlink():
        raise _fail(f"{target!r} is not a regular file: verify reads a PDF file, or an archived object's key", 7)
    elif "/" not in target or target.startswith(("/", "./", "../", "~")):  # an archive's keys are never these
        raise _fail(f"{target!r}: no such file (an archived object's key looks like "
                    "captures/<account>/<time>-<trigger>/startpage.pdf: `somearkiv captures` lists them)", EXIT_FILE)
    else:
        settings = _settings()
        try:
            custody, report = check_archived(_archive("auditor"), target, settings.tsa_ca_file, CHECK_MEMORY_BUDGET)
        except ArchiveError as exc:
            raise _fail(str(exc)) from None
        if custody.custody[0].status == "absent":
            raise _fail(f"{target!r}: no such file here, and nothing was filed under that key in the archive "
                        "(`somearkiv captures` lists the keys)", 7)
    if as_json:
        typer.echo(json.dumps({"pdf": report.as_dict() if report else None,
                               "fixity": custody.model_dump(mode="json") if custody else {}},
                              indent=2, ensure_ascii=False))
    else:
        if report is not None:
            typer.echo(format_report(report))
        if custody is not None:
            typer.echo(f"fixity: stored bytes {custody.stored} (ledgered version {custody.version_id}, "
                       f"sha256 {custody.sha256}), capture record {custody.record}")
            for finding in custody.problems:
                typer.echo(f"  {finding.status:12} {finding.key} {finding.detail or ''}")
            typer.echo(f"timestamp: {custody.timestamp}")
    raise typer.Exit(exit_code(custody, report))


@app.command("export-sip")
def export_sip_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for the packages.")],
    account: Annotated[str | None, typer.Option("--account", "-a", help="Only this account.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Captures from this date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="... up to, not including, this date.")] = None,
    zip_package: Annotated[bool, typer.Option("--zip", help="Also pack each package as ZIP.")] = False,
) -> None:
    """Hand over to the e-archive: one validated E-ARK SIP (CSIP 2.1, METS + PREMIS) per account and period."""

    from flows.export import export_sip
    from tasks.sip import load_profile

    begin, until = _date(start, "--from"), _date(end, "--to")
    if begin and until and until <= begin:
        raise _fail(f"--to {until} is not after --from {begin} (--to is the first day left out)")
    if out.exists() and not out.is_dir():
        raise _fail(f"{out} exists and is not a folder: choose another --out", 7)
    settings = _settings()
    try:  # read before a flow run is started, so a broken profile is one line
        load_profile(settings.sip_profile)
    except (ConfigError, ValueError, OSError) as exc:
        raise _fail(f"the SIP profile (SOMEARKIV_SIP_PROFILE): {' '.join(str(exc).split())}") from None
    with _prefect_server():
        state = export_sip(out_dir=str(out), account_id=account, start=begin, end=until, zip_package=zip_package,
                           return_state=True)
    results = state.result(raise_on_failure=False)
    if not state.is_completed():
        raise _fail(f"export failed: {state.message}", 1)
    for r in results:
        typer.echo(f"{r['account']}: {r['captures']} captures → {r['package'] or 'nothing in the period'}")
    if not results:
        _nothing_for("no captures to export", account)


@app.command()
def hold(
    target: Annotated[str, typer.Argument(help="An account id, a capture id (<account>/<time>-<trigger>) or a key.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")],
    release: Annotated[bool, typer.Option("--release", help="Lift the hold instead of placing it.")] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who decides.")] = None,
) -> None:
    """Place (or lift) a legal hold on whole captures: nothing held can be disposed of."""
    from tasks.holds import HoldRefused, set_hold
    from tasks.retention import read_retention_schedule

    reason, by = _reason(reason), _who(by)
    settings = _settings()
    archive = _archive("archivist")
    records = archive.captures_named(target)
    if not records:
        raise _fail(f"no filed capture matches {target!r}")
    schedule = read_retention_schedule(settings.retention_config)
    failed = False
    for record in records:
        try:
            count = set_hold(archive, schedule, record, not release, reason, by)
            typer.echo(f"{'released' if release else 'held'}: {record.capture_id} ({count} objects)")
        except HoldRefused as exc:
            typer.secho(f"refused: {exc}", err=True, fg=typer.colors.RED)
            failed = True
    raise typer.Exit(1 if failed else 0)


@app.command()
def fixity(
    account: Annotated[str | None, typer.Option("--account", "-a", help="Only this account.")] = None,
    sample: Annotated[float, typer.Option(help="Share to check (1 = all; 0.25 = a rotating quarter).")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print every problem as JSON.")] = False,
) -> None:
    """Check every filed version against the custody ledger now (the verify-fixity flow).

    Reports missing, mismatch, unlocked, hidden, forged, orphan, broken-chain and error findings;
    exit 3 when there is any.
    """
    from flows.fixity import verify_fixity

    if not 0 < sample <= 1:  # also NaN
        raise _fail(f"--sample {sample:g}: give a share above 0 and at most 1 (1 = every capture, 0.25 = a rotating "
                    "quarter)")
    with _prefect_server():
        state = verify_fixity(sample_share=sample, account_id=account, return_state=True)
    problems = run_result(state)
    problems = problems if isinstance(problems, list) else []
    if as_json:
        typer.echo(json.dumps({"ok": not state.is_failed(), "message": state.message,  # one line: after the logs
                               "problems": [p.model_dump(mode="json") for p in problems]}))
    if state.is_failed():
        if not as_json:
            typer.secho(state.message or "fixity check failed", err=True, fg=typer.colors.RED)
            for p in problems:
                typer.echo(f"  {p.status:12} {p.key} (version {p.version_id}) {p.detail or ''}")
        raise typer.Exit(3)
    if not as_json:
        typer.echo(state.message)


@ledger_app.command("verify")
def ledger_verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Recompute the custody ledger's hash chain; exit 3 if any entry was altered, hidden or removed."""
    archive = _archive("auditor")
    entries, problems = archive.ledger.verify()
    if as_json:
        typer.echo(json.dumps({"entries": len(entries), "head": entries[-1].hash if entries else None,
                               "problems": [p.model_dump(mode="json") for p in problems]}, indent=2))
    else:
        for p in problems:
            typer.secho(f"  {p.status:12} {p.key} {p.detail or ''}", fg=typer.colors.RED)
        head = f", head {entries[-1].hash}" if entries else ""
        typer.echo(f"ledger: {len(entries)} entries{head}: " + ("chain intact" if not problems else
                                                                 f"{len(problems)} problem(s)"))
    raise typer.Exit(3 if problems else 0)


@ledger_app.command("show")
def ledger_show(
    capture: Annotated[str | None, typer.Option("--capture", "-c", help="Only entries about this capture id.")] = None,
) -> None:
    """The ledger's entries as JSON lines."""
    entries, _problems = _archive("auditor").ledger.verify()
    for entry in entries:
        if capture is None or entry.capture_id == capture:
            typer.echo(entry.model_dump_json())


@app.command()
def audit(
    account: Annotated[str | None, typer.Option("--account", "-a", help="Only this account.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """The audit trail: captures, holds, releases, fixity checks, disposal reviews and deletions."""
    shown = 0
    for event in _archive("auditor").read_audit():
        if account and event.account_id != account:
            continue
        shown += 1
        if as_json:
            typer.echo(event.model_dump_json())
        else:
            people = ", ".join(a.removeprefix("person:") for a in event.agents if a.startswith("person:"))
            typer.echo(f"{event.event_datetime:%Y-%m-%d %H:%M:%S}Z {event.event_type:17} {event.outcome:8} "
                       f"{event.detail}" + (f" [{people}]" if people else ""))
    if not shown:
        _nothing_for("no audit events", account, err=as_json)


# -- services ---------------------------------------------------------------------------------


def _embedded():
    from storage import EmbeddedS3

    settings = _settings()
    return EmbeddedS3(settings.data_dir / "seaweedfs", settings.s3_embedded_port)


@s3_app.command("start")
def s3_start() -> None:
    """Start the embedded S3 server (reused if it runs)."""
    server = _embedded()
    started = server.start()
    typer.echo(f"{'started' if started else 'already running'}: {server.endpoint_url}")


@s3_app.command("stop")
def s3_stop() -> None:
    """Stop the embedded S3 server."""
    typer.echo("stopped" if _embedded().stop() else "not running")


@s3_app.command("status")
def s3_status() -> None:
    server = _embedded()
    typer.echo(f"{'running' if server.is_running() else 'not running'}: {server.endpoint_url}")


@s3_app.command("restart")
def s3_restart() -> None:
    """Stop and start the embedded S3 server (after a full disk it answers InternalError until restarted)."""
    server = _embedded()
    server.stop()
    server.start()
    typer.echo(f"restarted: {server.endpoint_url}")


@s3_app.command("credentials")
def s3_credentials(
    role: Annotated[str, typer.Option("--role", help="pipeline, archivist or auditor.")] = "pipeline",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The embedded S3 server's credentials for one role (see README, 'Identities')."""
    from storage import ROLES

    if role not in ROLES:
        raise _fail(f"--role must be one of {', '.join(ROLES)}")
    settings = _settings()
    if not settings.use_embedded_s3:
        raise _fail("an external S3 service is configured: its credentials come from your AWS profiles")
    server = _embedded()
    key, secret = server.credentials(role)
    found = {"endpoint_url": server.endpoint_url, "access_key_id": key, "secret_access_key": secret,
             "bucket": settings.s3_bucket, "role": role}
    if as_json:
        typer.echo(json.dumps(found, indent=2))
    else:
        typer.echo("\n".join(f"{k}: {v}" for k, v in found.items()))


def _local_prefect():
    from deployments.prefect_server import LocalPrefectServer

    settings = _settings()
    return LocalPrefectServer(settings.data_dir / "prefect", settings.prefect_port)


@app.command()
def demo(
    sample_port: Annotated[int, typer.Option(help="Port for the sample pages (the demo register uses 8791).")] = 8791,
) -> None:
    """Run the whole pipeline on one machine: embedded S3, local Prefect server, bundled sample pages."""
    import os

    from prefect.settings import (
        PREFECT_API_AUTH_STRING,
        PREFECT_API_URL,
        PREFECT_UI_URL,
        temporary_settings,
    )

    from deployments.sample_site import SampleSite
    from somearkiv.settings import PROJECT_ROOT

    # The sample pages live on 127.0.0.1, which the egress guard refuses unless allowed: exactly
    # their server's port is allowed, nothing else on this machine.
    os.environ.setdefault("SOMEARKIV_ALLOWED_HOSTS", json.dumps([f"127.0.0.1:{sample_port}"]))
    os.environ.setdefault("SOMEARKIV_METRICS_API", "false")  # offline: counts come from the sample pages
    demo_tsa = _demo_tsa()  # sealed by default: a local TSA with a throwaway CA unless one is configured
    get_settings.cache_clear()
    server = _local_prefect()
    typer.echo("starting the embedded S3 server (SeaweedFS) …")
    _embedded().start()
    typer.echo(f"starting the Prefect server on {server.url} (SQLite, {server.home}) …")
    server.start()
    register = PROJECT_ROOT / "samples" / "accounts.yaml"
    os.environ.update(server.client_environment())
    with SampleSite(port=sample_port) as site, temporary_settings(
        updates={PREFECT_API_URL: server.api_url, PREFECT_UI_URL: server.url,
                 PREFECT_API_AUTH_STRING: server.auth_string}
    ):
        typer.echo(f"serving the sample start pages on {site.url}; capturing every account of {register} …")
        summary = _run_snapshot(None, register, Trigger.manual, "demo run", "somearkiv demo")
        _embedded().tighten()  # the volumes SeaweedFS created while filing
        _print_summary(summary, server.url)
    if demo_tsa is not None:
        demo_tsa.stop()
        typer.secho(f"timestamps: {len(demo_tsa.requests)} from the DEMO TSA – NOT TRUSTWORTHY (a throwaway CA on "
                    "this machine; every seal.json and audit event says so). Check one with\n"
                    f"  SOMEARKIV_TSA_CA_FILE={demo_tsa.ca_file} .venv/bin/somearkiv verify KEY",
                    fg=typer.colors.YELLOW)
    typer.echo("\nThe S3 server and the Prefect server keep running so you can look around:\n"
               "  .venv/bin/somearkiv captures            list what is archived\n"
               "  .venv/bin/somearkiv get KEY -o FILE     fetch a file, checking its SHA-256\n"
               "  .venv/bin/somearkiv down                stop both servers")
    raise typer.Exit(1 if summary.failed else 0)


def _demo_tsa():
    """The demo's TSA when none is configured: deployments/tsa.py on 127.0.0.1, its CA a throwaway one in
    the data dir. NOT trustworthy, and labelled so in its tokens (policy), seal.json, the ledger and the audit."""
    from deployments.tsa import LocalTsa, demo_pki

    settings = _settings()
    if settings.tsa_url or "SOMEARKIV_TSA_URL" in os.environ:
        return None
    pki, ca_file = demo_pki(settings.data_dir.resolve() / "demo-tsa")
    tsa = LocalTsa(pki, ca_file=ca_file).start()
    os.environ["SOMEARKIV_TSA_URL"] = tsa.url
    os.environ["SOMEARKIV_TSA_CA_FILE"] = str(ca_file)
    typer.secho(f"timestamps: a DEMO TSA on {tsa.url} with a throwaway CA ({ca_file}) – NOT TRUSTWORTHY; "
                "set SOMEARKIV_TSA_URL for a real one", fg=typer.colors.YELLOW)
    return tsa


@app.command()
def serve() -> None:
    """Run everything on one machine until Ctrl-C: Prefect server (SQLite), embedded S3, all deployments.

    With PREFECT_API_URL set, that Prefect server is used instead of a local one.
    """
    import os
    import signal

    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL

    from deployments.definitions import served_deployments

    settings = _settings()
    if not settings.tsa_url:  # the archive contacts no service it was not told to: say what is missing
        from tasks.timestamp import PUBLIC_TSA_URL

        typer.secho(f"WARNING: no timestamp authority (SOMEARKIV_TSA_URL): captures are filed UNSEALED and every "
                    f"run says so. Set your TSA, e.g. SOMEARKIV_TSA_URL={PUBLIC_TSA_URL} (free, not qualified; "
                    "only each manifest's SHA-256 is sent), then seal-pending seals what was filed meanwhile.",
                    err=True, fg=typer.colors.YELLOW)
    started_s3 = settings.use_embedded_s3 and _embedded().start()
    server, started_prefect = None, False
    api = PREFECT_API_URL.value()
    if not api:
        server = _local_prefect()
        typer.echo(f"starting the Prefect server on {server.url} (SQLite, {server.home}) …")
        started_prefect = server.start()
        api = server.api_url
        os.environ.update(server.client_environment())  # also for the flow-run processes the runner starts
    os.environ["PREFECT_API_URL"] = api  # also for the flow-run processes the runner starts
    get_settings.cache_clear()

    def _terminate(*_args: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)  # also when started in the background, where SIGINT is ignored
    from prefect.settings import PREFECT_API_AUTH_STRING as _auth
    from prefect.settings import PREFECT_API_URL as _api
    from prefect.settings import temporary_settings

    with temporary_settings(updates={_api: api, _auth: os.environ.get("PREFECT_API_AUTH_STRING")}):
        typer.echo(f"Prefect UI: {api.removesuffix('/api')}  (Ctrl-C stops everything this command started)")
        if server is not None and server.auth:
            typer.echo(f"  log in with the password in {server.auth_file} (user somearkiv; `cat` it)")
        try:
            prefect_serve(*served_deployments(settings, _register_ids()), pause_on_shutdown=False)
        except KeyboardInterrupt:
            pass
        finally:
            if started_s3:
                _embedded().stop()
            if started_prefect and server is not None:
                server.stop()
            typer.echo("stopped")


def _register_ids() -> list[str]:
    """The register's account ids for the Run forms (none, with a warning, when it cannot be read)."""
    try:
        return [a.id for a in _configured_register(None).accounts]
    except typer.Exit:
        typer.secho("the register could not be read: the before-change form takes any account id", err=True,
                    fg=typer.colors.YELLOW)
        return []


@contextmanager
def _prefect_server() -> Iterator[None]:
    """Run a flow against a real Prefect server: PREFECT_API_URL's, else this machine's local one (started
    if needed, as `demo` and `serve` keep it), never Prefect's temporary in-process server, which costs
    12-25 s on every command and keeps no history the UI could show."""
    from prefect.settings import (
        PREFECT_API_AUTH_STRING,
        PREFECT_API_URL,
        temporary_settings,
    )

    if not _DEBUG:
        import prefect.main  # noqa: F401 - sets up Prefect's logging (once), whose terminal handlers are changed here

        console_without_tracebacks()
    if PREFECT_API_URL.value():
        yield
        return
    server = _local_prefect()
    if server.start():
        typer.echo(f"started the local Prefect server on {server.url} (it keeps running; `somearkiv down` stops it)",
                   err=True)
    os.environ.update(server.client_environment())  # for anything this command starts
    with temporary_settings(updates={PREFECT_API_URL: server.api_url, PREFECT_API_AUTH_STRING: server.auth_string}):
        yield


def _local_login() -> None:
    """Commands that talk to this machine's Prefect server log in with its credential (data/prefect/api-auth)."""
    if os.environ.get("PREFECT_API_AUTH_STRING"):
        return
    from deployments.prefect_server import LocalPrefectServer

    try:
        settings = get_settings()
    except Exception:  # the command itself reports a broken configuration
        return
    server = LocalPrefectServer(settings.data_dir / "prefect", settings.prefect_port)
    if os.environ.get("PREFECT_API_URL", server.api_url).rstrip("/") == server.api_url and server.auth_file.exists():
        os.environ["PREFECT_API_AUTH_STRING"] = server.auth_file.read_text().strip()


@app.command("before-change")
def before_change(
    account: Annotated[str, typer.Argument(help="The account id in the register.")],
    reason: Annotated[str, typer.Option(help="What is about to change.")],
    by: Annotated[str | None, typer.Option("--by", help="Who announces the change.")] = None,
    planned: Annotated[str | None, typer.Option(help="When the change is planned (YYYY-MM-DD).")] = None,
    register: RegisterOption = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the run to start.")] = 90.0,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Wait for the capture to finish and say "
                                                                      "how it went.")] = True,
) -> None:
    """Announce a major change: emits the event that starts the account's 'before-major-change' run.

    Prints the run's page once it runs (the capture, its artifacts and logs are all on that
    page) and, unless --no-follow, the outcome when it ends: exit 0 captured and filed, 1 not.
    """
    from prefect.settings import PREFECT_API_URL

    from deployments.events import (
        emit_major_change,
        wait_for_state,
        wait_for_triggered_runs,
    )

    reason, by = _reason(reason), _who(by)
    known = _configured_register(register)
    if account not in {a.id for a in known.accounts}:
        raise _fail(f"unknown account {account!r} in {known.source}; nothing was announced")
    _date(planned, "--planned")
    if not PREFECT_API_URL.value():
        raise _fail("PREFECT_API_URL is not set: point it at the Prefect server that serves somearkiv "
                    "(`somearkiv serve` prints it), e.g. export PREFECT_API_URL=http://127.0.0.1:4200/api")
    event_id, emitted_at = emit_major_change(account, reason, by, planned)
    typer.echo(f"announced: event {event_id} (somearkiv.major-change.announced, account {account})")
    runs = wait_for_triggered_runs(account, emitted_at, wait)
    if not runs:
        raise _fail(f"no 'before-major-change' run was started within {wait:g} s. Is `somearkiv serve` or a "
                    "Prefect worker running, with the before-major-change deployment and its trigger?", 1)
    if len(runs) > 1:
        typer.secho("note: more than one deployment reacted to the event (served and prefect.yaml ones); "
                    "keep one of them (`somearkiv migrate-to-workers`)", fg=typer.colors.YELLOW)
    ui = PREFECT_API_URL.value().removesuffix("/api")
    run = runs[0]
    started = wait_for_state(run.id, wait, final=False)
    if started is None:
        raise _fail(f"flow run {run.name} was created but did not start within {wait:g} s (state "
                    f"{run.state_name}): is a worker or `somearkiv serve` running? {ui}/runs/flow-run/{run.id}", 1)
    typer.echo(f"flow run {run.name} ({run.id}) is running: {ui}/runs/flow-run/{run.id}")
    if not follow:
        return
    ended = wait_for_state(run.id, 3600, final=True)
    if ended is None:
        raise _fail("the capture has not finished within an hour; see the run's page", 1)
    typer.echo(f"{ended.state_name}: {ended.state.message or ''}".rstrip(": "))
    raise typer.Exit(0 if ended.state.is_completed() else 1)


@app.command()
def login(
    account: Annotated[str, typer.Argument(help="The account to log in to, by its id in the register.")],
    role: Annotated[str | None, typer.Option("--as", help="As whom you log in (e.g. 'redaktör för sidan'); "
                                                           "every record made with the login says so.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Your name, for the record of the login.")] = None,
    register: RegisterOption = None,
    remote: Annotated[bool | None, typer.Option(
        "--remote/--window", help="Show the browser on a local web page (default when there is no display) "
                                  "or in a window.")] = None,
    port: Annotated[int, typer.Option("--port", help="Port of the local screen page (default: any free one).")] = 0,
    forget: Annotated[bool, typer.Option("--forget", help="Delete the saved login of ACCOUNT instead.")] = False,
) -> None:
    """Log in to an account once, so its snapshots show the logged-in view (saved encrypted; never archived).

    The session key comes from SOMEARKIV_SESSION_KEY or the key file (SOMEARKIV_SESSION_KEY_FILE,
    default ~/.config/somearkiv/session.key, made on first use): give workers the same key.
    On a server without a display, open the printed address through an SSH tunnel
    (ssh -L PORT:127.0.0.1:PORT server).
    """
    import asyncio
    import os

    from deployments.login import log_in
    from somearkiv.sessions import SessionError, session_store

    settings = _settings()
    known = {a.id: a for a in _configured_register(register).accounts}
    if account not in known:
        raise _fail(f"unknown account {account!r}; the register has: {', '.join(sorted(known)) or 'none'}")
    try:
        if forget:
            gone = session_store(settings).forget(account)
            typer.echo(f"the saved login of {account} is deleted" if gone else f"{account} has no saved login")
            return
        if not role:
            raise _fail("say as whom you log in: --as 'redaktör för sidan' (it goes into every record)")
        display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        headless = remote if remote is not None else not display
        role, by = _reason(role, "--as"), _who(by)
        outcome = asyncio.run(log_in(known[account], settings, role, by, remote=headless, port=port,
                                     on_ready=lambda text: typer.echo(
                                         f"Open {text} in your browser and log in; press Klar when done."
                                         if text.startswith("http") else text)))
    except SessionError as exc:
        raise _fail(str(exc)) from None
    except (ValueError, OSError) as exc:
        raise _fail(f"login failed: {exc}") from None
    except KeyboardInterrupt:
        raise _fail("cancelled; nothing saved", 130) from None
    if outcome.saved is None:
        raise _fail("cancelled; nothing saved", 1)
    typer.echo(f"saved the login of {account} (as {role}), encrypted, in {outcome.saved}")
    if outcome.wall:
        typer.secho(f"warning: the page still shows a wall with this login: {outcome.wall}", err=True,
                    fg=typer.colors.YELLOW)
        raise typer.Exit(1)


@app.command()
def down() -> None:
    """Stop the embedded S3 server and the local Prefect server that the demo started."""
    typer.echo(f"S3 server: {'stopped' if _embedded().stop() else 'not running'}")
    typer.echo(f"Prefect server: {'stopped' if _local_prefect().stop() else 'not running (or not ours)'}")


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    register: RegisterOption = None,
    login_max_age: Annotated[int, typer.Option("--login-max-age", help="Days after which a saved login is "
                                                                      "flagged as old.")] = 60,
) -> None:
    """Is everything ready for a real run? Prefect, S3 and its bucket lock, the identities, the register,
    metrics APIs, saved logins, the TSA, the browser's allow-list, Chromium, disk space.

    One line per check: ok, warn or FAIL, what was found and what to do. Exit 1 when something the
    policy needs is missing (a FAIL line), else 0. Nothing is changed: the identities are probed with
    requests that would change nothing even if they were allowed.
    """
    from deployments.doctor import Context, exit_code, format_findings, run_checks

    findings = run_checks(Context(_settings(), register_path=register, login_max_age_days=login_max_age))
    if as_json:
        typer.echo(json.dumps({"ok": exit_code(findings) == 0, "checks": [f.as_dict() for f in findings]},
                              indent=2, ensure_ascii=False))
    else:
        typer.echo(format_findings(findings))
    raise typer.Exit(exit_code(findings))


@app.command("migrate-to-workers")
def migrate_to_workers_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be removed.")] = False,
) -> None:
    """Remove the `-serve` deployments (and the triggers serve made for them) from the Prefect server,
    before moving to workers and prefect.yaml's deployments. Stop `somearkiv serve` first."""
    from prefect.settings import PREFECT_API_URL

    from deployments.migrate import migrate_to_workers

    if not PREFECT_API_URL.value():
        raise _fail("PREFECT_API_URL is not set: point it at the Prefect server to clean up")
    found = migrate_to_workers(dry_run=dry_run)
    if not found:
        typer.echo("no -serve deployments on the server: nothing to do")
        return
    verb = "would remove" if dry_run else "removed"
    for d in found:
        typer.echo(f"{verb} deployment {d.name} ({d.id})"
                   + (f", {d.scheduled_runs} scheduled run(s)" if d.scheduled_runs else "")
                   + (f", trigger(s): {', '.join(d.triggers)}" if d.triggers else ""))
        for name in d.others:
            typer.secho(f"    automation {name!r} refers to it and is {'kept' if dry_run else 'left'}: "
                        "change or delete it in the UI", fg=typer.colors.YELLOW)
    if dry_run:
        typer.echo("nothing was changed (--dry-run)")
    else:
        typer.echo("now: prefect deploy --all, and start the workers (README, 'Running at scale')")


from deployments.cli_disclose import disclose as _disclose  # noqa: E402

app.command("disclose")(_disclose)
from deployments.cli_search import search as _search  # noqa: E402

app.command("search")(_search)


from deployments.cli_watch import watch_app  # noqa: E402

app.add_typer(watch_app, name="watch")
from deployments.cli_evidence import evidence_app  # noqa: E402

app.add_typer(evidence_app, name="evidence")


# Exit statuses every command shares (a command may add its own, e.g. verify's 4)
EXIT_FAILED, EXIT_USAGE, EXIT_CUSTODY, EXIT_STORAGE, EXIT_PREFECT, EXIT_FILE, EXIT_INTERRUPTED = 1, 2, 3, 5, 6, 7, 130


def _safely_filed_since(started: dt.datetime) -> list[str] | None:
    from deployments.cli_runs import filed_since

    try:
        return filed_since(started)
    except Exception:  # the storage may be gone too (None): the error line says so, not "nothing was filed"
        return None


def _one_line(exc: BaseException) -> tuple[int, str]:
    """What went wrong, as one line with what to do, and the exit status for it."""
    from storage import ArchiveError

    text = " ".join(str(exc).split())[:400] or type(exc).__name__
    name = type(exc).__module__ + "." + type(exc).__name__
    if name.endswith(("NoCredentialsError", "PartialCredentialsError")):  # an external S3 without its identity
        return EXIT_STORAGE, (f"the archive's S3 storage: {text}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                              "(or AWS_PROFILE) for SOMEARKIV_S3_ENDPOINT_URL (`somearkiv doctor` checks the set-up)")
    if name == "storage.embedded.EmbeddedS3Error":  # this machine's S3 server: its message says what to do
        return EXIT_STORAGE, f"the embedded S3 server: {text}"
    if isinstance(exc, ArchiveError) or name.startswith(("botocore.", "boto3.", "urllib3.")):
        return EXIT_STORAGE, f"the archive's S3 storage: {text} (is it running? `somearkiv doctor` checks the set-up)"
    if name.startswith(("httpx.", "prefect.exceptions", "httpcore.")) or (
            isinstance(exc, RuntimeError) and text.startswith("Failed to reach API at")):  # Prefect's client
        return EXIT_PREFECT, (f"the Prefect server: {text} (is it running, and is PREFECT_API_URL / "
                              "PREFECT_API_AUTH_STRING right? `somearkiv doctor` checks)")
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:  # not a path: a port another program holds
        return EXIT_USAGE, (f"{text}: a port somearkiv listens on is taken (`ss -ltnp` shows by what): stop that "
                            "program, or give somearkiv another port (the command's --help, SOMEARKIV_*_PORT)")
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        if isinstance(exc, FileExistsError | NotADirectoryError):
            return EXIT_FILE, f"{where}exists and is not a folder (choose another path)"
        return EXIT_FILE, f"{where}{exc.strerror or text} (check the path and its permissions)"
    return EXIT_FAILED, f"{type(exc).__name__}: {text}"


def _is_file(arg: str) -> bool:
    """Whether *arg* names a file here; False for a word too long or odd to be a path (Python 3.11's
    Path.exists raises on 'File name too long')."""
    try:
        return os.path.lexists(arg)
    except (OSError, ValueError):
        return False


def _usage_line(exc: UsageError) -> str:
    """Click's usage error as one line, in place of Typer's boxed usage block. A file whose name begins
    with '-' is taken for an option: the line then says how to name it."""
    command = exc.ctx.command_path if exc.ctx else "somearkiv"
    hint = f"try '{command} --help'"
    if isinstance(exc, NoSuchOption):
        # (click names '-d' for '-dash.pdf': it reads short options one letter at a time)
        files = [arg for arg in sys.argv[1:]
                 if exc.option_name and arg.startswith(exc.option_name) and _is_file(arg)]
        if files:
            hint = f"to name the file {files[0]!r}, write it as ./{files[0]} or after --"
    return f"{command}: {' '.join(exc.format_message().split())}  ({hint})"


def main() -> None:
    """The `somearkiv` command: every error is one line and an exit status; --debug shows the traceback."""
    try:
        _main()
    except KeyboardInterrupt:  # a Ctrl-C before the command runs (the command's own is answered in _main)
        typer.secho("interrupted", err=True, fg=typer.colors.RED)
        sys.exit(EXIT_INTERRUPTED)


_DEBUG = False  # `--debug` anywhere on the command line: tracebacks in full


def _main() -> None:
    global _DEBUG
    debug = _DEBUG = "--debug" in sys.argv[1:]
    if debug:
        sys.argv.remove("--debug")
    os.umask(0o077)  # everything somearkiv writes (local copies, servers' data) is its owner's only
    try:
        configure_logging()
    except ValueError as exc:
        typer.secho(f"configuration error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(EXIT_USAGE)
    _local_login()
    try:
        code = app(standalone_mode=False, prog_name="somearkiv")
    except NoArgsIsHelpError as exc:  # `somearkiv register` alone: the group's help, as before
        exc.show()
        sys.exit(exc.exit_code)
    except UsageError as exc:  # unknown option, missing argument, a value of the wrong type
        typer.secho(_printable(_usage_line(exc)), err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)
    except ClickException as exc:
        typer.secho(_printable(" ".join(exc.format_message().split())), err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.secho("aborted", err=True, fg=typer.colors.RED)
        sys.exit(1)
    except ConfigError as exc:
        typer.secho("\n".join(_printable(str(p)) for p in exc.problems), err=True, fg=typer.colors.RED)
        sys.exit(EXIT_USAGE)
    except (SettingsError, UnknownSetting) as exc:
        typer.secho(f"configuration error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True, fg=typer.colors.RED)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        if debug:
            raise
        code, line = _one_line(exc)
        typer.secho(_printable(f"error: {line}  (--debug shows the traceback)"), err=True, fg=typer.colors.RED)
        sys.exit(code)
    if code == EXIT_INTERRUPTED:  # Typer turns Ctrl-C inside a command into Exit(130)
        typer.secho("interrupted", err=True, fg=typer.colors.RED)
    if isinstance(code, int) and code:  # typer.Exit(n) comes back as n outside standalone mode
        sys.exit(code)


if __name__ == "__main__":
    main()
