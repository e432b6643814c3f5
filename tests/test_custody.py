"""Custody nobody can break quietly, against a real SeaweedFS: least-privilege identities, a
locked-down server, the hash-chained ledger, and fixity that finds every kind of tampering.

The attacker is played by SeaweedFS's internal administrator (``admin_client``: someone who got
the server's files) and by every identity somearkiv hands out. Tests that tamper use a bucket of
their own, so the shared test bucket stays intact for the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
import subprocess
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from deployments.cli import app
from somearkiv.models import LockMode, ObjectLock
from somearkiv.settings import get_settings
from storage import Archive, EmbeddedS3
from storage import archive as archive_module
from storage.custody import check_custody, check_key
from storage.gateway import S3Call, refusal

from .factories import account, capture_files

NOW = dt.datetime.now(dt.UTC)
HELD = ObjectLock(mode=LockMode.GOVERNANCE, retain_until=NOW + dt.timedelta(days=30), legal_hold=True)
LOOSE = ObjectLock(mode=LockMode.GOVERNANCE, retain_until=NOW + dt.timedelta(days=30), legal_hold=False)


def _client(server: EmbeddedS3, role: str, endpoint: str | None = None, secret: str | None = None):
    key, real_secret = server.credentials(role)
    return boto3.client("s3", endpoint_url=endpoint or server.endpoint_url, aws_access_key_id=key,
                        aws_secret_access_key=secret or real_secret, region_name="us-east-1",
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}, request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))


@pytest.fixture
def own_bucket(s3_server, monkeypatch, request):
    """A fresh bucket for this test, made the configured one (settings and connected clients)."""
    name = "custody-" + hashlib.sha256(request.node.name.encode()).hexdigest()[:10]
    s3_server.ensure_bucket(name)
    monkeypatch.setenv("SOMEARKIV_S3_BUCKET", name)
    get_settings.cache_clear()
    yield name
    get_settings.cache_clear()


def _file(archive: Archive, tmp_path, account_id: str, lock: ObjectLock = HELD, second: int = 0):
    started = dt.datetime(2026, 3, 1, 6, 0, second, tzinfo=dt.UTC)
    rec, folder = capture_files(tmp_path / f"{account_id}-{second}", started, account=account(id=account_id),
                                content=f"<html>{account_id} {second}</html>".encode())
    return archive.file_capture(rec, folder, lock)


def _refused(call) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


# -- identities ---------------------------------------------------------------------------------------


def test_the_pipeline_identity_can_file_but_never_destroy_unlock_or_reconfigure(s3_server, archive, tmp_path):
    filed = _file(archive, tmp_path, "custody-pipeline")
    png = filed.file("startpage.png")
    pipeline, bucket = _client(s3_server, "pipeline"), archive.bucket
    key, version = png.key, png.version_id
    future = NOW + dt.timedelta(days=1)
    attacks = {
        "delete marker": lambda: pipeline.delete_object(Bucket=bucket, Key=key),
        "delete version": lambda: pipeline.delete_object(Bucket=bucket, Key=key, VersionId=version),
        "delete with bypass": lambda: pipeline.delete_object(Bucket=bucket, Key=key, VersionId=version,
                                                             BypassGovernanceRetention=True),
        "lift hold": lambda: pipeline.put_object_legal_hold(Bucket=bucket, Key=key, VersionId=version,
                                                            LegalHold={"Status": "OFF"}),
        "shorten retention": lambda: pipeline.put_object_retention(
            Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future}),
        "bucket policy": lambda: pipeline.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                    "Resource": f"arn:aws:s3:::{bucket}/*"}]})),
        "lifecycle": lambda: pipeline.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
            "Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]}),
        "lock configuration": lambda: pipeline.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}),
        "suspend versioning": lambda: pipeline.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}),
        "overwrite": lambda: pipeline.put_object(Bucket=bucket, Key=key, Body=b"forged"),
        "unlocked object": lambda: pipeline.put_object(Bucket=bucket, Key="captures/x/y/z.html", Body=b"x",
                                                       IfNoneMatch="*"),
        "copy over": lambda: pipeline.copy_object(Bucket=bucket, Key="captures/x/y/c.html",
                                                  CopySource={"Bucket": bucket, "Key": key}),
        "multi-object delete": lambda: pipeline.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}]}),
        "multipart": lambda: pipeline.create_multipart_upload(Bucket=bucket, Key="captures/x/y/m.bin"),
        "delete bucket": lambda: pipeline.delete_bucket(Bucket=bucket),
    }
    for name, attack in attacks.items():
        assert _refused(attack) == "AccessDenied", name
    info = archive.head(key, version)
    assert info.legal_hold and info.sha256 == png.sha256
    assert archive.head(key).version_id == version  # still the current version


def test_the_archivist_holds_and_disposes_but_never_reconfigures_and_the_auditor_only_reads(s3_server, archive,
                                                                                           tmp_path):
    filed = _file(archive, tmp_path, "custody-roles", lock=LOOSE)
    html = filed.file("page.html")
    archivist, auditor, bucket = _client(s3_server, "archivist"), _client(s3_server, "auditor"), archive.bucket
    archivist.put_object_legal_hold(Bucket=bucket, Key=html.key, VersionId=html.version_id,
                                    LegalHold={"Status": "ON"})
    assert archive.head(html.key, html.version_id).legal_hold
    for name, attack in {
        "policy": lambda: archivist.put_bucket_policy(Bucket=bucket, Policy="{}"),
        "lifecycle": lambda: archivist.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
            "Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]}),
        "versioning": lambda: archivist.put_bucket_versioning(Bucket=bucket,
                                                              VersioningConfiguration={"Status": "Suspended"}),
        "delete marker": lambda: archivist.delete_object(Bucket=bucket, Key=html.key),
        "shorten with bypass": lambda: archivist.put_object_retention(
            Bucket=bucket, Key=html.key, VersionId=html.version_id, BypassGovernanceRetention=True,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": NOW + dt.timedelta(days=1)}),
        "auditor write": lambda: auditor.put_object(Bucket=bucket, Key="captures/a/b/c", Body=b"x", IfNoneMatch="*"),
        "auditor hold": lambda: auditor.put_object_legal_hold(Bucket=bucket, Key=html.key, VersionId=html.version_id,
                                                              LegalHold={"Status": "OFF"}),
        "auditor delete": lambda: auditor.delete_object(Bucket=bucket, Key=html.key, VersionId=html.version_id),
    }.items():
        assert _refused(attack) == "AccessDenied", name
    assert auditor.get_object(Bucket=bucket, Key=html.key)["Body"].read() == (tmp_path / "custody-roles-0" /
                                                                              "page.html").read_bytes()
    assert archive.head(html.key, html.version_id).legal_hold


def test_the_gateway_sends_an_answers_body_without_waiting_for_the_clients_ack(monkeypatch):
    """An answer leaves the gateway as two writes, its head and its body. With Nagle's algorithm on
    its connections the body waited for the client's delayed ACK of the head, about 40 ms: every GET
    took ~50 ms (measured on a 1 KB ledger entry: 52 ms, 8 ms with it off). Here: the socket of each
    connection the gateway accepts has TCP_NODELAY set."""
    import socket
    import threading

    from botocore.credentials import Credentials

    from storage import gateway

    nodelay: list[int] = []
    setup = gateway._Handler.setup

    def recorded(handler):
        setup(handler)
        nodelay.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(gateway._Handler, "setup", recorded)
    server = gateway.make_server(gateway.Rules(roles={}, admin=Credentials("admin", "secret"),
                                               upstream=("127.0.0.1", 9)), "127.0.0.1", 0)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:  # unsigned: refused, after the connection's setup
            urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/somearkiv/ledger/x", timeout=10)
        assert refused.value.code == 403
    finally:
        server.shutdown()
        server.server_close()
        serving.join(10)
    assert nodelay and all(nodelay), nodelay


def test_the_gateway_authenticates_every_request(s3_server, archive, tmp_path):
    filed = _file(archive, tmp_path, "custody-auth")
    key = filed.file("page.html").key
    url = archive.presigned_url(key, 60)
    assert urllib.request.urlopen(url).read().startswith(b"<html>")
    for bad in (url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), url.replace("page.html", "startpage.png"),
                archive.client.generate_presigned_url("get_object", Params={"Bucket": archive.bucket, "Key": key},
                                                      ExpiresIn=1).replace("X-Amz-Expires=1", "X-Amz-Expires=99"),
                s3_server.endpoint_url + f"/{archive.bucket}/{key}"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad)
        assert refused.value.code == 403 and "Access-Control-Allow-Origin" not in refused.value.headers
    assert _refused(lambda: _client(s3_server, "pipeline", secret="wrong").list_objects_v2(
        Bucket=archive.bucket)) == "SignatureDoesNotMatch"
    # the roles do not exist on SeaweedFS's own S3 port: only the gateway knows them
    direct = _client(s3_server, "archivist", endpoint=s3_server.internal_endpoint_url)
    assert _refused(lambda: direct.list_objects_v2(Bucket=archive.bucket)) == "InvalidAccessKeyId"


def test_the_permission_model_decides_each_call(archive):
    def call(method, key="k", query=(), **headers):
        return S3Call(method, "b", key, frozenset(query), {k.replace("_", "-"): v for k, v in headers.items()})

    locked = {"if_none_match": "*", "x_amz_object_lock_mode": "GOVERNANCE",
              "x_amz_object_lock_retain_until_date": "2030-01-01T00:00:00Z"}
    assert refusal("pipeline", call("PUT", "captures/a", **locked)) is None
    assert refusal("pipeline", call("PUT", "review/a.png", if_none_match="*")) is None
    assert refusal("pipeline", call("DELETE", "review/a.png", ("versionId",))) is None
    assert refusal("pipeline", call("PUT", "captures/a", **{**locked, "if_none_match": ""}))
    assert refusal("pipeline", call("PUT", "captures/a", **{**locked, "x_amz_bypass_governance_retention": "true"}))
    assert refusal("pipeline", call("DELETE", "captures/a", ("versionId",)))
    assert refusal("archivist", call("DELETE", "captures/a", ("versionId",))) is None
    assert refusal("archivist", call("DELETE", "captures/a"))  # no delete markers, even for the archivist
    assert refusal("archivist", call("PUT", "captures/a", ("legal-hold", "versionId"))) is None
    assert refusal("archivist", call("PUT", "", ("policy",)))
    assert refusal("archivist", call("PUT", "")) and refusal("archivist", call(
        "PUT", "", x_amz_bucket_object_lock_enabled="true")) is None
    assert refusal("auditor", call("GET", "captures/a", ("versionId",))) is None
    assert refusal("auditor", call("PUT", "captures/a", **locked))


# -- the server -------------------------------------------------------------------------------------


def _listening_ports(pids: set[int]) -> set[int]:
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    ports = set()
    for line in out.splitlines():
        if any(f"pid={pid}," in line for pid in pids):
            ports.add(int(line.split()[3].rsplit(":", 1)[1]))
    return ports


def _http(method: str, url: str, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=b"x" if method in (
        "PUT", "POST") else None)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)
    except (OSError, urllib.error.URLError) as error:  # a gRPC or TLS port hangs up on plain HTTP
        return 0, {"error": str(error)}


def test_every_port_the_server_opens_refuses_unauthenticated_writes(s3_server, archive, tmp_path):
    filed = _file(archive, tmp_path, "custody-ports")
    pids = {int((s3_server.root / name).read_text()) for name in ("weed.pid", "gateway.pid")}
    ports = _listening_ports(pids)
    assert ports and ports <= set(s3_server.listening_ports()), "every port is known and documented"
    bucket, key = archive.bucket, filed.file("startpage.png").key
    attacks = [("GET", f"/col/delete?collection={bucket}"), ("GET", "/vol/grow?count=1"),
               ("GET", "/vol/vacuum"), ("GET", "/dir/assign"), ("POST", "/submit"),
               ("DELETE", f"/buckets/{bucket}/{key}"), ("DELETE", f"/buckets/{bucket}?recursive=true"),
               ("DELETE", f"/{bucket}/{key}"), ("PUT", f"/buckets/{bucket}/captures/evil.html"),
               ("POST", f"/buckets/{bucket}/captures/"), ("DELETE", "/3,01637037d6"), ("PUT", "/3,01637037d6"),
               ("GET", "/cluster/status"), ("GET", f"/buckets/{bucket}/?pretty=y")]
    # SeaweedFS's volume server hard-codes "Access-Control-Allow-Origin: *" (no option changes it,
    # measured on 4.48); every request there needs a signed JWT, so a page gets 401 whatever CORS says.
    # Its S3 router adds the same header to its 405 answer for methods no S3 route has.
    cors_hardcoded = {s3_server.port("volume")}
    for port in sorted(ports):
        for method, path in attacks:
            status, headers = _http(method, f"http://127.0.0.1:{port}{path}", {"Origin": "http://evil.example"})
            assert status == 0 or status >= 300 or (method == "GET" and path.startswith("/cluster")), \
                (port, method, path, status)
            if port not in cors_hardcoded and not (port == s3_server.port("s3.internal") and status == 405):
                assert headers.get("Access-Control-Allow-Origin") not in ("*", "http://evil.example"), (port, path)
        status, headers = _http("OPTIONS", f"http://127.0.0.1:{port}/", {
            "Origin": "http://evil.example", "Access-Control-Request-Method": "DELETE"})
        if port not in cors_hardcoded:
            assert headers.get("Access-Control-Allow-Origin") not in ("*", "http://evil.example"), port
    volume = s3_server.port("volume")
    assert _http("GET", f"http://127.0.0.1:{volume}/3,01637037d6")[0] in (400, 401, 404)
    assert archive.read(key, filed.file("startpage.png").version_id)  # still there ...
    assert all(r.status == "ok" for f in filed.files for r in check_key(archive, f.key))  # ... and intact


def test_the_servers_files_are_private(s3_server, archive):
    """Every directory 0700 and every file 0600; a file SeaweedFS creates later with its own mode
    (a new volume's .vif) sits in a 0700 directory, so no other user reaches it either."""
    for path in [s3_server.root, *s3_server.root.rglob("*")]:
        if path.is_symlink() or path.is_socket():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
        else:
            assert mode & 0o022 == 0 and stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0, f"{path}"
    assert oct(stat.S_IMODE((s3_server.root / "roles.json").stat().st_mode)) == "0o600"
    assert oct(stat.S_IMODE((s3_server.root / "tls" / "node.key").stat().st_mode)) == "0o600"
    assert not (s3_server.root / "tls" / "ca.key").exists()  # nobody can sign another node certificate


# -- ledger and fixity ------------------------------------------------------------------------------


def test_the_ledger_chains_every_filing_and_hold(own_bucket, s3_server, role_archive, tmp_path):
    archive = Archive.from_settings(get_settings(), start_embedded=False)
    first = _file(archive, tmp_path, "ledger-a")
    second = _file(archive, tmp_path, "ledger-b")
    again = archive.file_capture(*capture_files(tmp_path / "ledger-a-0", first.started_at,
                                                account=account(id="ledger-a"),
                                                content=b"<html>ledger-a 0</html>"), HELD)
    assert again.capture_id == first.capture_id  # a retry: filed once, ledgered once
    result = CliRunner().invoke(app, ["hold", second.capture_id, "--reason", "tvist", "--by", "Jurist"])
    assert result.exit_code == 0, result.output
    entries, problems = archive.ledger.verify()
    assert problems == []
    assert [(e.seq, e.kind, e.capture_id) for e in entries] == [
        (0, "capture", first.capture_id), (1, "capture", second.capture_id), (2, "hold", second.capture_id)]
    [capture] = [e for e in entries if e.capture_id == first.capture_id]
    assert {(o.key, o.version_id, o.sha256) for o in capture.objects} >= {
        (f.key, f.version_id, f.sha256) for f in first.files}
    assert any(o.key == first.record_key for o in capture.objects)
    assert all(e.prev == p.hash for p, e in zip(entries, entries[1:], strict=False))
    result = CliRunner().invoke(app, ["ledger", "verify"])
    assert result.exit_code == 0 and "chain intact" in result.output, result.output


def test_ledger_entries_read_once_are_taken_from_disk_only_while_their_md5_is_what_s3_lists(own_bucket, s3_server,
                                                                                           tmp_path):
    """Listing what the archive holds reads the whole ledger; a later process reads from S3 only the
    entries no earlier one kept (data dir, 0600), and a kept copy that was changed is read past."""
    writer = Archive.from_settings(get_settings(), start_embedded=False)
    for i in range(3):
        _file(writer, tmp_path, f"kept-{i}")
    cache = tmp_path / "ledger-cache"

    def a_new_process() -> tuple[Archive, list[str]]:
        fresh = Archive(writer.client, writer.bucket, "auditor", ledger_cache=cache)
        reads: list[str] = []
        real = fresh.read
        fresh.read = lambda key, version_id=None: reads.append(key) or real(key, version_id)
        return fresh, reads

    first, reads = a_new_process()
    truth, problems = first.ledger.verify(fresh=False)
    assert problems == [] and len(reads) == len(truth) == 3
    [kept] = list(cache.iterdir())
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(cache.stat().st_mode) == 0o700

    second, reads = a_new_process()
    assert second.ledger.verify(fresh=False) == (truth, []) and reads == []  # every entry from disk
    assert [c.capture_id for c in second.list_captures()] == [c.capture_id for c in first.list_captures()]

    _file(writer, tmp_path, "kept-3")
    lines = [json.loads(line) for line in kept.read_text().splitlines()]
    [line] = [line for line in lines if line["key"] == "ledger/000000000000.json"]
    entry = json.loads(line["body"])
    entry["detail"] = "nothing to see"
    line["body"] = json.dumps(entry, indent=1)  # a changed copy (its chain could be made to agree; its MD5 cannot)
    kept.write_text("".join(json.dumps(line) + "\n" for line in lines))
    third, reads = a_new_process()
    entries, problems = third.ledger.verify(fresh=False)
    assert problems == [] and entries[:3] == truth and len(entries) == 4
    assert sorted(reads) == ["ledger/000000000000.json", "ledger/000000000003.json"]  # the changed one, the new one

    size = kept.stat().st_size
    fourth, reads = a_new_process()
    assert fourth.ledger.verify(fresh=True)[0] == entries and len(reads) == 4  # fixity reads every entry anew
    assert kept.stat().st_size == size  # and keeps nothing twice


def test_the_ledger_shows_a_rewritten_or_hidden_entry(own_bucket, s3_server, admin_client, tmp_path):
    archive = Archive.from_settings(get_settings(), start_embedded=False)
    for i in range(3):
        _file(archive, tmp_path, f"chain-{i}")
    entry = json.loads(archive.read("ledger/000000000001.json"))
    entry["detail"] = "nothing happened here"
    admin_client.put_object(Bucket=own_bucket, Key="ledger/000000000001.json", Body=json.dumps(entry).encode())
    admin_client.delete_object(Bucket=own_bucket, Key="ledger/000000000002.json")
    admin_client.put_object(Bucket=own_bucket, Key="ledger/000000000003.json", Body=b"not an entry")  # planted
    for fresh in (True, False, False):  # read whole, several at once; then from what this process read
        entries, problems = archive.ledger.verify(fresh=fresh)
        assert [e.seq for e in entries] == [0, 1, 2]  # each by its first version
        assert {p.key: p.status for p in problems} == {"ledger/000000000001.json": "broken-chain",
                                                      "ledger/000000000002.json": "broken-chain",
                                                      "ledger/000000000003.json": "broken-chain"}
        assert "unreadable" in next(p.detail for p in problems if p.key.endswith("3.json"))
    result = CliRunner().invoke(app, ["ledger", "verify", "--json"])
    assert result.exit_code == 3 and json.loads(result.output)["problems"]


def test_fixity_finds_hidden_forged_orphan_unlocked_and_missing(own_bucket, s3_server, admin_client, role_archive,
                                                                tmp_path, prefect_server):
    archive = Archive.from_settings(get_settings(), start_embedded=False)
    intact = _file(archive, tmp_path, "probe-intact")
    hidden = _file(archive, tmp_path, "probe-hidden")
    forged = _file(archive, tmp_path, "probe-forged")
    unlocked = _file(archive, tmp_path, "probe-unlocked")
    gone = _file(archive, tmp_path, "probe-missing", lock=LOOSE)
    # hide: a plain DELETE puts a delete marker over record.json
    admin_client.delete_object(Bucket=own_bucket, Key=hidden.record_key)
    # forge: a new startpage.png with a record and manifest that agree with it
    fake = b"\x89PNG forged"
    admin_client.put_object(Bucket=own_bucket, Key=forged.file("startpage.png").key, Body=fake)
    record = json.loads(archive.read(forged.record_key))
    record["files"][0]["sha256"] = hashlib.sha256(fake).hexdigest()
    admin_client.put_object(Bucket=own_bucket, Key=forged.record_key, Body=json.dumps(record).encode())
    # an orphan: objects of a capture that was never ledgered (filed before a crash, or planted)
    admin_client.put_object(Bucket=own_bucket, Key="captures/probe-orphan/2026-01-01T000000Z-manual/page.html",
                            Body=b"planted")
    # a seal planted beside a real capture, as if seal-pending had sealed it (no seal entry in the ledger)
    planted_seal = f"seals/{intact.capture_id}/manifest.tsr"
    admin_client.put_object(Bucket=own_bucket, Key=planted_seal, Body=b"not a token")
    # unlock: the hold lifted behind the ledger's back
    png = unlocked.file("startpage.png")
    admin_client.put_object_legal_hold(Bucket=own_bucket, Key=png.key, VersionId=png.version_id,
                                       LegalHold={"Status": "OFF"})
    # missing: a version without a hold deleted with the governance bypass
    html = gone.file("page.html")
    admin_client.delete_object(Bucket=own_bucket, Key=html.key, VersionId=html.version_id,
                               BypassGovernanceRetention=True)

    found = check_custody(archive, orphan_grace=dt.timedelta(0))
    statuses = {(r.key, r.status) for results in found.values() for r in results if r.status != "ok"}
    assert (hidden.record_key, "hidden") in statuses
    assert (forged.file("startpage.png").key, "forged") in statuses
    assert (forged.record_key, "forged") in statuses
    assert ("captures/probe-orphan/2026-01-01T000000Z-manual/page.html", "orphan") in statuses
    assert (planted_seal, "orphan") in statuses
    assert (png.key, "unlocked") in statuses
    assert (html.key, "missing") in statuses
    assert all(r.status == "ok" for r in found[intact.capture_id] if r.key != planted_seal)
    assert [r.status for r in found["(ledger)"]] == ["ok"]
    # the captures stay listed, by their filed versions, hidden and forged ones too
    listed = {r.capture_id: r for r in archive.list_captures()}
    assert hidden.capture_id in listed and listed[forged.capture_id].file("startpage.png").sha256 == \
        forged.file("startpage.png").sha256

    runner = CliRunner()
    for key, status in ((forged.file("startpage.png").key, "forged"), (hidden.record_key, "hidden")):
        result = runner.invoke(app, ["verify", key, "--json"])
        assert result.exit_code == 3, result.output
        assert status in {f["status"] for f in json.loads(result.output)["fixity"]["custody"]}
    # a planted object is an orphan, a finding; a key nothing was ever stored under is a mistyped key
    orphan = runner.invoke(app, ["verify", "captures/probe-orphan/2026-01-01T000000Z-manual/page.html"])
    assert orphan.exit_code == 3 and "orphan" in orphan.output, orphan.output
    for typo in ("captures/probe-orphan/2026-01-01T000000Z-manual/page.htm", "captures/nobody/x.pdf"):
        result = runner.invoke(app, ["verify", typo])
        assert result.exit_code == 7, result.output
        assert result.output.strip().count("\n") == 0 and "nothing was filed under that key" in result.output
    result = runner.invoke(app, ["fixity", "--json"])
    assert result.exit_code == 3
    problems = json.loads([line for line in result.output.splitlines() if line.startswith('{"ok"')][-1])["problems"]
    assert {"hidden", "forged", "unlocked", "missing"} <= {p["status"] for p in problems}


def test_fixity_covers_moderation_evidence_and_cases_too(own_bucket, s3_server, admin_client, role_archive,
                                                          tmp_path):
    """Evidence kept before a removal and the case's versions are records the ledger knows: forged, deleted
    or planted objects there are findings like under captures/, each group named by its folder."""
    from somearkiv.models import ModerationCase

    pipeline = Archive.from_settings(get_settings(), start_embedded=False)
    started = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
    intact, folder = capture_files(tmp_path / "ev-intact", started, account=account(id="mod-a"), content=b"<p>a</p>")
    intact = pipeline.file_evidence(intact, folder, HELD, "mod-a/2026-03-02T060000Z")
    tampered, folder = capture_files(tmp_path / "ev-tampered", started, account=account(id="mod-b"),
                                     content=b"<p>b</p>")
    tampered = pipeline.file_evidence(tampered, folder, LOOSE, "mod-b/2026-03-02T060000Z")
    case = pipeline.file_case(ModerationCase(
        case_id="mod-b/2026-03-02T060000Z", account_id="mod-b", url="https://example.org/post/1", reason="kränkande",
        reported_at=started.replace(tzinfo=None), reported_by="Kommunikatör", opened_at=started,
        evidence_capture_id=tampered.capture_id, evidence_at=started, retention_class="permanent"), HELD)
    # the case rewritten, an evidence file deleted with the governance bypass, a file planted beside the evidence
    admin_client.put_object(Bucket=own_bucket, Key=case.record_key, Body=b'{"status": "removed"}')
    html = tampered.file("page.html")
    admin_client.delete_object(Bucket=own_bucket, Key=html.key, VersionId=html.version_id,
                               BypassGovernanceRetention=True)
    planted = Archive.evidence_prefix(intact.capture_id) + "planted.png"
    admin_client.put_object(Bucket=own_bucket, Key=planted, Body=b"\x89PNG planted")

    found = check_custody(role_archive("auditor"), orphan_grace=dt.timedelta(0))
    statuses = {(r.key, r.status) for results in found.values() for r in results if r.status != "ok"}
    assert statuses == {(case.record_key, "forged"), (html.key, "missing"), (planted, "orphan")}, statuses
    evidence_group = Archive.evidence_prefix(intact.capture_id).rstrip("/")
    assert {r.status for r in found[evidence_group]} == {"ok", "orphan"}
    assert len([r for r in found[evidence_group] if r.status == "ok"]) == len(intact.files) + 1  # and record.json
    assert "cases/mod-b/2026-03-02T060000Z" in found
    runner = CliRunner()
    good = runner.invoke(app, ["verify", intact.file("page.html").key, "--json"])
    assert good.exit_code == 0 and json.loads(good.output)["fixity"]["stored"] == "intact", good.output
    forged = runner.invoke(app, ["verify", case.record_key, "--json"])
    assert forged.exit_code == 3 and "forged" in {f["status"] for f in json.loads(forged.output)["fixity"]["custody"]}


def test_fixity_reports_a_storage_error_per_object_and_goes_on(own_bucket, s3_server, tmp_path, monkeypatch):
    archive = Archive.from_settings(get_settings(), start_embedded=False)
    broken = _file(archive, tmp_path, "probe-broken")
    fine = _file(archive, tmp_path, "probe-fine")
    real_get = archive.client.get_object

    def failing_get(**kwargs):
        if kwargs["Key"] == broken.file("page.html").key:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "please try again"}}, "GetObject")
        return real_get(**kwargs)

    monkeypatch.setattr(archive.client, "get_object", failing_get)
    found = check_custody(archive)
    assert [r.status for r in found[broken.capture_id] if r.key == broken.file("page.html").key] == ["error"]
    assert all(r.status == "ok" for r in found[fine.capture_id])


