"""`somearkiv doctor` (readiness checks) and `somearkiv migrate-to-workers`.

Everything here talks to 127.0.0.1 only: the embedded S3 server, the test Prefect server, the
API and TSA doubles, and small HTTP doubles made here. No check ever contacts a real platform.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from botocore.exceptions import ClientError
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from deployments import doctor
from deployments.cli import app
from deployments.doctor import Check, Context, Finding, Status, exit_code, format_findings, run_checks
from somearkiv.sessions import SessionStore
from somearkiv.settings import get_settings
from tests import api_doubles
from tests.api_doubles import ApiDouble, Post
from tests.tsa_double import TsaDouble

NOW = dt.datetime.now(dt.UTC)

REGISTER = """\
register_version: 1
municipality: Perstorps kommun
accounts:
{accounts}
"""
ACCOUNT = """\
  - id: {id}
    platform: {platform}
    handle: "{handle}"
    name: Perstorps kommun
    url: {url}
    department: Kommunledningsförvaltningen
    responsible: Kommunikatör
    substitute: Kommunsekreterare
    purpose: Information.
    opened: 2016-01-01
"""


def _register(tmp_path: Path, *accounts: tuple[str, str, str, str]) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text(REGISTER.format(accounts="".join(
        ACCOUNT.format(id=i, platform=p, handle=h, url=u) for i, p, h, u in accounts)), encoding="utf-8")
    return path


def _context(register: Path | None = None, env: dict | None = None, **settings) -> Context:
    return Context(get_settings().model_copy(update=settings), env=env or {}, register_path=register)


def _by_check(findings: list[Finding], name: str) -> list[Finding]:
    return [f for f in findings if f.check == name]


# -- the report ------------------------------------------------------------------------------------


def test_one_line_per_finding_a_crashing_check_is_reported_and_fail_means_exit_1():
    def broken(ctx):
        raise RuntimeError("boom")

    checks = [Check("a", lambda ctx: Finding("a", Status.ok, "fine")),
              Check("b", lambda ctx: [Finding("b", Status.warn, "meh", "do this"), Finding("b", Status.ok, "x")]),
              Check("c", broken, needed=False)]
    findings = run_checks(_context(), checks)
    assert [(f.check, f.status) for f in findings] == [("a", Status.ok), ("b", Status.warn), ("b", Status.ok),
                                                       ("c", Status.warn)]
    assert "the check itself failed: RuntimeError: boom" in findings[-1].what
    assert exit_code(findings) == 0
    text = format_findings(findings)
    assert "warn  b         meh -> do this" in text.splitlines()
    assert text.splitlines()[-1].startswith("0 FAIL, 2 warn, 2 ok: ready")

    findings = run_checks(_context(), [*checks, Check("d", broken)])
    assert findings[-1].status is Status.fail and exit_code(findings) == 1
    assert "not ready" in format_findings(findings)
    assert json.loads(json.dumps([f.as_dict() for f in findings]))[-1]["status"] == "FAIL"


def test_every_listed_check_has_a_distinct_name():
    names = [c.name for c in doctor.CHECKS]
    assert len(names) == len(set(names))
    assert {"prefect", "s3", "bucket", "identity", "register", "metrics", "login", "tsa", "egress", "chromium",
            "disk"} == set(names)


# -- the allow-list, Chromium, disk ----------------------------------------------------------------


def test_egress_allow_list_entries_are_judged_one_by_one():
    assert [f.status for f in doctor.egress_findings([])] == [Status.ok]
    found = {f.what.split("'")[1]: f for f in doctor.egress_findings(
        ["127.0.0.1:8791", "10.1.0.0/16", "192.168.1.20", "8.8.8.8:443", "[::1]:8080", "localhost:99999"])}
    assert found["127.0.0.1:8791"].status is Status.ok
    assert found["10.1.0.0/16"].status is Status.warn and "whole network" in found["10.1.0.0/16"].what \
        and "every port" in found["10.1.0.0/16"].what
    assert found["192.168.1.20"].status is Status.warn and "every port" in found["192.168.1.20"].what
    assert found["8.8.8.8:443"].status is Status.warn and "public" in found["8.8.8.8:443"].what
    assert found["[::1]:8080"].status is Status.ok
    assert found["localhost:99999"].status is Status.fail


def test_chromium_configured_but_missing_is_a_failure():
    [finding] = [doctor.check_browser(_context(browser_path="/nonexistent/chromium"))]
    assert finding.status is Status.fail and "SOMEARKIV_BROWSER_PATH" in finding.todo
    found = doctor.check_browser(_context())
    assert found.status is Status.ok, found


def test_disk_space_thresholds(tmp_path):
    ctx = _context(data_dir=tmp_path / "not-yet" / "data")
    assert doctor.check_disk(ctx).status is Status.ok
    ctx.disk_warn_gib = 10**9
    assert doctor.check_disk(ctx).status is Status.warn
    ctx.disk_fail_gib = 10**9
    finding = doctor.check_disk(ctx)
    assert finding.status is Status.fail and str(tmp_path) in finding.what


# -- identities, probed with requests that change nothing ------------------------------------------


class _Client:
    """A stand-in S3 client: every call is allowed (and finds nothing), or refused."""

    def __init__(self, refuse: bool):
        self.refuse, self.calls = refuse, []

    def __getattr__(self, name):
        def call(**kwargs):
            self.calls.append((name, kwargs))
            code = "AccessDenied" if self.refuse else "NoSuchKey"
            raise ClientError({"Error": {"Code": code, "Message": code}}, name)
        return call


def test_identity_probes_tell_a_narrow_pipeline_from_one_that_may_destroy():
    narrow = {"pipeline": _Client(refuse=True), "archivist": _Client(refuse=False), "auditor": _Client(refuse=True)}
    found = doctor.identity_findings(narrow, "b")
    assert [f.status for f in found] == [Status.ok, Status.ok, Status.ok]
    calls = narrow["pipeline"].calls
    assert {name for name, _ in calls} == {"delete_object", "put_object_legal_hold"}
    for _, kwargs in calls:  # a key that cannot exist, under captures/
        assert kwargs["Key"].startswith("captures/somearkiv-doctor-probe/")
    assert [kw for name, kw in calls if name == "delete_object"][0]["BypassGovernanceRetention"] is True

    wide = {"pipeline": _Client(refuse=False), "auditor": _Client(refuse=False)}
    pipeline, auditor = doctor.identity_findings(wide, "b")
    assert pipeline.status is Status.fail and "delete object versions" in pipeline.what \
        and "lift legal holds" in pipeline.what
    assert auditor.status is Status.fail and "may write" in auditor.what
    stuck = doctor.identity_findings({"archivist": _Client(refuse=True)}, "b")
    assert stuck[0].status is Status.warn and "may not delete object versions" in stuck[0].what


def test_s3_bucket_and_identities_on_the_embedded_server(archive):
    ctx = _context()
    assert doctor.check_s3(ctx).status is Status.ok
    bucket = doctor.check_bucket(ctx)
    assert bucket.status is Status.ok and "Object Lock enabled, versioning enabled" in bucket.what
    found = doctor.check_identities(ctx)
    assert [f.status for f in found] == [Status.ok] * 4, found
    assert "pipeline identity may not delete versions" in found[1].what


def test_a_bucket_without_object_lock_is_a_failure(archive, admin_client):
    admin_client.create_bucket(Bucket="doctor-no-lock")
    finding = doctor.check_bucket(_context(s3_bucket="doctor-no-lock"))
    assert finding.status is Status.fail and "no Object Lock" in finding.what


# -- register, metrics, logins ---------------------------------------------------------------------


def test_register_unreadable_is_a_failure(tmp_path):
    bad = tmp_path / "accounts.yaml"
    bad.write_text("register_version: 1\nmunicipality: X\naccounts:\n  - id: Not Valid\n", encoding="utf-8")
    finding = doctor.check_register(_context(register=bad))
    assert finding.status is Status.fail and "register check" in finding.todo
    assert doctor.check_metrics(_context(register=bad))[0].status is Status.warn
    good = _register(tmp_path, ("a-blog", "blog", "blogg", "https://blogg.perstorp.se/"))
    assert doctor.check_register(_context(register=good)).status is Status.ok


def test_metrics_credentials_each_account_with_page_fallback_stated(tmp_path):
    register = _register(
        tmp_path,
        ("ok-youtube", "youtube", "@perstorpskommun", "https://www.youtube.com/@perstorpskommun"),
        ("bad-x", "x", "@perstorp", "https://x.com/perstorp"),
        ("a-blog", "blog", "blogg", "https://blogg.perstorp.se/"))
    with ApiDouble(page_size=5) as double:
        double.add("youtube", Post(NOW - dt.timedelta(days=3)))
        env = {k: v for k, v in double.env().items() if k.startswith(("SOMEARKIV_YOUTUBE", "SOMEARKIV_X_API"))}
        env["SOMEARKIV_X_TOKEN"] = "wrong-x-token-S3CRET"
        found = {f.what.split(" ")[0]: f for f in doctor.check_metrics(_context(register=register, env=env,
                                                                                metrics_api=True))}
    assert found["ok-youtube"].status is Status.ok and f"{api_doubles.YOUTUBE['subscriberCount']} followers" \
        in found["ok-youtube"].what
    assert found["bad-x"].status is Status.warn and "S3CRET" not in found["bad-x"].what
    assert found["a-blog"].status is Status.ok and "page fallback" in found["a-blog"].what
    off = doctor.check_metrics(_context(register=register, metrics_api=False))
    assert [f.status for f in off] == [Status.ok] and "page" in off[0].what


def test_saved_logins_present_decryptable_and_not_stale(tmp_path):
    data = tmp_path / "data"
    key_file = tmp_path / "keys" / "session.key"
    key_file.parent.mkdir()
    key_file.write_bytes(Fernet.generate_key())
    key_file.chmod(0o600)
    register = _register(tmp_path, *[(i, "blog", "blogg", "https://blogg.perstorp.se/")
                                     for i in ("fresh", "expired", "foreign", "none")])
    store = SessionStore(data / "sessions", key_file.read_bytes())
    future = (NOW + dt.timedelta(days=200)).timestamp()
    store.save("fresh", {"cookies": [{"name": "s", "value": "v", "expires": future}], "origins": []}, "redaktör", None)
    store.save("expired", {"cookies": [{"name": "s", "value": "v", "expires": 1000.0}], "origins": []}, "redaktör",
               None)
    SessionStore(data / "sessions", Fernet.generate_key()).save("foreign", {"cookies": []}, "redaktör", None)
    ctx = _context(register=register, data_dir=data, session_key_file=key_file, session_key=None)
    found = {f.what.split(":")[0]: f for f in doctor.check_logins(ctx)}
    assert set(found) == {"fresh", "expired", "foreign"}  # "none" has no login: nothing to check
    assert found["fresh"].status is Status.ok and "as redaktör" in found["fresh"].what
    assert found["expired"].status is Status.warn and "expired" in found["expired"].what \
        and "somearkiv login expired" in found["expired"].todo
    assert found["foreign"].status is Status.fail and "cannot be decrypted" in found["foreign"].what

    ctx.now = dt.datetime.now(dt.UTC) + dt.timedelta(days=90)
    old = doctor.check_logins(ctx)[0]
    assert old.check == "login" and old.status is Status.warn and old.what.startswith("fresh: ") \
        and "90 days ago (over 60)" in old.what

    key_file.unlink()  # a machine without the key
    [finding] = doctor.check_logins(_context(register=register, data_dir=data, session_key_file=key_file,
                                             session_key=None))
    assert finding.status is Status.fail and "3 account(s)" in finding.what


# -- TSA ---------------------------------------------------------------------------------------------


def test_tsa_not_configured_answering_and_not_answering(tmp_path):
    assert doctor.check_tsa(_context(tsa_url=None)).status is Status.warn
    with TsaDouble() as tsa:
        ca = tmp_path / "tsa-ca.pem"
        ca.write_bytes(tsa.ca_pem)
        finding = doctor.check_tsa(_context(tsa_url=tsa.url, tsa_ca_file=ca))
        assert finding.status is Status.ok, finding
        no_ca = doctor.check_tsa(_context(tsa_url=tsa.url, tsa_ca_file=None))
        assert no_ca.status is Status.warn and "SOMEARKIV_TSA_CA_FILE" in no_ca.todo
        url = tsa.url
    gone = doctor.check_tsa(_context(tsa_url=url, tsa_ca_file=ca, tsa_timeout_s=3))
    assert gone.status is Status.warn and "unsealed" in gone.todo


# -- Prefect ----------------------------------------------------------------------------------------


class _PrefectDouble:
    """/api/health for anyone; every other path only with the Basic login (as PREFECT_SERVER_API_AUTH_STRING)."""

    def __init__(self, auth: str | None):
        expected = None if auth is None else "Basic " + base64.b64encode(auth.encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                ok = self.path == "/api/health" or expected is None or self.headers.get("Authorization") == expected
                body = b'"3.9.1"' if ok else b'{"exception_message": "Unauthorized"}'
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api = f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _prefect(api: str | None, auth: str | None = None, tmp_path: Path | None = None) -> Finding:
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api, PREFECT_API_AUTH_STRING: auth}):
        return doctor.check_prefect(_context(data_dir=tmp_path or Path("/nonexistent"), prefect_port=1))


def test_prefect_reachable_and_logged_in(tmp_path):
    with _PrefectDouble("somearkiv:s3cret") as server:
        assert _prefect(server.api, "somearkiv:s3cret").status is Status.ok
        missing = _prefect(server.api, None)
        assert missing.status is Status.fail and "PREFECT_API_AUTH_STRING is not set" in missing.what
        wrong = _prefect(server.api, "somearkiv:wrong")
        assert wrong.status is Status.fail and "refuses" in wrong.what
    with _PrefectDouble(None) as server:
        open_local = _prefect(server.api)
        assert open_local.status is Status.ok and "only this machine" in open_local.what
    down = _prefect(server.api)  # the same address, nobody listening
    assert down.status is Status.fail and "does not answer" in down.what
    unset = _prefect(None, tmp_path=tmp_path)
    assert unset.status is Status.ok and "PREFECT_API_URL is not set" in unset.what
    assert not doctor._is_loopback_url("http://prefect.example.se:4200/api")


# -- the command and the flow ----------------------------------------------------------------------


def test_doctor_command_and_flow(archive, prefect_server, tmp_path, monkeypatch):
    register = _register(tmp_path, ("a-blog", "blog", "blogg", "https://blogg.perstorp.se/"))
    runner = CliRunner()
    result = runner.invoke(app, ["doctor", "--json", "--register", str(register)])
    report = json.loads(result.output)
    statuses = {f["check"]: f["status"] for f in report["checks"]}
    assert result.exit_code == 0 and report["ok"], result.output
    assert statuses["prefect"] == statuses["s3"] == statuses["bucket"] == statuses["chromium"] == "ok"
    assert statuses["register"] == "ok" and statuses["tsa"] == "warn"

    monkeypatch.setenv("SOMEARKIV_BROWSER_PATH", "/nonexistent/chromium")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["doctor", "--register", str(register)])
        assert result.exit_code == 1
        [line] = [line for line in result.output.splitlines() if line.startswith("FAIL")]
        assert "chromium" in line and "-> fix SOMEARKIV_BROWSER_PATH" in line

        from flows.doctor import doctor as doctor_flow

        monkeypatch.setenv("SOMEARKIV_REGISTER_PATH", str(register))
        get_settings.cache_clear()
        state = doctor_flow(return_state=True)
        assert state.is_failed() and "chromium" in state.message
    finally:
        monkeypatch.delenv("SOMEARKIV_BROWSER_PATH")
        get_settings.cache_clear()
    state = doctor_flow(return_state=True)
    assert state.is_completed(), state.message


# -- migrate-to-workers -----------------------------------------------------------------------------


def test_migrate_to_workers_removes_serve_deployments_and_their_triggers(prefect_server):
    from prefect.client.orchestration import get_client

    from deployments.definitions import SERVE_SUFFIX, served_deployments
    from deployments.migrate import migrate_to_workers

    served = {d.name: d for d in served_deployments(get_settings())}
    change = served["before-major-change" + SERVE_SUFFIX]
    serve_id = change.apply()
    kept = served["verify-fixity" + SERVE_SUFFIX]
    kept.name = "verify-fixity"  # as prefect.yaml's would be: not ours to remove
    kept_id = kept.apply()

    async def related(deployment_id):
        async with get_client() as client:
            return [a.name for a in await client.read_resource_related_automations(
                f"prefect.deployment.{deployment_id}")]

    async def exists(deployment_id):
        async with get_client() as client:
            return any(d.id == deployment_id for d in await client.read_deployments())

    assert asyncio.run(related(serve_id)) == ["major change announced"]

    result = CliRunner().invoke(app, ["migrate-to-workers", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would remove deployment before-major-change/before-major-change-serve" in result.output
    assert "trigger(s): major change announced" in result.output and "nothing was changed" in result.output
    assert asyncio.run(exists(serve_id)) and asyncio.run(related(serve_id)) == ["major change announced"]

    [removed] = migrate_to_workers()
    assert removed.name == "before-major-change/before-major-change-serve"
    assert removed.triggers == ["major change announced"] and removed.others == []
    assert not asyncio.run(exists(serve_id)) and asyncio.run(related(serve_id)) == []
    assert asyncio.run(exists(kept_id))

    result = CliRunner().invoke(app, ["migrate-to-workers"])
    assert result.exit_code == 0 and "nothing to do" in result.output

    async def delete(deployment_id):  # leave the session's server as it was
        async with get_client() as client:
            await client.delete_deployment(deployment_id)

    asyncio.run(delete(kept_id))


# -- the service examples ---------------------------------------------------------------------------


def test_kubernetes_base_job_template_is_a_valid_work_pool_template():
    from prefect.server.schemas.actions import WorkPoolCreate
    from prefect.utilities.templating import find_placeholders

    from somearkiv.settings import PROJECT_ROOT

    template = json.loads((PROJECT_ROOT / "deployments" / "kubernetes" / "base-job-template.json").read_text())
    WorkPoolCreate(name="somearkiv", type="kubernetes", base_job_template=template)
    used = {p.name for p in find_placeholders(template["job_configuration"])}
    assert used <= set(template["variables"]["properties"])
    [container] = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]["containers"]
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/dev/shm", "/var/lib/somearkiv/data"}


def test_stop_flow_runs_script_ends_the_children_only(tmp_path):
    import subprocess
    import sys
    import time

    from somearkiv.settings import PROJECT_ROOT

    script = PROJECT_ROOT / "deployments" / "systemd" / "stop-flow-runs.sh"
    # a stand-in worker with two "flow runs"; it reports that they ended, then lives on
    worker = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "runs = [subprocess.Popen(['sleep', '60']) for _ in range(2)]\n"
        "print(sorted(r.wait() for r in runs), flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        started = time.monotonic()
        subprocess.run([str(script), str(worker.pid), "10"], check=True, timeout=30)
        assert time.monotonic() - started < 5
        assert worker.stdout.readline().strip() == "[-15, -15]"  # both ended by SIGTERM
        assert worker.poll() is None  # the worker itself is systemd's to stop
        subprocess.run([str(script), "", "10"], check=True, timeout=5)  # no main process: nothing to do
    finally:
        worker.kill()
        worker.wait()
