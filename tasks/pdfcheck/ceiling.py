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

__all__ = ["MAX_CHECK_MEMORY", "memory_ceiling"]

MAX_CHECK_MEMORY = 896 << 20  # the whole process's resident memory while it checks one file: under 1 GB
NEAR = 0.85  # a check whose peak came this close to the ceiling is taken to have hit it
SLACK = 32 << 20  # file pages and stack that may still become resident during the check

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
def memory_ceiling(limit: int = MAX_CHECK_MEMORY) -> Iterator[Callable[[], bool]]:
    """Run the block with at most *limit* bytes resident in the process; yield ``reached()``,
    true once the block came near the ceiling (its results may then be incomplete).

    Single-threaded use: the limit is the process's, restored on leaving the block."""
    data, rss = _status_kb("VmData"), _status_kb("VmRSS")
    mapped = (_status_kb("RssFile") or 0) + (_status_kb("RssShmem") or 0)
    if data is None or rss is None:
        yield lambda: False
        return
    try:  # the peak resident size from here on (else the process's lifetime peak: errs towards "reached")
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    # resident = anonymous (at most the private data mapped) + file pages (the libraries, mostly
    # loaded by now; SLACK for the rest and the stack)
    ceiling = max(data, limit - mapped - SLACK)
    headroom = max(ceiling - data, 1)
    before = resource.getrlimit(resource.RLIMIT_DATA)
    if before[0] != resource.RLIM_INFINITY:
        ceiling = min(before[0], ceiling)
    resource.setrlimit(resource.RLIMIT_DATA, (ceiling, before[1]))

    def reached() -> bool:
        return (_status_kb("VmHWM") or 0) - rss >= NEAR * headroom

    try:
        yield reached
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, before)
