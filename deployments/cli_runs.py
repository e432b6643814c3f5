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

__all__ = ["CLI_TAG_PREFIX", "as_cli_run", "filed_since", "forget_unsent_to_prefect", "mark_orphans_crashed",
           "quick_client_settings", "server_unreachable"]

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


def forget_unsent_to_prefect() -> None:
    """Drop the events and log lines still queued for a Prefect server that is gone.

    Prefect sends them from background services that are drained as the process exits, each item
    retried against the server (an event about every 7 s): with the server gone a command took
    35-48 s to end after its one-line error (measured), all of it in that drain. What they held is
    lost with the server either way; the archive's own records are in S3. Best effort: Prefect's
    internals may change, and then the exit is only slower. Logging is switched off for the rest of
    the process: an item already being sent fails once more as the process exits, and its log line
    came after the command's own last line (seen in CI's load)."""
    import logging

    from somearkiv.log import every_handler

    logging.disable(logging.CRITICAL)
    for handler in every_handler():  # (Prefect's own loggers ignore logging.disable)
        handler.setLevel(logging.CRITICAL + 1)
    try:
        from prefect._internal.concurrency.services import _active_services
    except ImportError:
        return
    for service in list(_active_services):
        backlog = getattr(service, "_queue", None)
        if backlog is not None and hasattr(backlog, "mutex"):
            with backlog.mutex:
                backlog.queue.clear()


_UNREACHABLE = ("ConnectError", "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout", "RemoteProtocolError",
                "ReadError", "WriteError")  # httpx's and httpcore's


def server_unreachable(exc: BaseException) -> bool:
    """Whether *exc* (or what caused it) says the Prefect server cannot be reached (refused, reset, timed
    out), not that a live server answered with an error (a 500 while SQLite is busy)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        name = type(exc).__name__
        if isinstance(exc, ConnectionError | TimeoutError) or name in _UNREACHABLE or (
                isinstance(exc, RuntimeError) and str(exc).startswith("Failed to reach API")):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def quick_client_settings() -> dict:
    """Prefect client settings for the CLI: a server that went away is noticed in seconds, not minutes."""
    from prefect.settings import PREFECT_API_REQUEST_TIMEOUT, PREFECT_CLIENT_MAX_RETRIES

    return {PREFECT_API_REQUEST_TIMEOUT: 15.0, PREFECT_CLIENT_MAX_RETRIES: 2}
