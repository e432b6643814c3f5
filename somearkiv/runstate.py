"""A run that ends Failed on purpose, with its result kept: some accounts failed, a fixity problem.

Prefect's engine, under serve and workers, asks a Failed state for its result and logs the
exception it gets as "Engine execution exited with unexpected exception" with a traceback; a
non-exception result even becomes a TypeError. So the state carries a ReportedFailure (whose
``data`` is the run's result, e.g. the SnapshotSummary), and somearkiv.log drops that one
record: the run is Failed, its message says why, and nobody reads a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Prefect takes 1.5 s to import: the CLI's commands that run no flow go without it
    from prefect.states import State

__all__ = ["ReportedFailure", "failed_state", "run_result"]


class ReportedFailure(Exception):
    """The run failed and said why in its state's message; ``data`` is its result."""

    def __init__(self, message: str, data: Any = None):
        super().__init__(message)
        self.data = data


def failed_state(message: str, data: Any = None) -> State:
    from prefect.states import Failed

    return Failed(message=message, data=ReportedFailure(message, data))


def run_result(state: State) -> Any:
    """The result of a finished run, whether it completed or failed on purpose (None if it crashed)."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, ReportedFailure):
        return result.data
    return None if isinstance(result, BaseException) else result
