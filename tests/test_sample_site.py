"""The sample site in a process of its own (the benchmarks' page server): the same pages, and nothing left."""

from __future__ import annotations

import os
import socket
import urllib.request

from deployments.sample_site import SampleSiteProcess


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - 127.0.0.1 only
        return answer.read()


def test_the_site_in_its_own_process_serves_the_same_pages_and_stops_with_its_input(sample_site):
    with SampleSiteProcess() as apart:
        assert apart.url.startswith("http://127.0.0.1:") and apart.pid != os.getpid()
        for page in ("facebook/", "instagram/", "mastodon/"):
            assert _get(apart.url + page) == _get(sample_site.url + page)
        port = int(apart.url.rsplit(":", 1)[1].strip("/"))
    assert not os.path.exists(f"/proc/{apart.pid}")  # ended and reaped
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


def test_the_benchmarks_leave_the_page_server_out_of_what_they_measure(sample_site):  # a server-tier test
    from bench.run import NOT_MEASURED, _tree

    with SampleSiteProcess() as apart:
        assert apart.pid in _tree(os.getpid())  # a child of this process, like every process the pipeline starts
        NOT_MEASURED.add(apart.pid)
        try:
            assert apart.pid not in _tree(os.getpid()) and os.getpid() in _tree(os.getpid())
        finally:
            NOT_MEASURED.discard(apart.pid)


def test_importing_the_benchmark_changes_no_setting_of_the_process():
    """The benchmarks set their quieter log level and their settings when they run, not on import: the
    tests import bench.run, and a log level left behind silenced another test file's log lines."""
    import subprocess
    import sys

    check = ("import json, os; before = dict(os.environ); "
             "import bench.run, bench.alternate, bench.busy, bench.watch_cost; "
             "print(json.dumps(sorted(set(os.environ.items()) ^ set(before.items()))))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.stdout.strip() == "[]", done.stdout
