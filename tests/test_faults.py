"""Fault tests: things break in the middle of a run, and nothing archived is lost or doubled.

Marked `faults` so they can run on their own (`./run test -m faults`); they are part of the
suite because they fit in its time budget.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from deployments.cli import app
from flows.snapshot import snapshot_accounts
from somearkiv.models import CaptureStatus, Trigger
from somearkiv.runstate import run_result
from somearkiv.settings import get_settings
from somearkiv.yamlfile import ConfigError
from storage.custody import check_key
from tasks.capture import DiskFullError, capture_account
from tasks.register import read_register

from .factories import account
from .processes import descendants

pytestmark = pytest.mark.faults


def _kill_our_chromium() -> int:
    killed = 0
    for pid in descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"chrom" in cmdline and b"--type=" not in cmdline:  # the browser process, not its helpers
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def _records_of_run(archive, flow_run_id: str, accounts: list[str]):
    return {a: [r for r in archive.list_captures(a) if r.flow_run_id == flow_run_id] for a in accounts}


def _run_flow(register: Path, accounts: list[str], holder: dict) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: holder["api"]}):
        holder["state"] = snapshot_accounts(account_ids=accounts, trigger=Trigger.manual, reason="fault test",
                                            register_path=str(register), return_state=True)


def test_s3_killed_mid_run_files_every_capture_exactly_once(prefect_server, archive, s3_server, sample_register):
    from prefect.settings import PREFECT_API_URL

    accounts = ["demo-facebook", "demo-instagram", "demo-youtube", "demo-mastodon"]
    before = {k["Key"] for k in archive.client.list_objects_v2(Bucket=archive.bucket, Prefix="captures/")
              .get("Contents", [])}
    holder = {"api": PREFECT_API_URL.value()}
    runner = threading.Thread(target=_run_flow, args=(sample_register, accounts, holder))
    runner.start()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # the moment the first capture of this run is filed ...
        keys = {k["Key"] for k in archive.client.list_objects_v2(Bucket=archive.bucket, Prefix="captures/")
                .get("Contents", [])}
        if any(k.endswith("record.json") for k in keys - before):
            break
        time.sleep(0.2)
    os.kill(int((s3_server.root / "weed.pid").read_text()), signal.SIGKILL)  # ... the S3 server dies
    time.sleep(3)
    s3_server.start()
    runner.join(300)
    state = holder["state"]
    summary = run_result(state)
    assert state.is_completed(), state.message
    filed = _records_of_run(archive, summary.flow_run_id, accounts)
    assert all(len(records) == 1 for records in filed.values()), {a: len(r) for a, r in filed.items()}
    for [record] in filed.values():  # complete: every object there and intact
        assert all(r.status == "ok" for f in record.files for r in check_key(archive, f.key))


def test_chromium_killed_mid_capture_is_retried_and_the_others_unaffected(prefect_server, archive, tmp_path,
                                                                           sample_site, sample_register, monkeypatch):
    """The feed keeps a capture running when the browser is killed (cut at 12 000 px: long enough to be hit,
    and not the 30 s a feed takes to reach the default limit); the filed records show the retry."""
    import datetime as dt

    from prefect.settings import PREFECT_API_URL

    monkeypatch.setenv("SOMEARKIV_MAX_PAGE_HEIGHT", "12000")
    get_settings.cache_clear()
    register = tmp_path / "accounts.yaml"
    register.write_text(sample_register.read_text(encoding="utf-8") + f"""  - id: demo-feed
    platform: other
    handle: flode
    name: Ett långt flöde
    url: {sample_site.url}traps/infinite.html
    department: Kommunledningsförvaltningen
    responsible: Kommunikatör
    substitute: Kommunsekreterare
    purpose: Ett flöde som tar tid att fånga.
    opened: 2020-01-01
