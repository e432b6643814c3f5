"""The full pipeline's time and CPU against bare Playwright (B), the two alternated in one process.

    .venv/bin/python -m bench.alternate [--accounts 8] [--rounds 3]

`./run bench` runs B first and the pipeline a minute or more later; on a virtual machine whose
speed drifts, that alone moved the time ratio from 1.32 to 1.46 in two runs of the same code.
Here B and the full pipeline at c=1 take turns, round after round, on the same sample pages,
so a slower minute falls on both; the ratio is printed per round and over all rounds.
The pipeline is bench.run's (Prefect's temporary server, the embedded S3 on its own port).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="somearkiv-alternate-"))
    sys.path.insert(0, str(ROOT))
    from bench.run import NOT_MEASURED, PAGES, _register, alternated, bench_setup
    from deployments.sample_site import SampleSiteProcess

    browser, server = bench_setup(work, 18720)
    b_time = b_cpu = full_time = full_cpu = 0.0
    try:
        with SampleSiteProcess() as site:
            NOT_MEASURED.add(site.pid)
            urls = [f"{site.url}{PAGES[i % len(PAGES)]}/" for i in range(args.accounts)]
            register = _register(work / "accounts.yaml", site.url, args.accounts)
            from prefect import flow

            flow(lambda: None, name="warm-up")()  # the temporary server's start, outside the timings
            for round_, (b, full) in enumerate(alternated(urls, register, browser, args.accounts, args.rounds,
                                                          work / "alternated")):
                pair = [(phase.seconds / phase.captures, phase.cpu_seconds / phase.captures) for phase in (b, full)]
                (bt, bc), (ft, fc) = pair
                b_time, b_cpu, full_time, full_cpu = b_time + bt, b_cpu + bc, full_time + ft, full_cpu + fc
                print(f"round {round_ + 1}: B {bt:.2f} s, {bc:.2f} CPU-s per capture; full pipeline (c=1) {ft:.2f} s, "
                      f"{fc:.2f} CPU-s; time {ft / bt:.2f}×, CPU {fc / bc:.2f}×", flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"all rounds: full pipeline {full_time / b_time:.2f}× B's time per capture, "
          f"{full_cpu / b_cpu:.2f}× its CPU (targets ≤ 1.3×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
