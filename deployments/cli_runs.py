"""Flow runs the CLI runs in its own process, and what is left when one of them is cut short.

A run started by `somearkiv snapshot` lives in the CLI's process. When the Prefect server goes
away mid-run the CLI ends with what was filed so far (read from the custody ledger, which is in
S3, not in Prefect), and the run stays RUNNING on the server. Each such run carries the tag
``cli:<host>:<pid>``; the next CLI run on the same host marks those whose process is gone as
Crashed, so nothing shows as running for ever.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["CLI_TAG_PREFIX", "as_cli_run", "filed_since", "mark_orphans_crashed", "quick_client_settings"]

CLI_TAG_PREFIX = "cli:"


def _tag(pid: int | None = None) -> str:
    return f"{CLI_TAG_PREFIX}{socket.gethostname()}:{pid or os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def as_cli_run() -> Iterator[None]:
    """Flow runs started inside carry this process's tag (see mark_orphans_crashed)."""
    from prefect import tags

    with tags("somearkiv-cli", _tag()):
        yield


def mark_orphans_crashed() -> list[str]:
    """Runs left RUNNING by a CLI process on this host that is gone: marked Crashed. Their names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    marked = []
    prefix = f"{CLI_TAG_PREFIX}{socket.gethostname()}:"
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=["somearkiv-cli"]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING]))),
            limit=200)
        for run in runs:
            pids = [t.removeprefix(prefix) for t in run.tags if t.startswith(prefix)]
            if pids and pids[0].isdigit() and int(pids[0]) != os.getpid() and not _alive(int(pids[0])):
                client.set_flow_run_state(run.id, Crashed(message="the command that ran it ended without reporting "
                                                                  "(its Prefect server went away?)"), force=True)
                marked.append(run.name)
    return marked


def filed_since(started: dt.datetime) -> list[str]:
    """The captures the custody ledger says were filed since *started* (for a run cut short)."""
    from somearkiv.settings import get_settings
    from storage import Archive

    archive = Archive.connected(get_settings(), role="auditor")
    entries, _ = archive.ledger.verify(fresh=False)
    return [e.capture_id for e in entries if e.kind == "capture" and e.capture_id and e.at >= started]


def quick_client_settings() -> dict:
    """Prefect client settings for the CLI: a server that went away is noticed in seconds, not minutes."""
    from prefect.settings import PREFECT_API_REQUEST_TIMEOUT, PREFECT_CLIENT_MAX_RETRIES

    return {PREFECT_API_REQUEST_TIMEOUT: 15.0, PREFECT_CLIENT_MAX_RETRIES: 2}
