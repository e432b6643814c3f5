"""How busy a round keeps the cores, with nothing else reading: the full pipeline at c=2 on the sample pages.

    .venv/bin/python -m bench.busy [--accounts 50] [--rounds 2]

`./run bench` reads the process tree four times a second and its PSS every 2 s, for memory; that
sampler takes 3-4 % of the cores in a 50-account round, and the busy share it prints is counted
against the cores' time left to the round (see bench.run.Phase.cpu_busy). Here nothing samples:
the tree's CPU is read from /proc as the round starts and as it ends (each process with the
children it reaped: Chromium's renderers are reaped by its zygote), so the share needs no
correction. A round of fewer than 100 captures, in which the pool does not start its browser
afresh (a browser stopped with its driver is not reaped into the tree). A round of 10 accounts
first, not measured, warms Prefect's temporary server and the browser. Prints, per round, the
tree's CPU over all the cores' time and the whole machine's share, from /proc/stat.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50, help="per round (under 100)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    if not 0 < args.accounts < 100:
        parser.error("--accounts: 1 to 99 (at 100 the pool starts its browser afresh, and its CPU is lost)")
    work = Path(tempfile.mkdtemp(prefix="somearkiv-busy-"))
    sys.path.insert(0, str(ROOT))
    from bench.run import NOT_MEASURED, _cpu_of, _machine_times, _register, _usage, bench_setup
    from deployments.sample_site import SampleSiteProcess

    _, server = bench_setup(work, 18730)
    os.environ["SOMEARKIV_CAPTURE_CONCURRENCY"] = "2"
    shares = []
    try:
        with SampleSiteProcess() as site:
            NOT_MEASURED.add(site.pid)
            from flows.snapshot import snapshot_accounts
            from tasks.capture import browser

            snapshot_accounts(register_path=str(_register(work / "warm.yaml", site.url, 10)), reason="warm-up")
            browser.close_pool()
            cores = len(os.sched_getaffinity(0))
            for round_ in range(args.rounds):
                register = _register(work / f"round-{round_}.yaml", site.url, args.accounts)
                tree, page_server, machine, began = _usage(os.getpid()).cpu, _cpu_of([site.pid]), _machine_times(), \
                    time.monotonic()
                state = snapshot_accounts(register_path=str(register), reason="benchmark", return_state=True)
                seconds = time.monotonic() - began
                ticks, idle = (after - before for after, before in zip(_machine_times(), machine))
                cpu, served = _usage(os.getpid()).cpu - tree, _cpu_of([site.pid]) - page_server
                browser.close_pool()
                shares.append(cpu / (seconds * cores))
                print(f"round {round_ + 1}: {len(state.result(raise_on_failure=False).captured)} of {args.accounts} "
                      f"captured in {seconds:.1f} s, {cpu:.1f} CPU-s: {shares[-1]:.3f} of all the cores' time "
                      f"({cpu / (seconds * cores - served):.3f} without the page server's {served:.1f} CPU-s); "
                      f"the whole machine {1 - idle / ticks:.3f}", flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"all rounds: the round's CPU {min(shares):.3f}-{max(shares):.3f} of all the cores' time (target ≥ 0.9)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
