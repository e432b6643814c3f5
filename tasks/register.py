"""The account register (accounts.yaml): read, validate, select.

Every error names the file, the line and the field. Duplicate ids, unknown fields,
non-http(s) URLs and retention classes the archive does not know are refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from prefect import task
from pydantic import BaseModel, ConfigDict, ValidationError

from somearkiv.models import Account, Register
from somearkiv.yamlfile import (
    ConfigError,
    Problem,
    capped,
    line_of,
    load_model,
    located_problems,
    read_config_text,
)

__all__ = ["read_register", "load_register", "select_accounts", "start_pages_refused", "UnknownAccountError"]


class _RegisterFile(BaseModel):
    """The file's frame; each account is validated on its own so every problem is reported."""

    model_config = ConfigDict(extra="forbid")

    register_version: Literal[1] = 1
    municipality: str
    accounts: list[dict[str, Any]]


class UnknownAccountError(KeyError):
    def __str__(self) -> str:
        return f"unknown account id(s): {', '.join(self.args[0])}"


def read_register(path: Path | str, retention_classes: Iterable[str] | None = None) -> Register:
    """Read and validate the register at *path*.

    retention_classes: the class ids the archive knows; when given, every account's
    retention_class must be one of them.
    """
    path = Path(path)
    parsed, node = load_model(path, _RegisterFile)
    problems: list[Problem] = []
    accounts: list[Account] = []
    first_line: dict[str, int | None] = {}
    known = frozenset(retention_classes) if retention_classes is not None else None
    unlisted = 0  # an account's errors beyond the first MAX_PROBLEMS: counted, not located
    for i, raw in enumerate(parsed.accounts):
        try:
            account = Account.model_validate(raw)
            if account.url.username or account.url.password:  # published in the public list (förteckning)
                problems.append(Problem(str(path), line_of(node, ("accounts", i, "url")), f"accounts[{i}].url",
                                        "holds a user name or password: give the page's address without them "
                                        "(the register is published, and a saved login is `somearkiv login`)"))
            if account.session_file is not None and not account.session_file.is_absolute():
                account = account.model_copy(update={"session_file": path.parent / account.session_file})
            accounts.append(account)
        except ValidationError as exc:  # capped once for the whole file below, its count last
            listed, total = located_problems(str(path), node, exc, ("accounts", i))
            problems += listed
            unlisted += total - len(listed)
        account_id, line = str(raw.get("id")), line_of(node, ("accounts", i, "id"))
        if account_id in first_line:
            problems.append(Problem(str(path), line, f"accounts[{i}].id",
                                    f"duplicate id {account_id!r} (first at line {first_line[account_id]})"))
        first_line.setdefault(account_id, line)
        retention_class = str(raw.get("retention_class", "bevaras"))
        if known is not None and retention_class not in known:
            problems.append(Problem(str(path), line_of(node, ("accounts", i, "retention_class")),
                                    f"accounts[{i}].retention_class",
                                    f"unknown retention class {retention_class!r}; known: {', '.join(sorted(known))}"))
    if problems:
        raise ConfigError(capped(sorted(problems, key=lambda p: p.line or 0), len(problems) + unlisted))
    return Register(municipality=parsed.municipality, accounts=tuple(accounts), source=str(path))


def start_pages_refused(register: Register, allowed_hosts: Iterable[str]) -> list[tuple[Account, str]]:
    """The active accounts whose start page the browser's egress guard would refuse, and why: an address
    that is not public (10.0.0.5, localhost, ...) and not in *allowed_hosts* (SOMEARKIV_ALLOWED_HOSTS).

    The guard's own decision, on what the register says: names are not looked up here (a name that
    resolves to an internal address is refused at capture, with its reason in the run)."""
    from tasks.capture.egress import EgressPolicy

    policy = EgressPolicy(tuple(allowed_hosts))
    refused = []
    for account in register.active:
        decision = policy.check_url(str(account.url), as_written=True)
        if not decision.allowed:  # ('10.0.0.5 → 10.0.0.5 is a private address': the address once)
            refused.append((account, re.sub(r"^\S+ → ", "", decision.reason)))
    return refused


def select_accounts(register: Register, account_ids: Iterable[str] | None) -> list[Account]:
    """The accounts a run captures: the named ones (any status), or every active one."""
    if account_ids is None:
        return list(register.active)
    wanted = list(dict.fromkeys(account_ids))
    known = {a.id: a for a in register.accounts}
    missing = [i for i in wanted if i not in known]
    if missing:
        raise UnknownAccountError(missing)
    return [known[i] for i in wanted]


@task(name="load-register")
def load_register(path: str, retention_classes: list[str] | None = None) -> Register:
    """Task form of read_register, so a broken register fails the run with the file's errors."""
    return read_register(path, retention_classes)


def close_in_file(path: Path | str, account_id: str, closed: dt.date) -> None:
    """Mark *account_id* closed in the register file itself, keeping its comments and layout.

    The changed file is validated before it replaces the old one.
    """
    import os
    import tempfile

    import yaml

    path = Path(path)
    read_register(path)  # a readable register first, within the bounds of any read (yamlfile)
    text = read_config_text(path)
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    accounts = next(v for k, v in node.value if k.value == "accounts")
    for entry in accounts.value:
        keys = {k.value: (k, v) for k, v in entry.value}
        if keys.get("id", (None, None))[1] is not None and keys["id"][1].value == account_id:
            break
    else:
        raise UnknownAccountError([account_id])
    lines = text.splitlines(keepends=True)
    indent = " " * keys["id"][0].start_mark.column
    edits = {"status": "closed", "closed": closed.isoformat()}
    for name, value in edits.items():
        if name in keys:
            k, v = keys[name]
            line = lines[k.start_mark.line]
            lines[k.start_mark.line] = line[: k.start_mark.column] + f"{name}: {value}" + line[v.end_mark.column:]
    missing = [f"{indent}{name}: {value}\n" for name, value in edits.items() if name not in keys]
    last = entry.value[-1][1].end_mark  # the end of the entry's last value, not the start of the next entry
    end = last.line if last.column == 0 else last.line + 1
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines[end:end] = missing
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("".join(lines))
    try:
        read_register(tmp)
    except ConfigError:
        os.unlink(tmp)
        raise
    os.replace(tmp, path)
