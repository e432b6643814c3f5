"""What a weekly watch costs against a full capture, in CPU seconds of the whole process tree.

    .venv/bin/python -m bench.watch_cost [--rounds 2]

On the bundled sample pages (the four platform look-alikes and the watch's own page), served on
127.0.0.1: per page, a full capture (both views, settle, words, screenshot, DOM, print PDF, WARC)
then its PDF/A, against a watch (the light capture: desktop view, the top of the page, elements,
avatar and banner hashed) then its comparison with the previous watch. Both in one process, one
after the other, so the machine's speed cancels out in the ratio. Nothing is uploaded (S3 costs
are the same per byte for both, and the watch files far fewer bytes: printed too).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="somearkiv-watch-bench-"))
    from bench.run import Phase, bench_defaults, measure

    bench_defaults()  # before Prefect or somearkiv is imported
    os.environ.setdefault("SOMEARKIV_ALLOWED_HOSTS", '["127.0.0.1"]')
    os.environ["SOMEARKIV_DATA_DIR"] = str(data)

    from prefect.logging import disable_run_logger

    from deployments.sample_site import SampleSite
    from somearkiv.models import Account, Trigger
    from somearkiv.settings import get_settings
    from tasks.capture import capture_account
    from tasks.capture.browser import close_pool
    from tasks.pdfa import convert_to_pdfa
    from tasks.watch.capture import light_capture
    from tasks.watch.compare import Side, compare
    from tasks.watch.config import read_watch_config

    get_settings.cache_clear()
    config = read_watch_config()
    pages = [("facebook", "facebook/"), ("instagram", "instagram/"), ("youtube", "youtube/"),
             ("mastodon", "mastodon/"), ("other", "watch/kommun/")]
    full, light = Phase("full capture + PDF/A"), Phase("watch + comparison")
    full_bytes = light_bytes = 0
    try:
        with SampleSite() as site, disable_run_logger():
            accounts = [Account(id=f"bench-{i}", platform=platform, handle="perstorpskommun", name="Perstorps kommun",
                                url=site.url + path, department="K", responsible="K", substitute="K", purpose="bench",
                                opened="2020-01-01") for i, (platform, path) in enumerate(pages)]
            light_capture(accounts[0], municipality="P", config=config, retention_class="bevakning-90d")  # warm up
            previous = {}
            for account in accounts:  # each account's first watch: the baseline the measured ones compare with
                previous[account.id] = light_capture(account, municipality="P", config=config,
                                                     retention_class="bevakning-90d")
            for _ in range(args.rounds):
                with measure(full):
                    for account in accounts:
                        captured = capture_account(account, municipality="P", trigger=Trigger.manual)
                        converted = convert_to_pdfa.fn(captured)
                        full_bytes += sum(f.size for f in converted.record.files)
                        full.captures += 1
                with measure(light):
                    for account in accounts:
                        watch, folder = light_capture(account, municipality="P", config=config,
                                                      retention_class="bevakning-90d")
                        compare(Side.of_watch(*previous[account.id]), Side.of_watch(watch, folder), config,
                                watch_id=watch.watch_id)
                        light_bytes += sum(f.size for f in watch.files)
                        light.captures += 1
    finally:
        close_pool()
        shutil.rmtree(data, ignore_errors=True)
    for phase, stored in ((full, full_bytes), (light, light_bytes)):
        s = phase.summary()
        print(f"{phase.name:<24} {s['cpu_s_per_capture']:>6} CPU s/page  {s['seconds'] / phase.captures:>5.2f} s/page  "
              f"{stored / phase.captures / 1e6:>5.2f} MB/page  peak PSS {s['peak_pss_mb']} MB")
    print(f"watch / full capture: CPU {light.cpu_seconds / full.cpu_seconds:.2f}, "
          f"wall {light.seconds / full.seconds:.2f}, bytes {light_bytes / max(full_bytes, 1):.2f}")


if __name__ == "__main__":
    main()
