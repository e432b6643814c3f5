"""Event-driven operation: schedule, the 'before major change' trigger, serve, review in the UI."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter
from prefect.flow_runs import resume_flow_run

from deployments.definitions import (
    FIXITY_CRON,
    MAJOR_CHANGE_EVENT,
    PRUNE_CRON,
    PUBLISH_CRON,
    SERVE_SUFFIX,
    major_change_trigger,
    served_deployments,
)
from deployments.events import major_change_event
from deployments.prefect_server import LocalPrefectServer
from somearkiv.models import Trigger
from somearkiv.settings import PROJECT_ROOT, get_settings
from tasks.approval import Answer, ask_person
from tasks.review import artifact_key, capture_markdown

from . import prefect_api
from .factories import record
from .processes import worker_port

TEST_PREFECT_PORT = worker_port(18520)


def test_served_deployments_and_prefect_yaml_agree():
    served = {d.name: d for d in served_deployments(get_settings())}
    semi = served["semiannual-snapshot" + SERVE_SUFFIX]
    [schedule] = semi.schedules
    assert schedule.schedule.cron == "0 6 1 1,7 *" and schedule.schedule.timezone == "Europe/Stockholm"
    assert semi.parameters == {"trigger": "scheduled"}
    change = served["before-major-change" + SERVE_SUFFIX]
    [trigger] = change.triggers
    assert trigger.expect == {MAJOR_CHANGE_EVENT}

    project = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    declared = {d["name"]: d for d in project["deployments"]}
    assert set(declared) == {name.removesuffix(SERVE_SUFFIX) for name in served}
    assert declared["semiannual-snapshot"]["schedules"] == [{"cron": "0 6 1 1,7 *", "timezone": "Europe/Stockholm"}]
    assert declared["semiannual-snapshot"]["entrypoint"] == "flows/snapshot.py:snapshot_accounts"
    [yaml_trigger] = declared["before-major-change"]["triggers"]
    expected = major_change_trigger()
    assert yaml_trigger["expect"] == sorted(expected.expect)
    assert yaml_trigger["match"] == expected.match.model_dump()
    assert yaml_trigger["parameters"] == expected.parameters
    assert declared["before-major-change"]["entrypoint"] == "flows/snapshot.py:before_major_change"
    for name, cron in (("verify-fixity", FIXITY_CRON), ("prune-expired", PRUNE_CRON),
                       ("publish-register", PUBLISH_CRON)):
        [schedule] = served[name + SERVE_SUFFIX].schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == (cron, "Europe/Stockholm")
        assert declared[name]["schedules"] == [{"cron": cron, "timezone": "Europe/Stockholm"}]


def test_artifact_keys_and_markdown():
    assert artifact_key("capture", "Perstorp_Facebook.2") == "capture-perstorp-facebook-2"
    text = capture_markdown(record(), {}, 168)
    assert "Ögonblicksbild / Snapshot: Perstorps kommun (facebook)" in text
    assert "Utlösare / Trigger | manual – inför byte av profilbild" in text
    assert "Europe/Stockholm" in text


# -- asking a person ---------------------------------------------------------------------------


class Approval(Answer):
    approve: bool = False


@flow
def _asks(timeout_s: int):
    answer, asked = ask_person(Approval, sv="Godkänn gallring?", en="Approve disposal?", timeout_s=timeout_s,
                               poll_interval_s=1)
    return asked.model_dump(mode="json"), (answer.approve if answer else None)


def _resume_when_paused(api_url: str, run_input: dict) -> None:
    """What the archivist does in the UI: find the paused run and submit the form."""
    from prefect.client.schemas.filters import (
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def go():
        async with get_client() as client:
            for _ in range(240):
                paused = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
                if paused:
                    await resume_flow_run(paused[0].id, run_input=run_input)
                    return
                await asyncio.sleep(0.25)

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        asyncio.run(go())


def _wait_paused(api_url: str, tries: int = 240):
    """The id of the paused flow run, once there is one (None after *tries* looks)."""
    from prefect.client.schemas.filters import (
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def go():
        async with get_client() as client:
            for _ in range(tries):
                paused = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
                if paused:
                    return paused[0].id
                await asyncio.sleep(0.25)
        return None

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        return asyncio.run(go())


def test_ask_person_records_who_answered_what(prefect_server):
    from prefect.settings import PREFECT_API_URL

    resumer = threading.Thread(target=_resume_when_paused,
                               args=(PREFECT_API_URL.value(), {"answered_by": "Arkivarien A. Andersson",
                                                               "approve": True, "comment": "enligt beslut KS § 12"}))
    resumer.start()
    asked, approved = _asks(60)
    resumer.join(5)
    assert approved is True
    assert asked["answered_by"] == "Arkivarien A. Andersson" and not asked["timed_out"]
    assert asked["answer"]["comment"] == "enligt beslut KS § 12"
    assert asked["question"] == "Godkänn gallring? / Approve disposal?"


def test_ask_person_times_out_without_an_answer(prefect_server):
    asked, approved = _asks(3)
    assert approved is None and asked["timed_out"] and asked["answered_by"] is None


# -- the whole event path against a real Prefect server with `somearkiv serve` ----------------


@pytest.fixture(scope="module")
def served(tmp_path_factory, s3_server, sample_register):
    """A Prefect server (SQLite) and `somearkiv serve` against it, as an operator would run them."""
    home = tmp_path_factory.mktemp("prefect-home")
    server = LocalPrefectServer(home, TEST_PREFECT_PORT)
    server.start()
    env = {**os.environ, **server.client_environment(), "SOMEARKIV_REGISTER_PATH": str(sample_register),
           "SOMEARKIV_MOBILE_VIEW": "false", "PREFECT_HOME": str(home)}
    _LOGIN["auth"] = server.auth_string
    log = open(home / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "deployments.cli", "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=home)
    try:
        _wait_for_deployments(server.api_url, 60)
        yield server, env, proc, home / "serve.log"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        server.stop()


_LOGIN: dict[str, str | None] = {"auth": None}  # the served server's login (PREFECT_API_AUTH_STRING)


def _api(url: str, body: object | None = None, method: str = "POST", login: bool = True):
    return prefect_api.call(url, body, method, _LOGIN["auth"] if login else None, timeout=10)


def _wait_for_deployments(api: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _api(f"{api}/deployments/filter", {})
        if {d["name"] for d in found} >= {"before-major-change-serve", "semiannual-snapshot-serve"}:
            return
        time.sleep(1)
    raise AssertionError("serve did not register its deployments")


def _wait_for_final(api: str, run_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _api(f"{api}/flow_runs/{run_id}", method="GET")
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish")


def _before_change(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deployments.cli", "before-change", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _run_logs(api: str, run_id: str) -> list[str]:
    logs = _api(f"{api}/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200})
    return [entry["message"] for entry in logs]


def test_cli_announcement_starts_a_before_change_capture(served, archive):
    server, env, _proc, _log = served
    done = _before_change(env, "demo-facebook", "--reason", "ny profilbild", "--by", "Kommunikatör",
                          "--planned", "2026-12-01")
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("flow run "))
    assert "is running" in line and "Scheduled" not in done.stdout  # printed once it runs, not before
    assert done.stdout.strip().splitlines()[-1].startswith("Completed: 1 of 1 accounts captured")
    run_id = line.split("(")[1].split(")")[0]
    run = _wait_for_final(server.api_url, run_id, 180)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert run["parameters"]["account"] == "demo-facebook" and run["parameters"]["reason"] == "ny profilbild"

    [filed] = [r for r in archive.list_captures("demo-facebook") if r.trigger is Trigger.before_change
               and r.requested_by == "Kommunikatör"]
    assert filed.reason == "ny profilbild (planerad ändring / planned change: 2026-12-01)"
    assert filed.flow_run_id == run_id, "the record names the run the communicator was sent to"

    # one page per decision: the run the communicator is sent to has the capture's artifacts itself
    async def artifacts():
        async with get_client() as client:
            return {a.key: a for a in await client.read_artifacts(flow_run_filter=FlowRunFilter(
                id={"any_": [run_id]}))}

    from prefect.settings import (
        PREFECT_API_AUTH_STRING,
        PREFECT_API_URL,
        temporary_settings,
    )

    with temporary_settings(updates={PREFECT_API_URL: server.api_url, PREFECT_API_AUTH_STRING: server.auth_string}):
        found = asyncio.run(artifacts())
    assert {"snapshot-summary", "capture-demo-facebook", "archive-overview"} <= set(found)
    summary = found["snapshot-summary"]
    assert summary.type == "markdown" and summary.description.startswith("Alla 1 konton arkiverade")
    assert "**arkiverad** · [PDF/A](http://127.0.0.1:" in summary.data and "[PDF/A](http://127.0.0.1:" in summary.data
    assert "before-change – ny profilbild" in found["capture-demo-facebook"].data
    assert "startpage.pdf](http://127.0.0.1:" in found["capture-demo-facebook"].data
    assert "![startpage.png](http://127.0.0.1:" in found["capture-demo-facebook"].data
    assert "| `demo-facebook` (facebook) |" in found["archive-overview"].data

    # logs a person reads: one line per event, Swedish words, no JSON
    logs = _run_logs(server.api_url, run_id)
    assert any(m.startswith("fångad (capture.done) account=demo-facebook") for m in logs), logs
    assert not any(m.lstrip().startswith("{") for m in logs), logs

    deadline = time.monotonic() + 30  # events are stored a moment after they are sent
    while True:
        events = _api(f"{server.api_url}/events/filter", {"filter": {"event": {"prefix": ["somearkiv.capture."]}}})
        if any(e["event"] == "somearkiv.capture.filed" and e["resource"]["prefect.resource.id"] ==
               "somearkiv.account.demo-facebook" for e in events["events"]) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert any(e["event"] == "somearkiv.capture.filed"
               and e["resource"]["prefect.resource.id"] == "somearkiv.account.demo-facebook" for e in events["events"])


def test_a_run_with_a_failed_account_is_a_clean_failed_run(served, archive, tmp_path, sample_register):
    """Under serve: the run is Failed with every account's outcome, and no engine traceback in its logs."""
    server, _env, _proc, _log = served
    register = tmp_path / "accounts.yaml"
    text = sample_register.read_text(encoding="utf-8")
    register.write_text(text + """  - id: demo-refused
    platform: blog
    handle: intern
    name: En adress som inte är tillåten
    url: http://127.0.0.2:18999/
    department: Kommunledningsförvaltningen
    responsible: Kommunikatör
    substitute: Kommunsekreterare
    purpose: Information
    opened: 2020-01-01
""", encoding="utf-8")
    [deployment] = _api(f"{server.api_url}/deployments/filter",
                        {"deployments": {"name": {"any_": ["semiannual-snapshot" + SERVE_SUFFIX]}}})
    run = _api(f"{server.api_url}/deployments/{deployment['id']}/create_flow_run",
               {"parameters": {"account_ids": ["demo-mastodon", "demo-refused"], "register_path": str(register),
                               "trigger": "manual"}})
    run = _wait_for_final(server.api_url, run["id"], 240)
    assert run["state"]["type"] == "FAILED", run["state"]
    assert "1 of 2 accounts captured" in run["state"]["message"] and "demo-refused" in run["state"]["message"]
    logs = _run_logs(server.api_url, run["id"])
    assert not any("Traceback" in m or "Engine execution exited" in m for m in logs), logs
    assert not any(m.lstrip().startswith("{") for m in logs), logs


