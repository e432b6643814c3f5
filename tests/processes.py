"""The processes below this one, from /proc (for the fault tests and the benchmarks)."""

from __future__ import annotations

import os
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Every process whose parent chain leads to *pid* (children, grandchildren, ...), not *pid* itself."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def worker_port(base: int) -> int:
    """*base* for the only or first pytest-xdist worker, then 100 higher per worker (gw1: base + 100, ...).

    Each worker is its own session with its own servers; their fixed ports must not meet
    (the embedded S3 server takes base..base+9 and base+10000..base+10009).
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return base + 100 * (int(worker[2:]) if worker[2:].isdigit() else 0)
