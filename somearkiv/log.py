"""structlog set-up: readable lines in the Prefect UI, readable in a terminal, JSON for log shippers.

Inside a flow or task run each event goes to Prefect's run logger, so it is shown in the UI
under that run, as one line a person reads: the event in Swedish words where the archivist
reads them, the English event name kept for machines, then ``key=value`` pairs
(``fångad (capture.done) account=perstorp-facebook seconds=5.9``); Prefect adds time and
level itself. Outside runs, events go to the stdlib logger ``somearkiv`` on stderr: with time
and level on a terminal, JSON otherwise or when ``SOMEARKIV_LOG_FORMAT=json`` (log shippers).
Values under keys that look like secrets are redacted before rendering.

A run that ends Failed on purpose (some accounts failed, a fixity problem: somearkiv.runstate)
makes Prefect's engine log "Engine execution exited with unexpected exception" with a long
traceback under serve and workers; that record is dropped (the run's state and its message
say it all).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

import structlog

__all__ = ["SWEDISH_EVENTS", "configure_logging", "console_without_tracebacks", "every_handler", "get_logger",
           "quiet_reported_failures", "run_line"]

_SECRET_KEY = re.compile(r"secret|password|passwd|token|credential|authorization|api_?key|access_key", re.I)
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR,
           "critical": logging.CRITICAL}
_configured = False

SWEDISH_EVENTS = {
    "capture.start": "fångas", "capture.done": "fångad", "capture.blocked": "blockerad",
    "capture.failed": "misslyckades", "capture.partial_removed": "halvfärdig fångst borttagen",
    "pdfa.valid": "PDF/A godkänd", "pdfa.failed": "PDF/A misslyckades", "metrics.read": "siffror lästa",
    "metrics.adapter_error": "siffrorna kunde inte läsas", "ledger.sealed": "förvaringskedjan tidsstämplad",
    "account.inactive": "kontot verkar inaktivt", "review.artifacts": "granskningsunderlag klart",
    "event.not_sent": "händelsen kunde inte skickas",
}
_HIDDEN_IN_RUNS = {"level", "timestamp", "flow_run_id", "event"}  # Prefect shows time, level and run itself
_PLAIN = re.compile(r"^[\w.:/@+-]+$")


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if _PLAIN.match(text) else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_line(event: dict[str, Any]) -> str:
    """One event as the line a person reads in the Prefect UI."""
    name = str(event.get("event", ""))
    head = f"{SWEDISH_EVENTS[name]} ({name})" if name in SWEDISH_EVENTS else name
    pairs = [f"{k}={_shown(v)}" for k, v in event.items() if k not in _HIDDEN_IN_RUNS and k != "exception"
             and v is not None]
    line = " ".join([head, *pairs])
    return line + ("\n" + str(event["exception"]) if event.get("exception") else "")


def _redact_secrets(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in event:
        if _SECRET_KEY.search(key):
            event[key] = "[redacted]"
    return event


def _prefect_loaded() -> bool:
    """Is Prefect in this process? Without it there is no run to log to, and a CLI command that runs no flow
    (verify, get, captures) need not import it for a log line: that import takes 1.5 s (measured)."""
    return "prefect.context" in sys.modules


def _add_run_ids(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    if not _prefect_loaded():
        return event
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is not None and ctx.flow_run is not None:
        event.setdefault("flow_run_id", str(ctx.flow_run.id))
    return event


def _to_logger(_logger: Any, _method: str, event: dict[str, Any]) -> tuple[tuple[()], dict[str, Any]]:
    """The last processor: the logger renders the event for where it goes (a run, or stderr)."""
    return (), {"event": event}


class _RunAwareLogger:
    """structlog's output end: Prefect's run logger inside a run (a readable line), stdlib outside."""

    def __init__(self, render: Any):
        self._render = render  # for outside runs: JSON or console

    def _log(self, level: int, event: dict[str, Any]) -> None:
        target: logging.Logger | logging.LoggerAdapter | None = None
        if _prefect_loaded():
            from prefect.exceptions import MissingContextError
            from prefect.logging import get_run_logger

            try:
                target, message = get_run_logger(), run_line(event)
            except MissingContextError:
                pass
        if target is None:
            target, message = logging.getLogger("somearkiv"), self._render(None, "", dict(event))
        target.log(level, message)

    def debug(self, event: dict[str, Any]) -> None:
        self._log(logging.DEBUG, event)

    def info(self, event: dict[str, Any]) -> None:
        self._log(logging.INFO, event)

    msg = info

    def warning(self, event: dict[str, Any]) -> None:
        self._log(logging.WARNING, event)

    def error(self, event: dict[str, Any]) -> None:
        self._log(logging.ERROR, event)

    exception = error

    def critical(self, event: dict[str, Any]) -> None:
        self._log(logging.CRITICAL, event)


class _DropReportedFailures(logging.Filter):
    """Drops the engine's traceback of a run that ended Failed on purpose (see somearkiv.runstate)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from somearkiv.runstate import ReportedFailure

        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ReportedFailure)


