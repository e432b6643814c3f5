"""A flow run ends without waiting for Prefect's heartbeat thread, which still sends its heartbeats
(somearkiv.heartbeats)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import flows  # noqa: F401 - importing the flows makes the change
from somearkiv.heartbeats import end_runs_without_waiting_for_heartbeats


class _Engine:
    """What the heartbeat loop reads of a flow run engine; counts the heartbeats it is asked to send."""

    heartbeat_seconds = 30

    def __init__(self) -> None:
        self.sent = 0
        self.flow_run = SimpleNamespace(state=SimpleNamespace(is_final=lambda: False))
        self.logger = SimpleNamespace(debug=lambda *a, **k: None)

    def _build_heartbeat_event_template(self):
        return {}, []

    def _emit_flow_run_heartbeat(self, resource, related) -> None:
        self.sent += 1


def _heartbeat_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive()
            and any(getattr(a, "__name__", "") == "heartbeat_loop" for a in getattr(t, "_args", ()))}


def _run(send_heartbeats) -> tuple[_Engine, threading.Thread, bool]:
    """One heartbeat context entered and left: the engine, its thread, and whether the thread was still
    running right after the context was left."""
    engine, before = _Engine(), _heartbeat_threads()
    with send_heartbeats(engine):
        [thread] = _heartbeat_threads() - before
    return engine, thread, thread.is_alive()


def test_the_heartbeat_thread_is_left_to_end_by_itself_and_sends_nothing_after_it_was_stopped():
    from prefect import flow_engine

    assert end_runs_without_waiting_for_heartbeats() and flow_engine._send_heartbeats.somearkiv_no_join
    engine, thread, running = _run(flow_engine._send_heartbeats)
    assert running, "the context waited for the heartbeat thread"
    thread.join(5)
    assert not thread.is_alive() and engine.sent == 1  # the heartbeat at the start, none after the stop

    # Prefect's own, as the sync engine called it: the context does not end before the thread
    engine, thread, running = _run(flow_engine._send_heartbeats.__wrapped__)
    assert not running and engine.sent == 1


def test_a_flow_run_on_the_server_ends_without_joining_its_heartbeat_thread(prefect_server):
    from prefect import flow

    before = _heartbeat_threads()

    @flow(name="heartbeat-check")
    def short() -> int:
        assert _heartbeat_threads() - before, "the run sends heartbeats"
        return 1

    assert short() == 1
    left = _heartbeat_threads() - before
    assert left, "the run's end waited for its heartbeat thread"
    for thread in left:
        thread.join(5)
        assert not thread.is_alive()
