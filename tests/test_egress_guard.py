"""The egress guard's allow-list with ports, and the archive's own services it never lets through.

Network rule of this file: traffic only to 127.0.0.0/8. The policy's decisions are tested
directly (address literals need no lookup; names are answered by a fake resolver), and the
end-to-end test drives real Chromium against two small servers on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import http.server
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from somearkiv.models import CaptureStatus, Trigger
from somearkiv.settings import Settings, get_settings
from tasks.capture import PageUnavailableError, capture_account, egress
from tasks.capture.browser import find_browser, get_pool
from tasks.capture.egress import EgressPolicy, protected_endpoints, split_host_port

from .factories import account

OWN = "one of the archive's own services"


@pytest.fixture
def fake_dns(monkeypatch):
    """Answer name lookups from a table (no resolver is asked); this machine's name is 'archive-host'."""
    table: dict[str, list[str]] = {"localhost": ["127.0.0.1", "::1"], "archive-host": ["127.0.1.1"]}

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's names
        try:
            ipaddress.ip_address(host)
            answers = [host]
        except ValueError:
            answers = table.get(host.lower().rstrip("."))
            if answers is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port or 0)) for a in answers]

    monkeypatch.setattr(egress.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(egress.socket, "gethostname", lambda: "archive-host")
    return table


# -- the allow-list ------------------------------------------------------------------------------


@pytest.mark.parametrize("entry, expected", [
    ("127.0.0.1", ("127.0.0.1", None)),
    ("127.0.0.1:8791", ("127.0.0.1", 8791)),
    ("Intranet.Example.:8080", ("intranet.example", 8080)),
    ("localhost", ("localhost", None)),
    ("::1", ("::1", None)),
    ("fd00::/8", ("fd00::/8", None)),
    ("[::1]", ("::1", None)),
    ("[::1]:9000", ("::1", 9000)),
    ("10.20.0.0/16", ("10.20.0.0/16", None)),
])
def test_allow_list_entries_are_split_into_host_and_port(entry, expected):
    assert split_host_port(entry) == expected


@pytest.mark.parametrize("entry", ["127.0.0.1:http", "127.0.0.1:0", "127.0.0.1:65536", "[::1", "[::1]9000",
                                   ":80", "[]:80", "http://127.0.0.1/"])
def test_malformed_entries_are_refused_loudly(entry):
    with pytest.raises(ValueError):
        EgressPolicy((entry,))


def test_an_entry_with_a_port_allows_that_port_only():
    policy = EgressPolicy(("127.0.0.1:8791", "[::1]:8792", "10.20.0.0/16"))
    assert policy.decide("127.0.0.1", 8791).allowed
    refused = policy.decide("127.0.0.1", 8792)
    assert not refused.allowed and "loopback" in refused.reason and "port 8791 only" in refused.reason
    assert policy.decide("[::1]", 8792).allowed and not policy.decide("[::1]", 8791).allowed
    assert policy.check_url("http://127.0.0.1:8791/page").allowed
    assert not policy.check_url("http://127.0.0.1/").allowed  # port 80
    assert policy.decide("10.20.3.4", 22).allowed  # an entry without a port: every port, as before
    assert policy.decide("93.184.216.34", 8443).allowed  # public addresses: every port, no lookup


def test_a_name_with_a_port_allows_that_name_on_that_port_only(fake_dns):
    policy = EgressPolicy(("localhost:8791",))
    assert policy.decide("localhost", 8791).allowed
    assert not policy.decide("localhost", 8792).allowed
    assert not policy.decide("127.0.0.1", 8791).allowed  # the name was allowed, not its address


def test_entries_without_ports_keep_allowing_every_port(fake_dns):
    policy = EgressPolicy(("127.0.0.1", "localhost"))
    for port in (80, 8791, 65535):
        assert policy.decide("127.0.0.1", port).allowed and policy.decide("localhost", port).allowed


# -- the archive's own services --------------------------------------------------------------------


ALLOW_ALL_LOOPBACK = ("127.0.0.1", "127.0.0.2", "127.0.0.0/8", "localhost", "::1", "0.0.0.0", "::",
                      "::ffff:127.0.0.1")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "127.255.255.254", "localhost", "LOCALHOST.",
                                  "[::1]", "::1", "::ffff:127.0.0.1", "[::ffff:7f00:2]", "0.0.0.0", "::",
                                  "archive-host", "127.0.1.1"])