def quiet_reported_failures() -> None:
    """Install the filter on Prefect's flow-run logger (once; harmless to call again)."""
    logger = logging.getLogger("prefect.flow_runs")
    if not any(isinstance(f, _DropReportedFailures) for f in logger.filters):
        logger.addFilter(_DropReportedFailures())


class _OneLineExceptions(logging.Formatter):
    """A console handler's formatter that shows an exception as one line after the message, not its
    traceback: the record itself is not changed, so the Prefect UI (its own handler) keeps it whole."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            exc = record.exc_info[1] if record.exc_info else None
            try:
                said = " ".join(str(exc).split())[:300] if exc is not None else ""
            except Exception:  # noqa: BLE001 - an exception whose str() fails must not drop the line
                said = "<its text could not be read>"
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None,
                                            "msg": record.getMessage() + (
                                                f" ({type(exc).__name__}: {said})" if exc is not None else ""),
                                            "args": None})
        return self.inner.format(record)


def console_without_tracebacks() -> None:
    """The CLI's terminal shows Prefect's log lines with an exception in one line (`--debug` leaves them
    whole): when the Prefect server goes away mid-run its engine and services log tracebacks (measured:
    two, and an "Error logging to API" line), and the command's own one-line error says what happened.
    Only console handlers are changed; the runs' logs in the UI keep their tracebacks."""
    logging.raiseExceptions = False  # a handler that cannot write (the API gone) says nothing more
    terminal = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    for handler in every_handler():  # the terminal's only: not a handler that keeps records (a test's capture)
        if (isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) in terminal
                and not isinstance(handler.formatter, _OneLineExceptions)):
            handler.setFormatter(_OneLineExceptions(handler.formatter))


def every_handler() -> set[logging.Handler]:
    """The handlers of every logger made so far, the root's included (the loggers copied first: Prefect's
    threads may add some meanwhile)."""
    loggers = [logging.root, *(lg for lg in list(logging.root.manager.loggerDict.values())
                               if isinstance(lg, logging.Logger))]
    return {handler for logger in loggers for handler in logger.handlers}


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    """Configure structlog once per process.

    fmt: ``json`` or ``console``, for events outside runs; default ``SOMEARKIV_LOG_FORMAT``,
    else console on a terminal and JSON otherwise (inside runs: always the readable line).
    level: default ``SOMEARKIV_LOG_LEVEL`` or ``info``.
    """
    global _configured
    fmt = fmt or os.environ.get("SOMEARKIV_LOG_FORMAT") or ("console" if sys.stderr.isatty() else "json")
    if fmt not in ("json", "console"):
        raise ValueError(f"SOMEARKIV_LOG_FORMAT={fmt!r}: use json or console")
    named = (level or os.environ.get("SOMEARKIV_LOG_LEVEL", "info")).lower()
    if named not in _LEVELS:
        raise ValueError(f"SOMEARKIV_LOG_LEVEL={named!r}: use one of {', '.join(_LEVELS)}")
    level_no = _LEVELS[named]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_run_ids,
            _redact_secrets,
            structlog.processors.format_exc_info,
            _to_logger,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        logger_factory=lambda *_args: _RunAwareLogger(renderer),
        cache_logger_on_first_use=True,
    )
    stdlib = logging.getLogger("somearkiv")
    stdlib.setLevel(level_no)
    if not stdlib.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        stdlib.addHandler(handler)
        stdlib.propagate = False
    quiet_reported_failures()
    _configured = True


def get_logger(**bound: Any) -> structlog.typing.FilteringBoundLogger:
    if not _configured:
        configure_logging()
    return structlog.get_logger().bind(**bound)