def test_embedded_credentials_per_role(s3_server, archive):
    runner = CliRunner()
    shown = {}
    for role in ("pipeline", "archivist", "auditor"):
        result = runner.invoke(app, ["s3", "credentials", "--role", role, "--json"])
        assert result.exit_code == 0, result.output
        shown[role] = json.loads(result.output)
        assert shown[role]["endpoint_url"] == s3_server.endpoint_url and shown[role]["bucket"] == archive.bucket
    assert len({s["access_key_id"] for s in shown.values()}) == 3
    assert runner.invoke(app, ["s3", "credentials", "--role", "admin"]).exit_code == 2
    assert os.stat(s3_server.root / "roles.json").st_mode & 0o077 == 0


def test_a_flipped_byte_in_a_volume_file_is_a_finding_not_a_crash(own_bucket, s3_server, tmp_path, monkeypatch):
    """Bit rot under SeaweedFS: the damaged object is reported (mismatch, or error when the server
    refuses to serve it), the others are still checked."""
    # SeaweedFS tries the damaged needle for ~27 s before it answers 500; the client's retries
    # (a transient 500 is worth another try in production) are not what is tested here
    monkeypatch.setattr(archive_module, "_CLIENT_CONFIG", archive_module._CLIENT_CONFIG.merge(
        Config(retries={"mode": "standard", "max_attempts": 1})))
    archive = Archive.from_settings(get_settings(), start_embedded=False)
    marker = b"rotten-" + os.urandom(8).hex().encode()
    started = dt.datetime(2026, 4, 1, 6, 0, tzinfo=dt.UTC)
    rec, folder = capture_files(tmp_path / "rot", started, account=account(id="probe-rot"),
                                content=b"<html>" + marker + b"</html>")
    rotten = archive.file_capture(rec, folder, HELD)
    fine = _file(archive, tmp_path, "probe-fine-too")
    [volume] = [p for p in (s3_server.root / "data").rglob(f"{own_bucket}_*.dat")
                if marker in p.read_bytes()][:1] or [None]
    assert volume is not None
    data = bytearray(volume.read_bytes())
    at = data.index(marker)
    data[at] ^= 0x01
    volume.write_bytes(bytes(data))
    found = check_custody(archive)
    damaged = [r for r in found[rotten.capture_id] if r.status != "ok"]  # the file whose needle was hit
    assert damaged and all(r.status in ("mismatch", "error") for r in damaged), found[rotten.capture_id]
    assert all(r.status == "ok" for r in found[fine.capture_id])


def test_the_newest_captures_of_an_account_are_read_without_reading_the_rest(own_bucket, tmp_path, monkeypatch):
    archive = Archive.from_settings(get_settings(), start_embedded=False)
    filed = [_file(archive, tmp_path, "probe-recent", second=s) for s in (5, 1, 3)]
    _file(archive, tmp_path, "probe-other", second=9)
    state = archive.custody()
    assert [k.entry.account_id for k in state.of_account("probe-other")] == ["probe-other"]
    assert len(state.of_account("probe-recent")) == 3 and state.of_account("nobody") == []
    read = []
    real_read = Archive.read_record
    monkeypatch.setattr(Archive, "read_record", lambda self, key, version_id=None: (
        read.append(key), real_read(self, key, version_id))[1])
    newest = archive.list_captures("probe-recent", state=state, last=2)
    assert [r.capture_id for r in newest] == [filed[2].capture_id, filed[0].capture_id]  # seconds 3 and 5
    assert len(read) == 2  # the oldest was not read
    assert [r.capture_id for r in archive.list_captures("probe-recent", state=state)] == \
        [filed[1].capture_id, filed[2].capture_id, filed[0].capture_id]