def test_protected_ports_are_refused_on_every_loopback_alias_whatever_is_allowed(fake_dns, host):
    policy = EgressPolicy(ALLOW_ALL_LOOPBACK, protected=("127.0.0.1:18336", "127.0.0.1:4200"))
    decision = policy.decide(host, 18336)
    assert not decision.allowed and OWN in decision.reason and "whatever the allow-list says" in decision.reason
    assert not policy.decide(host, 4200).allowed
    assert policy.decide(host, 18340).allowed  # only the protected ports


def test_the_refusal_names_the_address_and_port():
    policy = EgressPolicy(("127.0.0.1",), protected=("127.0.0.1:18336",))
    assert policy.decide("127.0.0.1", 18336).reason == (
        "127.0.0.1 → 127.0.0.1:18336 is one of the archive's own services (refused whatever the allow-list says)")
    assert "[::1]:18336 is one of" in EgressPolicy(("::1",), protected=("127.0.0.1:18336",)).decide("::1", 18336).reason
    assert not policy.check_url("http://127.0.0.1:18336/col/delete?collection=x").allowed
    assert not policy.check_url("http://[::ffff:127.0.0.1]:18336/").allowed


@pytest.mark.parametrize("protected", ["localhost:9000", "[::1]:9000", "127.0.0.5:9000", "0.0.0.0:9000",
                                       "archive-host:9000"])
def test_a_protected_service_on_this_machine_stands_for_every_local_address(fake_dns, protected):
    policy = EgressPolicy(ALLOW_ALL_LOOPBACK, protected=(protected,))
    for host in ("127.0.0.1", "127.0.0.9", "localhost", "::1", "::ffff:127.0.0.1", "0.0.0.0", "127.0.1.1"):
        assert not policy.decide(host, 9000).allowed, host
        assert policy.decide(host, 9001).allowed, host


def test_the_machines_own_addresses_are_protected_too(fake_dns):
    fake_dns["archive-host"] = ["10.9.8.7"]
    policy = EgressPolicy(("10.0.0.0/8",), protected=("127.0.0.1:18336",))
    assert not policy.decide("10.9.8.7", 18336).allowed
    assert policy.decide("10.9.8.6", 18336).allowed  # another machine's service on that port
    assert policy.decide("10.9.8.7", 80).allowed


def test_a_protected_endpoint_elsewhere_is_refused_by_address_and_name(fake_dns):
    fake_dns.update({"minio.intern": ["10.1.2.3"], "alias.intern": ["10.1.2.3"], "other.intern": ["10.1.2.4"],
                     "mixed.example": ["93.184.216.34", "10.1.2.3"]})
    policy = EgressPolicy(("10.0.0.0/8",), protected=("minio.intern:9000",))
    for host in ("minio.intern", "alias.intern", "10.1.2.3", "::ffff:10.1.2.3", "mixed.example"):
        decision = policy.decide(host, 9000)
        assert not decision.allowed and OWN in decision.reason, host
    assert policy.decide("10.1.2.3", 9001).allowed
    assert policy.decide("other.intern", 9000).allowed  # not on this machine: no port-wide rule


def test_a_public_protected_name_is_refused_by_name_only(fake_dns):
    """Its addresses may be shared (Prefect Cloud and S3 sit behind CDNs): unrelated sites stay reachable."""
    fake_dns.update({"api.prefect.example": ["93.184.216.34"], "someone-else.example": ["93.184.216.34"]})
    policy = EgressPolicy((), protected=("api.prefect.example:443", "93.184.216.35:443"))
    assert not policy.decide("api.prefect.example", 443).allowed
    assert not policy.decide("93.184.216.35", 443).allowed  # an address given is refused as given
    assert not policy.decide("API.Prefect.Example.", 443).allowed
    assert policy.decide("someone-else.example", 443).allowed
    assert policy.decide("api.prefect.example", 8443).allowed


def test_a_protected_endpoint_needs_a_port():
    with pytest.raises(ValueError, match="no port"):
        EgressPolicy((), protected=("127.0.0.1",))