""", encoding="utf-8")
    holder = {"api": PREFECT_API_URL.value()}
    runner = threading.Thread(target=_run_flow, args=(register, ["demo-feed", "demo-facebook"], holder))
    runner.start()
    killed = 0
    deadline = time.monotonic() + 60
    under_way = get_settings().data_dir / "captures"
    while not killed and time.monotonic() < deadline:
        time.sleep(1.5)
        if any(under_way.glob("demo-*/*.partial")):  # a capture under way, not only the browser the round started
            killed = _kill_our_chromium()
    killed_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assert killed, "no browser to kill"
    runner.join(300)
    get_settings.cache_clear()
    state = holder["state"]
    summary = run_result(state)
    assert state.is_completed(), state.message
    assert {o.account_id: o.status for o in summary.outcomes} == {"demo-feed": CaptureStatus.captured,
                                                                   "demo-facebook": CaptureStatus.captured}
    filed = _records_of_run(archive, summary.flow_run_id, ["demo-feed", "demo-facebook"])
    assert all(len(records) == 1 for records in filed.values()), filed
    # a capture under way when the browser died was taken again (5 s later): it started after the kill
    assert any(records[0].started_at > killed_at for records in filed.values()), (killed_at, filed)


def test_full_data_disk_gives_a_clear_error(sample_site, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], check=True)
    try:
        s = get_settings().model_copy(update={"data_dir": small, "mobile_view": False})
        with pytest.raises(DiskFullError, match="no space left on the device of the data directory"):
            capture_account(account(id="disk", url=sample_site.url + "facebook/"), municipality="P",
                            trigger=Trigger.manual, settings=s)
        assert not list(small.glob("captures/disk/*")), "nothing half-written is left"
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_half_written_capture_of_a_dead_process_is_cleaned(sample_site, tmp_path):
    stale = tmp_path / "captures" / "cleanup" / "2026-01-01T000000Z-manual.partial"
    stale.mkdir(parents=True)
    (stale / "startpage.png").write_bytes(b"half")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    s = get_settings().model_copy(update={"data_dir": tmp_path, "mobile_view": False})
    record, folder = capture_account(account(id="cleanup", url=sample_site.url + "mastodon/"), municipality="P",
                                     trigger=Trigger.manual, settings=s)
    assert record.status is CaptureStatus.captured and folder.exists()
    assert not stale.exists()


def test_a_register_of_10000_accounts_is_checked_quickly(tmp_path):
    lines = ["register_version: 1", "municipality: Storstad", "accounts:"]
    for i in range(10_000):
        lines += [f"  - id: konto-{i}", "    platform: mastodon", f"    handle: '@k{i}@example.org'",
                  f"    name: Konto {i}", f"    url: https://example.org/@k{i}", "    department: Förvaltning",
                  "    responsible: Kommunikatör", "    substitute: Chef", "    purpose: Information",
                  "    opened: 2020-01-01"]
    path = tmp_path / "big.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    began = time.monotonic()
    result = CliRunner().invoke(app, ["register", "check", str(path)])
    assert result.exit_code == 0 and "10000 accounts" in result.output
    assert time.monotonic() - began < 60


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=400))
def test_any_text_as_register_gives_a_config_error_or_a_register(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        read_register(path)
    except ConfigError as exc:
        assert exc.problems and all(str(p).startswith(str(path)) for p in exc.problems)


_FIELDS = st.dictionaries(
    st.sampled_from(["id", "platform", "handle", "name", "url", "department", "responsible", "substitute", "purpose",
                     "status", "opened", "closed", "retention_class", "extra"]),
    st.one_of(st.none(), st.integers(), st.text(max_size=30), st.booleans(), st.dates().map(str),
              st.lists(st.integers(), max_size=2)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_FIELDS, max_size=4))
def test_any_account_shapes_give_file_line_and_field(tmp_path, entries):
    import yaml

    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump({"municipality": "X", "accounts": entries}, allow_unicode=True), encoding="utf-8")
    try:
        read_register(path)
    except ConfigError as exc:
        problems = exc.problems
        if problems[-1].line is None:  # the count of those not listed, after the first MAX_PROBLEMS, is last
            *problems, count = problems
            assert count.path == str(path) and "more problems" in count.message
        for problem in problems:
            assert problem.path == str(path) and problem.line is not None


def test_a_prefect_server_lost_mid_run_ends_the_cli_naming_what_was_filed_and_the_next_run_marks_it_crashed(
        archive, sample_register, tmp_path):
    """The Prefect server the CLI runs against is stopped once a capture is filed: the command ends within
    60 s (exit 6, one line) listing the captures filed so far; the next `snapshot` on this machine, with
    the server back, marks the run left behind Crashed (it would otherwise stay Running for ever)."""
    import asyncio
    import datetime as dt
    import sys

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from deployments.cli_runs import _tag as cli_tag
    from deployments.cli_runs import filed_since
    from deployments.prefect_server import LocalPrefectServer

    from .processes import worker_port

    server = LocalPrefectServer(tmp_path / "prefect", worker_port(18470))
    server.start()
    env = {**os.environ, **server.client_environment(), "SOMEARKIV_REGISTER_PATH": str(sample_register),
           "SOMEARKIV_CAPTURE_CONCURRENCY": "1"}  # one capture at a time: the round outlasts its first filing
    cli = None
    try:
        began = dt.datetime.now(dt.UTC)
        with (tmp_path / "out").open("w") as out, (tmp_path / "err").open("w") as errors:  # (files: no pipe fills up)
            cli = subprocess.Popen([sys.executable, "-m", "deployments.cli", "snapshot", "--all"], env=env,
                                   stdout=out, stderr=errors)
        deadline = time.monotonic() + 120
        while not (filed := filed_since(began)) and cli.poll() is None and time.monotonic() < deadline:
            time.sleep(1.0)
        assert filed and cli.poll() is None, (tmp_path / "err").read_text()[-3000:]
        server.stop()
        stopped = time.monotonic()
        cli.wait(timeout=120)
        assert time.monotonic() - stopped < 60
        err = (tmp_path / "err").read_text()
        lines = err.strip().splitlines()
        assert cli.returncode == 6 and "Traceback" not in err, err[-3000:]
        assert "the Prefect server went away during the run" in lines[-1] and "filed so far: " in lines[-1], lines
        assert all(capture_id in lines[-1] for capture_id in filed), (filed, lines[-1])

        server.start()  # the same database: the run is still Running there
        again = subprocess.run([sys.executable, "-m", "deployments.cli", "snapshot", "--account", "demo-youtube"],
                               env=env, capture_output=True, text=True, timeout=180)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "crashed: the command that ran it is gone" in again.stderr, again.stderr[-3000:]

        async def runs_of(pid: int):
            async with get_client() as client:
                return await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=[cli_tag(pid)])))

        with temporary_settings(updates={PREFECT_API_URL: server.api_url, PREFECT_API_AUTH_STRING: server.auth_string}):
            [left] = asyncio.run(runs_of(cli.pid))
        assert left.state.type.value == "CRASHED", left.state
    finally:
        if cli is not None and cli.poll() is None:  # a failure above: the command is not left filing
            cli.kill()
            cli.wait(30)
        server.stop()
