"""How the benchmarks count CPU busy: the tree's CPU over the cores' time left to it, without the
page server standing in for the platforms (bench.run.measure, Phase.cpu_busy)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.run import NOT_MEASURED, Phase, measure

_SPIN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\ntime.sleep(60)\n"


def test_busy_is_the_trees_cpu_over_the_cores_time_left_by_the_sampler_and_the_stand_in():
    cores = os.cpu_count() or 1
    phase = Phase("p", seconds=10.0, cpu_seconds=9.0 * cores, sampler_cpu_seconds=0.5 * cores,
                  stand_in_cpu_seconds=0.5 * cores)
    assert phase.cpu_busy == pytest.approx(1.0)  # 9 of the 9 seconds per core left to it
    summary = phase.summary()
    assert summary["cpu_busy"] == 1.0 and summary["cpu_busy_of_wall"] == 0.9  # beside it: over all the cores' time
    assert Phase("idle", seconds=10.0).cpu_busy == 0.0 and Phase("none").summary()["cpu_busy"] is None


@pytest.mark.parametrize("stand_in", [True, False])
def test_a_stand_ins_cpu_is_counted_apart_from_the_trees(stand_in):
    """A child spinning for 0.6 s of CPU: as a stand-in (in NOT_MEASURED) its CPU is taken off the cores' time,
    not counted as the tree's; not one, it is the tree's (the bad case the first must not look like)."""
    child = subprocess.Popen([sys.executable, "-c", _SPIN.format(seconds=0.6)])
    if stand_in:
        NOT_MEASURED.add(child.pid)
    try:
        phase = Phase("spin")
        with measure(phase):
            deadline = time.monotonic() + 30
            while _cpu(child.pid) < 0.6 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        NOT_MEASURED.discard(child.pid)
        child.kill()
        child.wait()
    if stand_in:
        assert phase.stand_in_cpu_seconds >= 0.5 and phase.cpu_seconds < 0.3
    else:
        assert phase.stand_in_cpu_seconds == 0.0 and phase.cpu_seconds >= 0.5
    assert phase.machine_busy is not None and 0.0 < phase.machine_busy <= 1.0


def _cpu(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
