"""The full pipeline's time and CPU against bare Playwright (B), the two alternated in one process.

    .venv/bin/python -m bench.alternate [--accounts 8] [--rounds 3] [--concurrency 1]

`./run bench` runs B first and the pipeline a minute or more later; on a virtual machine whose
speed drifts, that alone moved the time ratio from 1.32 to 1.46 in two runs of the same code.
Here B and the full pipeline take turns, round after round, on the same sample pages, both at
c=1 (or both at --concurrency), so a slower minute falls on both; the ratio is printed per round
and over all rounds.
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
    parser.add_argument("--concurrency", type=int, default=1, help="of B and of the pipeline alike")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="somearkiv-alternate-"))
    sys.path.insert(0, str(ROOT))
    from bench.run import NOT_MEASURED, PAGES, _per_capture_ratio, _register, alternated, bench_setup, summed
    from deployments.sample_site import SampleSiteProcess

    browser, server = bench_setup(work, 18720)
    pairs = []
    try:
        with SampleSiteProcess() as site:
            NOT_MEASURED.add(site.pid)
            urls = [f"{site.url}{PAGES[i % len(PAGES)]}/" for i in range(args.accounts)]
            register = _register(work / "accounts.yaml", site.url, args.accounts)
            from prefect import flow

            flow(lambda: None, name="warm-up")()  # the temporary server's start, outside the timings
            for b, full in alternated(urls, register, browser, args.accounts, args.rounds, work / "alternated",
                                   args.concurrency):
                pairs.append((b, full))
                print(f"round {len(pairs)}: B {b.seconds / b.captures:.2f} s, {b.cpu_seconds / b.captures:.2f} CPU-s "
                      f"per capture; full pipeline {full.seconds / full.captures:.2f} s, "
                      f"{full.cpu_seconds / full.captures:.2f} CPU-s; "
                      f"time {_per_capture_ratio(full, b, 'seconds'):.2f}×, "
                      f"CPU {_per_capture_ratio(full, b, 'cpu_seconds'):.2f}×", flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    b_all, full_all = summed([b for b, _ in pairs], "B"), summed([f for _, f in pairs], "full pipeline")
    print(f"all rounds: full pipeline {_per_capture_ratio(full_all, b_all, 'seconds'):.2f}× B's time per capture, "
          f"{_per_capture_ratio(full_all, b_all, 'cpu_seconds'):.2f}× its CPU (targets ≤ 1.3×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
