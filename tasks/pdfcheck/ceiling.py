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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CHECK_MEMORY_BUDGET", "memory_ceiling"]

# What checking one file may add to the process: `somearkiv verify` holds ~130 MB before it checks,
# so it stays under 1 GB resident whatever the file.
CHECK_MEMORY_BUDGET = 768 << 20
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
