"""How the benchmarks count CPU busy: the tree's CPU over the cores' time left to it, without the
page server standing in for the platforms (bench.run.measure, Phase.cpu_busy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import Phase

ROOT = Path(__file__).resolve().parent.parent

# In a process of its own, so that the tree measured is only it and the child it starts (not this
# session's servers): a child that spins for 0.6 s of CPU, as a stand-in (in NOT_MEASURED) or not.
_MEASURED = """
import json, subprocess, sys, time
from bench.run import NOT_MEASURED, Phase, measure, _stat, _TICK
SPIN = "import time\\nend = time.process_time() + 0.6\\nwhile time.process_time() < end: pass\\ntime.sleep(60)\\n"
child = subprocess.Popen([sys.executable, "-c", SPIN])
if sys.argv[1] == "stand-in":
    NOT_MEASURED.add(child.pid)
phase = Phase("spin")
try:
    with measure(phase):
        deadline = time.monotonic() + 30
        while sum(int(x) for x in _stat(child.pid)[11:13]) / _TICK < 0.6 and time.monotonic() < deadline:
            time.sleep(0.05)
finally:
    child.kill()
    child.wait()
print(json.dumps({"cpu": phase.cpu_seconds, "stand_in": phase.stand_in_cpu_seconds, "machine": phase.machine_busy}))
"""


def test_busy_is_the_trees_cpu_over_the_cores_time_left_by_the_sampler_and_the_stand_in():
    phase = Phase("p", seconds=10.0)
    cores = phase.core_seconds / 10.0
    phase.cpu_seconds, phase.sampler_cpu_seconds, phase.stand_in_cpu_seconds = 9.0 * cores, 0.5 * cores, 0.5 * cores
    assert phase.cpu_busy == pytest.approx(1.0)  # 9 of the 9 seconds per core left to it
    summary = phase.summary()
    assert summary["cpu_busy"] == 1.0 and summary["cpu_busy_of_wall"] == 0.9  # beside it: over all the cores' time
    assert Phase("idle", seconds=10.0).cpu_busy == 0.0 and Phase("none").summary()["cpu_busy"] is None


@pytest.mark.parametrize("role", ["stand-in", "tree"])
def test_a_stand_ins_cpu_is_counted_apart_from_the_trees(role):
    """As a stand-in, the child's CPU is taken off the cores' time, not counted as the tree's; not one,
    it is the tree's (the bad case the first must not look like)."""
    out = subprocess.run([sys.executable, "-c", _MEASURED, role], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    phase = json.loads(out.stdout.splitlines()[-1])
    if role == "stand-in":
        assert phase["stand_in"] >= 0.4 and phase["cpu"] < 0.3
    else:
        assert phase["stand_in"] == 0.0 and phase["cpu"] >= 0.4
    assert phase["machine"] is not None and 0.0 < phase["machine"] <= 1.0
