"""structlog set-up: JSON in production, readable in a terminal, in the Prefect UI inside runs.

Inside a flow or task run each line goes to Prefect's run logger, so it is shown in the UI
under that run; outside, it goes to the stdlib logger ``somearkiv`` on stderr. Values under
keys that look like secrets are redacted before rendering.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

import structlog

__all__ = ["configure_logging", "get_logger"]

_SECRET_KEY = re.compile(r"secret|password|passwd|token|credential|authorization|api_?key|access_key", re.I)
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR,
           "critical": logging.CRITICAL}
_configured = False


def _redact_secrets(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in event:
        if _SECRET_KEY.search(key):
            event[key] = "[redacted]"
    return event


def _add_run_ids(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is not None and ctx.flow_run is not None:
        event.setdefault("flow_run_id", str(ctx.flow_run.id))
    return event


class _RunAwareLogger:
    """structlog's output end: Prefect's run logger inside a run, stdlib outside."""

    @staticmethod
    def _target() -> logging.Logger | logging.LoggerAdapter:
        from prefect.exceptions import MissingContextError
        from prefect.logging import get_run_logger

        try:
            return get_run_logger()
        except MissingContextError:
            return logging.getLogger("somearkiv")

    def _log(self, level: int, message: str) -> None:
        self._target().log(level, message)

    def debug(self, message: str) -> None:
        self._log(logging.DEBUG, message)

    def info(self, message: str) -> None:
        self._log(logging.INFO, message)

    msg = info

    def warning(self, message: str) -> None:
        self._log(logging.WARNING, message)

    def error(self, message: str) -> None:
        self._log(logging.ERROR, message)

    exception = error

    def critical(self, message: str) -> None:
        self._log(logging.CRITICAL, message)


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    """Configure structlog once per process.

    fmt: ``json`` or ``console``; default ``SOMEARKIV_LOG_FORMAT``, else console on a terminal
    and JSON otherwise. level: default ``SOMEARKIV_LOG_LEVEL`` or ``info``.
    """
    global _configured
    fmt = fmt or os.environ.get("SOMEARKIV_LOG_FORMAT") or ("console" if sys.stderr.isatty() else "json")
    level_no = _LEVELS[(level or os.environ.get("SOMEARKIV_LOG_LEVEL", "info")).lower()]
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
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        logger_factory=lambda *_args: _RunAwareLogger(),
        cache_logger_on_first_use=True,
    )
    stdlib = logging.getLogger("somearkiv")
    stdlib.setLevel(level_no)
    if not stdlib.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        stdlib.addHandler(handler)
        stdlib.propagate = False
    _configured = True


def get_logger(**bound: Any) -> structlog.typing.FilteringBoundLogger:
    if not _configured:
        configure_logging()
    return structlog.get_logger().bind(**bound)