def test_plain_http_event_starts_a_run_without_optional_fields(served, archive):
    server, _env, _proc, _log = served
    event = major_change_event("demo-youtube", "ny kanalbild", None, None)
    event["payload"] = {"account": "demo-youtube", "reason": "ny kanalbild via CMS"}  # what a form might send
    sent = dt.datetime.now(dt.UTC)
    _api(f"{server.api_url}/events", [{**event, "id": str(uuid.uuid4()), "occurred": sent.isoformat()}])
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        runs = _api(f"{server.api_url}/flow_runs/filter",  # the deployment's own runs (others plan months ahead)
                    {"deployments": {"name": {"any_": ["before-major-change-serve"]}}, "limit": 20})
        mine = [r for r in runs if r["parameters"].get("account") == "demo-youtube"]
        if mine:
            break
        time.sleep(1)
    else:
        raise AssertionError("no run was started by the HTTP event")
    run = _wait_for_final(server.api_url, mine[0]["id"], 180)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert any(r.reason == "ny kanalbild via CMS" for r in archive.list_captures("demo-youtube"))


def test_unknown_account_is_refused_before_anything_is_emitted(served):
    server, env, _proc, _log = served
    done = _before_change(env, "no-such-account", "--reason", "x")
    assert done.returncode == 2 and "nothing was announced" in done.stderr
    events = _api(f"{server.api_url}/events/filter", {"filter": {"event": {"prefix": [MAJOR_CHANGE_EVENT]}}})
    assert not [e for e in events["events"] if e["payload"].get("account") == "no-such-account"]


def test_the_served_prefect_server_refuses_requests_without_its_login(served):
    server, _env, _proc, _log = served
    assert server.auth_file.stat().st_mode & 0o777 == 0o600
    for path, body in (("/flow_runs/filter", {}), ("/deployments/filter", {}), ("/events", [])):
        with pytest.raises(urllib.error.HTTPError) as refused:
            _api(server.api_url + path, body, login=False)
        assert refused.value.code == 401, path
    with urllib.request.urlopen(server.api_url + "/health", timeout=10) as health:  # probes stay open
        assert health.status == 200


def test_serve_stops_cleanly(served):
    _server, _env, proc, log = served
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    assert "stopped" in log.read_text()
