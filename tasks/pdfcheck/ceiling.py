"""A memory ceiling for checking a file that came from outside (`somearkiv verify`).

No structural limit bounds every PDF: measured, 52 MB of one array took qpdf 3.6 GB, a million tiny
objects took our reader 1.4 GB, a 260 MB string 1.3 GB. So the check runs under a ceiling on the
process's private memory (RLIMIT_DATA): an allocation past it fails instead of the machine
swapping. qpdf catches its own allocation failures and "repairs" what it could not read, so a
failure is not always raised; whether the check came near the ceiling is read afterwards from
the peak resident memory (VmHWM, reset before the check), and such a report says the file was
not completely checked.

Linux only (RLIMIT_DATA counts anonymous memory since 4.7); elsewhere the check runs unbounded.
"""

from __future__ import annotations

import resource
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CHECK_MEMORY_BUDGET", "CHECK_TIME_BUDGET_S", "OutOfTime", "memory_ceiling", "memory_headroom",
           "time_limit"]

# What checking one file may add to the process: `somearkiv verify` holds ~130 MB before it checks,
# so it stays under 1 GB resident whatever the file.
CHECK_MEMORY_BUDGET = 768 << 20
# The wall time checking one such file may take: the archive's own PDFs take seconds, and a file of
# a few MB built to make a reader loop (a string or a stream that never ends, thousands of pages
# sharing thousands of resources) took past two minutes, some of them hours.
CHECK_TIME_BUDGET_S = 60.0
NEAR = 0.85  # a check whose peak came this close to its budget is taken to have hit it

_STATUS = Path("/proc/self/status")


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def memory_headroom() -> int | None:
    """Bytes of private memory the process may still map under a ceiling in force, or None without one.

    For a library that reports a failed allocation as something else (libjpeg's "broken data stream"):
    work that would not fit is not begun."""
    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    data = _status_kb("VmData")
    return None if soft == resource.RLIM_INFINITY or data is None else soft - data


@contextmanager
def memory_ceiling(budget: int = CHECK_MEMORY_BUDGET) -> Iterator[Callable[[], bool]]:
    """Run the block with at most *budget* more bytes of private memory than the process maps now;
    yield ``reached()``, true once the block came near that (its results may then be incomplete).

    Single-threaded use: the limit is the process's, restored on leaving the block."""
    data, rss = _status_kb("VmData"), _status_kb("VmRSS")
    if data is None or rss is None:
        yield lambda: False
        return
    try:  # the peak resident size from here on (else the process's lifetime peak: errs towards "reached")
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    before = resource.getrlimit(resource.RLIMIT_DATA)
    ceiling = data + budget if before[0] == resource.RLIM_INFINITY else min(before[0], data + budget)
    resource.setrlimit(resource.RLIMIT_DATA, (ceiling, before[1]))

    def reached() -> bool:
        return (_status_kb("VmHWM") or 0) - rss >= NEAR * budget

    try:
        yield reached
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, before)


class OutOfTime(BaseException):
    """The check's time is up (a BaseException: a check's own ``except Exception`` does not swallow it)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise OutOfTime in the block once *seconds* of wall time have passed.

    A timer signal, so it interrupts the checks' Python loops wherever they are (a call into qpdf
    ends first). Only in the main thread, where Python runs signal handlers; elsewhere unbounded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def up(_signum, _frame) -> None:
        raise OutOfTime

    before = signal.signal(signal.SIGALRM, up)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:  # restored even if the time ran out on the way here
            signal.signal(signal.SIGALRM, before)