def test_protected_endpoints_of_the_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4555/api")
    settings = Settings(data_dir=tmp_path, s3_embedded=True, s3_embedded_port=18500,
                        s3_endpoint_url="https://minio.intern:9000", prefect_port=4321)
    endpoints = protected_endpoints(settings)
    assert {f"127.0.0.1:{p}" for p in range(18500, 18510)} | {"127.0.0.1:28508"} <= set(endpoints)
    assert {"minio.intern:9000", "127.0.0.1:4555", "127.0.0.1:4321"} <= set(endpoints)

    monkeypatch.delenv("PREFECT_API_URL")
    only_s3 = protected_endpoints(Settings(data_dir=tmp_path, s3_endpoint_url="http://[::1]:9000",
                                           s3_embedded_port=18500))
    assert "[::1]:9000" in only_s3 and "127.0.0.1:18506" not in only_s3  # no embedded server then
    assert "minio.intern:443" in protected_endpoints(Settings(data_dir=tmp_path,
                                                              s3_endpoint_url="https://minio.intern"))


def test_the_shared_pool_takes_the_latest_policy():
    s = get_settings()
    first = EgressPolicy(("127.0.0.1",))
    second = EgressPolicy(("127.0.0.1",), protected=("127.0.0.1:18336",))
    pool = get_pool(find_browser(s.browser_path), s.capture_concurrency, first)
    assert pool.proxy.policy is first
    assert get_pool(find_browser(s.browser_path), s.capture_concurrency, second) is pool
    assert pool.proxy.policy is second and not pool.proxy.policy.decide("127.0.0.1", 18336).allowed


def test_a_start_page_on_a_protected_port_is_refused_before_any_traffic(tmp_path):
    s = get_settings().model_copy(update={"data_dir": tmp_path, "mobile_view": False})
    with pytest.raises(PageUnavailableError, match=OWN):
        capture_account(account(id="trap", url=f"http://127.0.0.1:{s.prefect_port}/api/flows"),
                        municipality="P", trigger=Trigger.manual, settings=s)


# -- end to end: real Chromium must never reach a protected service ---------------------------------


class _Victim(http.server.ThreadingHTTPServer):
    """Records every connection and request; answers 200 (it would, if the guard let anything through)."""

    daemon_threads = True

    def __init__(self, host: str, port: int, log: list[str]):
        self.log = log

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_one_request(self):
                super().handle_one_request()
                if getattr(self, "requestline", ""):
                    log.append(f"{host}: {self.requestline}")

            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_DELETE = do_OPTIONS = do_PUT = do_GET  # noqa: N815

        super().__init__((host, port), Handler)

    def verify_request(self, request, client_address):
        self.log.append(f"connection from {client_address}")
        return True


