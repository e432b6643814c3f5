"""Prefect's flow-run heartbeats, kept, without the wait they add to the end of every run.

Prefect (3.9) sends a heartbeat event every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (180
by default; an automation can mark a run whose heartbeats stop as crashed) from a thread that
sleeps in steps of one second. At the end of a sync flow run the engine joins that thread, so
the run ends when the thread's current second is over: 0.7 to 0.9 s after its work, measured on
snapshot runs, every one of them (a CLI snapshot, a before-change run, each batch of a round).

Prefect's async engine does not join it (``join_on_exit=False``): once stopped, the thread
ends by itself within that second, and it sends no heartbeat after it was stopped or after the
run's state is final (it checks both before each one). somearkiv's flows are sync; here they
end the same way. Where a later Prefect changes that function, it is left as it is.
"""

from __future__ import annotations

import functools
import inspect

__all__ = ["end_runs_without_waiting_for_heartbeats"]


def end_runs_without_waiting_for_heartbeats() -> bool:
    """Make the sync flow engine stop its heartbeat thread without joining it (once; harmless to call
    again). True when this is in effect."""
    from prefect import flow_engine

    current = getattr(flow_engine, "_send_heartbeats", None)
    if getattr(current, "somearkiv_no_join", False):
        return True
    if current is None or "join_on_exit" not in inspect.signature(current).parameters:
        return False

    @functools.wraps(current)  # its __wrapped__ is Prefect's own
    def without_join(engine, join_on_exit: bool = False):
        return current(engine, join_on_exit=False)

    without_join.somearkiv_no_join = True
    flow_engine._send_heartbeats = without_join
    return True
