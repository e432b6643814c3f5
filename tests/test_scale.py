"""One round spread over a work pool: two Prefect process workers both take batches (real server, S3, Chromium)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from prefect.deployments.runner import EntrypointType

from deployments.prefect_server import LocalPrefectServer
from flows.snapshot import snapshot_accounts, snapshot_batch
from somearkiv.models import CaptureStatus
from tasks.fanout import BATCH_ARTIFACT_TYPE, split

from . import prefect_api
from .processes import worker_port

TEST_PORT = worker_port(18560)
POOL = "somearkiv-test-pool"
ACCOUNTS = ["demo-facebook", "demo-instagram", "demo-youtube", "demo-mastodon"]


def test_split_keeps_order_and_size():
    assert split(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert split([], 3) == []


@pytest.fixture(scope="module")
def pool(tmp_path_factory, s3_server, sample_register):
    """A Prefect server, a process work pool with the snapshot deployments, and two workers on it."""
    home = tmp_path_factory.mktemp("prefect-pool")
    server = LocalPrefectServer(home, TEST_PORT)
    server.start()
    env = {**os.environ, **server.client_environment(), "PREFECT_HOME": str(home),
           "SOMEARKIV_REGISTER_PATH": str(sample_register), "SOMEARKIV_MOBILE_VIEW": "false",
           "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_WORKER_PREFETCH_SECONDS": "2"}
    subprocess.run([sys.executable, "-m", "prefect", "work-pool", "create", POOL, "--type", "process"], env=env,
                   check=True, capture_output=True, timeout=60)
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: server.api_url, PREFECT_API_AUTH_STRING: server.auth_string}):
        for flow_, name in ((snapshot_accounts, "round"), (snapshot_batch, "snapshot-batch")):
            flow_.to_deployment(name=name, entrypoint_type=EntrypointType.MODULE_PATH).apply(work_pool_name=POOL)
    logs, workers = [], []
    for i in range(2):
        log = home / f"worker-{i}.log"
        logs.append(log)
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", f"worker-{i}",
             "--limit", "2"], env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=home,
            start_new_session=True))
    try:
        yield server, logs
    finally:
        # the round is over: a worker waits up to 30 s for its poll loop on SIGTERM, which this test
        # does not need to see (tests/test_operations covers stopping a worker), so 5 s then killed
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for worker in workers:
            try:
                worker.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
        server.stop()


def _api(server: LocalPrefectServer, path: str, body: object | None = None):
    return prefect_api.call(server.api_url + path, body, auth=server.auth_string)


def test_one_round_is_shared_by_both_workers_and_every_account_filed_once(pool, archive):
    server, logs = pool
    [deployment] = _api(server, "/deployments/filter", {"deployments": {"name": {"any_": ["round"]}}})
    parent = _api(server, f"/deployments/{deployment['id']}/create_flow_run", {"parameters": {
        "account_ids": ACCOUNTS, "batch_size": 1, "trigger": "manual", "reason": "skalprov"}})
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        run = _api(server, f"/flow_runs/{parent['id']}")
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            break
        time.sleep(3)
    assert run["state"]["type"] == "COMPLETED", (run["state"], [p.read_text()[-3000:] for p in logs])
    assert run["state"]["message"].startswith("4 of 4 accounts captured")

    children = _api(server, "/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [parent["id"]]}},
                                                  "limit": 50})
    assert len(children) == 4 and all(c["state"]["type"] == "COMPLETED" for c in children)
    took = {i: [c["id"] for c in children if c["id"] in log.read_text()] for i, log in enumerate(logs)}
    assert took[0] and took[1], f"both workers take batches of one round: {took}"

    child_ids = {c["id"] for c in children}
    for account_id in ACCOUNTS:  # each account filed exactly once by the round, by one of its batches
        filed = [r for r in archive.list_captures(account_id) if r.flow_run_id in child_ids]
        assert len(filed) == 1 and filed[0].status is CaptureStatus.captured, account_id
    published = _api(server, "/artifacts/filter", {"artifacts": {"type": {"any_": [BATCH_ARTIFACT_TYPE]},
                                                                 "flow_run_id": {"any_": sorted(child_ids)}}})
    assert len(published) == 4
    summary = _api(server, "/artifacts/filter", {"artifacts": {"key": {"any_": ["snapshot-summary"]},
                                                               "flow_run_id": {"any_": [parent["id"]]}}})
    assert summary and summary[0]["description"].startswith("Alla 4 konton arkiverade")


def test_the_browser_limit_is_held_for_a_capture_and_makes_a_second_one_wait(prefect_server):
    """SOMEARKIV_BROWSER_CONCURRENCY_LIMIT: a Prefect global concurrency limit that every capture and watch
    takes a slot of (real server); unset, nothing is asked of the server; set to a limit never created, a
    clear refusal rather than an unbounded run."""
    import threading

    from prefect import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError

    from somearkiv.settings import get_settings
    from tasks.capture.browser import browser_slot

    name = "somearkiv-test-browser"
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))

        def active() -> int:
            return client.read_global_concurrency_limit_by_name(name).active_slots

        settings = get_settings().model_copy(update={"browser_concurrency_limit": name})
        second_in, first_out = threading.Event(), threading.Event()

        def second() -> None:
            with browser_slot(settings):
                second_in.set()
                assert first_out.is_set(), "the second capture got a slot while the first held the only one"

        with browser_slot(settings):
            assert active() == 1
            waiting = threading.Thread(target=second)
            waiting.start()
            assert not second_in.wait(3), "the limit of 1 did not make the second capture wait"
            first_out.set()
        assert second_in.wait(30), "the second capture never got the slot the first gave back"
        waiting.join(30)
        assert active() == 0

        unset = get_settings().model_copy(update={"browser_concurrency_limit": None})
        with browser_slot(unset):
            assert active() == 0
        missing = get_settings().model_copy(update={"browser_concurrency_limit": "somearkiv-no-such-limit"})
        with pytest.raises(ConcurrencySlotAcquisitionError, match="must be created"):
            with browser_slot(missing):
                pass