def _serve(server: http.server.HTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def victim():
    """A 'service of the archive' on 127.0.0.1:V and on the loopback alias 127.0.0.2:V (same port)."""
    log: list[str] = []
    for _ in range(20):
        first = _Victim("127.0.0.1", 0, log)
        port = first.server_address[1]
        try:
            second = _Victim("127.0.0.2", port, log)
            break
        except OSError as exc:
            first.server_close()
            if exc.errno != errno.EADDRINUSE:
                raise
    else:
        pytest.fail("no port free on both 127.0.0.1 and 127.0.0.2")
    servers = [first, second]
    for server in servers:
        _serve(server)
    yield port, log
    for server in servers:
        server.shutdown()
        server.server_close()


def _page(victim_port: int) -> str:
    v = victim_port
    return f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Perstorps kommun</title></head>
<body style="font: 20px sans-serif">
<h1>Perstorps kommun</h1>
<p>En startsida som försöker nå arkivets egna tjänster.</p>
<img src="http://127.0.0.1:{v}/col/delete?collection=x" alt="">
<img src="http://localhost:{v}/via-localhost" alt="">
<img src="http://127.0.0.2:{v}/via-alias" alt="">
<img src="http://[::ffff:127.0.0.1]:{v}/via-mapped" alt="">
<img src="/hop" alt="">
<iframe src="http://127.0.0.1:{v}/frame" width="200" height="50"></iframe>
<script>
  fetch("http://127.0.0.1:{v}/buckets/somearkiv", {{method: "DELETE"}}).catch(() => {{}});
  fetch("http://127.0.0.1:{v}/no-cors-post", {{method: "POST", mode: "no-cors", body: "x"}}).catch(() => {{}});
</script>
</body></html>"""


@pytest.fixture
def page_server(victim):
    port, _ = victim
    body = _page(port).encode()
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            requests.append(self.path)
            if self.path == "/hop":  # a redirect hop to the service: the proxy sees the hop as its own request
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{port}/via-redirect")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = body if self.path == "/" else b""
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    _serve(server)
    yield f"http://127.0.0.1:{server.server_address[1]}/", requests
    server.shutdown()
    server.server_close()


@pytest.mark.browser
def test_chromium_never_reaches_a_protected_service(victim, page_server, tmp_path):
    victim_port, victim_log = victim
    url, page_requests = page_server
    # The victim is the archive's S3 endpoint (say a MinIO on this machine), wired as in production:
    # capture_account builds the policy with protected_endpoints(settings).
    s = get_settings().model_copy(update={
        "data_dir": tmp_path, "mobile_view": False, "allowed_hosts": ["127.0.0.1", "127.0.0.2", "localhost"],
        "s3_endpoint_url": f"http://127.0.0.1:{victim_port}",
    })
    assert f"127.0.0.1:{victim_port}" in protected_endpoints(s)

    record, folder = capture_account(account(id="trap", url=url), municipality="Perstorps kommun",
                                     trigger=Trigger.manual, settings=s)

    assert victim_log == []  # not one connection, on either address
    assert record.status is CaptureStatus.captured and record.wall is None
    assert "/hop" in page_requests and (folder / "page.html").exists()
    refused = {b.target: b.reason for b in record.blocked_requests if f":{victim_port}" in b.target}
    for path in ("/col/delete?collection=x", "/frame", "/buckets/somearkiv", "/no-cors-post", "/via-redirect"):
        target = f"http://127.0.0.1:{victim_port}{path}"
        assert target in refused, (target, record.blocked_requests)
        assert f"127.0.0.1:{victim_port} is {OWN}" in refused[target]
    for host in ("localhost", "127.0.0.2"):
        target = next((t for t in refused if t.startswith(f"http://{host}:{victim_port}/")), None)
        assert target is not None, (host, record.blocked_requests)
        assert OWN in refused[target]
    mapped = [t for t in refused if "via-mapped" in t]
    assert mapped and all(OWN in refused[t] for t in mapped)
    assert all(OWN in reason for reason in refused.values())


# -- the proxy's own process ---------------------------------------------------------------------


def _through(proxy_port: int, request: bytes) -> bytes:
    """Send *request* to the proxy as the browser would; its answer's status line."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as conn:
        conn.sendall(request)
        return conn.makefile("rb").readline()


def _basic(token: str) -> bytes:
    return b"Proxy-Authorization: Basic " + base64.b64encode(f"{token}:{token}".encode()) + b"\r\n"


def test_the_proxy_runs_lean_lets_only_admitted_tokens_through_and_reports_refusals(page_server, monkeypatch):
    """The proxy parses what pages make the browser send: it runs without the flow's credentials,
    addresses or libraries; it lets through only the tokens of open views (a local process that finds
    its port gets nowhere), and what it refuses still reaches the capture that asked."""
    url, page_requests = page_server
    monkeypatch.setenv("SOMEARKIV_TSA_PASSWORD", "not-for-the-proxy")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-the-proxy-either")

    async def scenario():
        proxy = egress.EgressProxy(EgressPolicy(("127.0.0.1",)))
        port = await proxy.start()
        pid = proxy._process.pid
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            assert b"not-for-the-proxy" not in environ
            assert not any(name in environ for name in (b"SOMEARKIV_", b"PREFECT_", b"AWS_"))
            assert b"\0-I\0" in Path(f"/proc/{pid}/cmdline").read_bytes()  # isolated: the standard library only
            assert "site-packages" not in Path(f"/proc/{pid}/maps").read_text()
            loop = asyncio.get_running_loop()
            ask = lambda request: loop.run_in_executor(None, _through, port, request)  # noqa: E731
            get = f"GET {url} HTTP/1.1\r\nHost: x\r\n".encode()
            assert b" 407 " in await ask(get + b"\r\n")  # no token
            assert b" 407 " in await ask(get + _basic("v1") + b"\r\n")  # a token not admitted (yet)
            assert b" 407 " in await ask(b"CONNECT 127.0.0.1:443 HTTP/1.1\r\n" + _basic("v1") + b"\r\n")
            for token in ("v1", "v2", "v3"):
                proxy.admit(token)
            await proxy.sync()
            assert b" 200 " in await ask(get + _basic("v1") + b"\r\n")
            assert page_requests == ["/"]
            assert b" 403 " in await ask(b"CONNECT 127.0.0.2:443 HTTP/1.1\r\n" + _basic("v1") + b"\r\n")
            assert b" 403 " in await ask(b"GET ftp://127.0.0.1/x HTTP/1.1\r\n" + _basic("v2") + b"\r\n")
            refused = await proxy.take_blocked("v1")  # read at once: the sync makes sure it has come back
            assert [(b.target, "127.0.0.2 is a loopback address" in b.reason) for b in refused] == [
                ("127.0.0.2:443", True)]
            assert await proxy.take_blocked("v1") == [] and len(await proxy.blocked_so_far("v2")) == 1
            assert b" 407 " in await ask(get + _basic("v1") + b"\r\n")  # taken: its context is closed
            proxy.policy = EgressPolicy(("127.0.0.1",), protected=(f"127.0.0.1:{int(url.rsplit(':', 1)[1][:-1])}",))
            await proxy.sync()  # the new policy is in force for the next request
            assert b" 403 " in await ask(get + _basic("v3") + b"\r\n")
            assert "archive's own services" in (await proxy.take_blocked("v3"))[0].reason
            assert page_requests == ["/"]
        finally:
            await proxy.stop()
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()

    asyncio.run(scenario())


@pytest.mark.browser
def test_a_proxy_process_that_died_is_started_again_for_the_next_capture(page_server, tmp_path):
    url, _ = page_server
    s = get_settings().model_copy(update={"data_dir": tmp_path, "mobile_view": False,
                                          "allowed_hosts": ["127.0.0.1"]})
    first, _ = capture_account(account(id="before", url=url), municipality="P", trigger=Trigger.manual, settings=s)
    pool = get_pool(find_browser(s.browser_path), s.capture_concurrency, EgressPolicy(("127.0.0.1",)))
    old = pool.proxy._process.pid
    os.kill(old, signal.SIGKILL)
    second, folder = capture_account(account(id="after", url=url), municipality="P", trigger=Trigger.manual,
                                     settings=s)
    assert first.status is CaptureStatus.captured and second.status is CaptureStatus.captured
    assert pool.proxy._process.pid != old and "Perstorps kommun" in (folder / "page.html").read_text()


def test_the_proxy_process_ends_with_the_process_that_started_it(tmp_path):
    """A flow process that is killed leaves no proxy behind: the proxy reads EOF on its input and ends."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import asyncio, sys, time\n"
        "from tasks.capture.egress import EgressPolicy, EgressProxy\n"
        "async def main():\n"
        "    proxy = EgressProxy(EgressPolicy())\n"
        "    await proxy.start()\n"
        "    print(proxy._process.pid, flush=True)\n"
        "    time.sleep(60)\n"
        "asyncio.run(main())\n")
    root = Path(egress.__file__).parents[2]
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=root,
                              env={**os.environ, "PYTHONPATH": str(root)})
    try:
        proxy_pid = int(parent.stdout.readline())
        assert Path(f"/proc/{proxy_pid}").exists()
    finally:
        parent.kill()
        parent.wait()
    for _ in range(50):
        if not Path(f"/proc/{proxy_pid}").exists() or "zombie" in Path(f"/proc/{proxy_pid}/status").read_text():
            break
        time.sleep(0.1)
    else:
        pytest.fail("the proxy process outlived the process that started it")


def test_a_view_whose_context_cannot_be_made_leaves_no_token_admitted(tmp_path):
    from tasks.capture import View, run_view
    from tasks.capture.steps import DESKTOP_STEPS

    class Refusing:  # a browser that cannot make the context (it crashed, say)
        async def new_context(self, **options):
            raise RuntimeError("the browser has gone")

    async def scenario():
        proxy = egress.EgressProxy(EgressPolicy())
        await proxy.start()
        try:
            with pytest.raises(RuntimeError, match="gone"):
                await run_view(Refusing(), account(id="a"), View.desktop(get_settings()), tmp_path, proxy,
                               DESKTOP_STEPS)
            assert proxy._admitted == set()
        finally:
            await proxy.stop()

    asyncio.run(scenario())
