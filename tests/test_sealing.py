"""Sealed by default (#16): TSAs that want credentials, long-term validation data beside each token,
the demo's local TSA, readiness for `doctor`, and captures filed *unsealed* when no TSA answers,
then sealed later by seal-pending. Every TSA here is a local double on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.request

import pytest
from cryptography import x509
from cryptography.x509 import ocsp
from pydantic import SecretStr

from deployments.tsa import LocalTsa, demo_pki
from somearkiv.models import Captured, LedgerEntry, LedgerObject
from somearkiv.settings import Settings, check_environment, get_settings
from tasks.timestamp import (
    DEMO_POLICY,
    MANIFEST_NAME,
    SEAL_NAME,
    TOKEN_NAME,
    TimestampError,
    TsaConfig,
    request_timestamp,
    seal_manifest,
    seal_states,
    tsa_readiness,
    verify_timestamp,
)

from .factories import capture_files
from .tsa_double import TEST_POLICY, PkiServices, TsaDouble, basic_gate, bearer_gate, make_pki, tls_files

DIGEST = b"\x42" * 32
STARTED = dt.datetime(2026, 7, 1, 4, 0, tzinfo=dt.UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(**values) -> Settings:
    return Settings(**values)


# -- authentication ----------------------------------------------------------------------------------


def test_basic_auth_right_wrong_and_missing():
    with TsaDouble(gate=basic_gate("arkiv", "rätt lösen")) as tsa:
        good = TsaConfig(url=tsa.url, username="arkiv", password=SecretStr("rätt lösen"))
        assert request_timestamp(DIGEST, good)
        wrong = TsaConfig(url=tsa.url, username="arkiv", password=SecretStr("fel-lösen-hemlig"))
        with pytest.raises(TimestampError, match="HTTP 401.*basic credentials were not accepted") as refused:
            request_timestamp(DIGEST, wrong)
        assert "fel-lösen-hemlig" not in str(refused.value) and "fel-lösen-hemlig" not in repr(wrong)
        with pytest.raises(TimestampError, match="wants credentials"):
            request_timestamp(DIGEST, tsa.url)
        assert len(tsa.requests) == 1  # only the authenticated request was answered


def test_bearer_token():
    with TsaDouble(gate=bearer_gate("s3cr3t-bearer")) as tsa:
        assert request_timestamp(DIGEST, TsaConfig(url=tsa.url, bearer=SecretStr("s3cr3t-bearer")))
        with pytest.raises(TimestampError, match="bearer credentials were not accepted") as refused:
            request_timestamp(DIGEST, TsaConfig(url=tsa.url, bearer=SecretStr("other-bearer")))
        assert "other-bearer" not in str(refused.value)


def test_client_certificate_required_and_given(tmp_path):
    files = tls_files(tmp_path / "tls")
    with TsaDouble(ssl_context=files.server_context(require_client_cert=True)) as tsa:
        assert tsa.url.startswith("https://127.0.0.1:")
        given = TsaConfig(url=tsa.url, tls_ca_file=files.tls_ca_file, client_cert_file=files.client_cert_file,
                          client_key_file=files.client_key_file, ca_pem=tsa.ca_pem)
        token = request_timestamp(DIGEST, given)
        assert token and len(tsa.requests) == 1
        with pytest.raises(TimestampError, match="did not answer"):  # no client certificate: the handshake fails
            request_timestamp(DIGEST, TsaConfig(url=tsa.url, tls_ca_file=files.tls_ca_file))
        with pytest.raises(TimestampError, match="did not answer"):  # one under a CA the TSA does not trust
            request_timestamp(DIGEST, TsaConfig(url=tsa.url, tls_ca_file=files.tls_ca_file,
                                                client_cert_file=files.stranger_cert_file,
                                                client_key_file=files.stranger_key_file))
        with pytest.raises(TimestampError, match="did not answer"):  # the server's certificate is not trusted
            request_timestamp(DIGEST, TsaConfig(url=tsa.url, client_cert_file=files.client_cert_file,
                                                client_key_file=files.client_key_file))
        assert len(tsa.requests) == 1
        # and through the settings, as `doctor` would ask
        ok, message = tsa_readiness(_settings(
            tsa_url=tsa.url, tsa_tls_ca_file=files.tls_ca_file, tsa_client_cert_file=files.client_cert_file,
            tsa_client_key_file=files.client_key_file))
        assert ok and "client certificate" in message


def test_credentials_never_over_plain_http_or_in_the_url():
    assert any("only over HTTPS" in p for p in TsaConfig(
        url="http://tsa.example.se/tsa", username="u", password=SecretStr("p")).problems())
    assert any("holds credentials" in p for p in TsaConfig(url="https://u:p@tsa.example.se/").problems())
    assert any("go together" in p for p in TsaConfig(url="https://tsa.example.se/", username="u").problems())
    assert any("needs an https" in p for p in TsaConfig(url="http://127.0.0.1:1/", client_cert_file="/x",
                                                         client_key_file="/y").problems())
    with pytest.raises(TimestampError, match="not usable") as refused:
        request_timestamp(DIGEST, TsaConfig(url="http://tsa.example.se/tsa", bearer=SecretStr("never-sent")))
    assert "never-sent" not in str(refused.value)
    assert TsaConfig(url="https://u:pw@tsa.example.se/x?key=hemlig").display_url == "https://tsa.example.se/x"


def test_new_settings_are_known_and_secret():
    check_environment({"SOMEARKIV_TSA_USERNAME": "u", "SOMEARKIV_TSA_PASSWORD": "p", "SOMEARKIV_TSA_TOKEN": "t",
                       "SOMEARKIV_TSA_CLIENT_CERT_FILE": "c", "SOMEARKIV_TSA_CLIENT_KEY_FILE": "k",
                       "SOMEARKIV_TSA_CLIENT_KEY_PASSWORD": "kp", "SOMEARKIV_TSA_CHAIN_FILE": "ch",
                       "SOMEARKIV_TSA_TLS_CA_FILE": "tc"})
    settings = _settings(tsa_url="https://tsa.example.se/", tsa_username="u", tsa_password="hemligt-lösen",
                         tsa_token="hemlig-token")
    assert "hemligt-lösen" not in repr(settings) and "hemlig-token" not in repr(settings)
    assert "hemligt-lösen" not in repr(TsaConfig.from_settings(settings))


# -- long-term validation data -------------------------------------------------------------------------


def test_chain_ocsp_crl_and_policy_are_kept_beside_the_token(tmp_path):
    with PkiServices() as services:
        services.pki = make_pki(ocsp_url=services.ocsp_url, crl_url=services.crl_url)
        with TsaDouble(pki=services.pki) as tsa:
            config = TsaConfig(url=tsa.url, ca_pem=tsa.ca_pem)
            manifest = b'{"format": "somearkiv-manifest/1"}\n'
            seal = seal_manifest(manifest, config, capture_id="a/2026-07-01T040000Z-manual", captured_at=STARTED)
    files = {name: body for name, body, _ in seal.files}
    assert list(files) == [TOKEN_NAME, f"{TOKEN_NAME}.chain.pem", f"{TOKEN_NAME}.ocsp-1.der",
                           f"{TOKEN_NAME}.crl-1.der", SEAL_NAME]
    assert services.ocsp_requests == 1 and services.crl_requests == 1
    chain = x509.load_pem_x509_certificates(files[f"{TOKEN_NAME}.chain.pem"])
    assert [c.subject for c in chain] == [services.pki.tsa_cert.subject, services.pki.ca_cert.subject]
    answer = ocsp.load_der_ocsp_response(files[f"{TOKEN_NAME}.ocsp-1.der"])
    assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert answer.serial_number == services.pki.tsa_cert.serial_number
    assert x509.load_der_x509_crl(files[f"{TOKEN_NAME}.crl-1.der"]).is_signature_valid(
        services.pki.ca_cert.public_key())
    doc = json.loads(files[SEAL_NAME])
    assert doc["tsa"]["policy"] == TEST_POLICY == seal.policy and not doc["demo"]
    assert doc["captured_at"] == "2026-07-01T04:00:00Z" and doc["sealed_at"].endswith("Z")
    assert doc["validation"]["ocsp"][0]["file"] == f"{TOKEN_NAME}.ocsp-1.der"
    assert doc["token_sha256"] and "verified against the configured CA" in doc["trust"]
    assert verify_timestamp(seal.token, manifest, trusted_ca_pem=tsa.ca_pem).valid


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_openssl_verifies_with_the_kept_chain(tmp_path):
    """SOMEARKIV_TSA_CHAIN_FILE completes the chain the token carries; openssl checks the token with it."""
    with TsaDouble() as tsa:
        manifest = b"manifest bytes\n"
        seal = seal_manifest(manifest, TsaConfig(url=tsa.url, chain_pem=tsa.ca_pem), capture_id="x/y",
                             captured_at=STARTED)
    files = {name: body for name, body, _ in seal.files}
    for name in (TOKEN_NAME, f"{TOKEN_NAME}.chain.pem"):
        (tmp_path / name).write_bytes(files[name])
    (tmp_path / "manifest.json").write_bytes(manifest)
    (tmp_path / "ca.pem").write_bytes(tsa.ca_pem)  # what the verifier trusts, from elsewhere
    result = subprocess.run(["openssl", "ts", "-verify", "-in", TOKEN_NAME, "-data", "manifest.json",
                             "-CAfile", "ca.pem", "-untrusted", f"{TOKEN_NAME}.chain.pem"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr
    doc = json.loads(files[SEAL_NAME])
    assert "NOT VERIFIED" in doc["trust"]  # no CA was configured when it was sealed
    assert len(doc["validation"]["chain_subjects"]) == 2
    assert doc["validation"]["notes"] == ["OCSP and CRL not fetched: the token is not verified under a configured "
                                          "CA (SOMEARKIV_TSA_CA_FILE), so the addresses its certificates name are "
                                          "not trusted"]


def test_addresses_in_an_unverified_token_are_not_fetched():
    with PkiServices() as services:
        services.pki = make_pki(ocsp_url=services.ocsp_url, crl_url=services.crl_url)
        with TsaDouble(pki=services.pki) as tsa:
            seal = seal_manifest(b"m", TsaConfig(url=tsa.url), capture_id="x/y", captured_at=STARTED)
    assert services.ocsp_requests == services.crl_requests == 0
    assert [name for name, _, _ in seal.files] == [TOKEN_NAME, f"{TOKEN_NAME}.chain.pem", SEAL_NAME]


def test_an_unreachable_ocsp_responder_is_noted_not_fatal():
    pki = make_pki(ocsp_url=f"http://127.0.0.1:{_free_port()}/ocsp")
    with TsaDouble(pki=pki) as tsa:
        seal = seal_manifest(b"m", TsaConfig(url=tsa.url, ca_pem=tsa.ca_pem, timeout=5), capture_id="x/y",
                             captured_at=STARTED)
    assert not any(".ocsp-" in name for name, _, _ in seal.files)
    assert any("OCSP" in n and "not available" in n for n in seal.document["validation"]["notes"])


# -- the demo's TSA --------------------------------------------------------------------------------------


def test_demo_tsa_is_labelled_loopback_only_and_accepts_only_queries(tmp_path):
    pki, ca_file = demo_pki(tmp_path / "demo-tsa")
    assert not (tmp_path / "demo-tsa" / "ca-key.pem").exists() and pki.ca_key is None
    assert oct((tmp_path / "demo-tsa" / "tsa-key.pem").stat().st_mode & 0o777) == "0o600"
    again, _ = demo_pki(tmp_path / "demo-tsa")
    assert again.ca_cert == pki.ca_cert  # earlier demo tokens still verify against the same ca.pem
    with pytest.raises(ValueError, match="loopback"):
        LocalTsa(pki, host="0.0.0.0").start()
    with LocalTsa(pki, ca_file=ca_file) as tsa:
        base = tsa.url.removesuffix("/tsa")
        for request, status in ((urllib.request.Request(tsa.url), 405),
                                (urllib.request.Request(tsa.url, data=b"x", headers={"Content-Type": "text/plain"}), 415),
                                (urllib.request.Request(base + "/other", data=b"x", headers={
                                    "Content-Type": "application/timestamp-query"}), 404),
                                (urllib.request.Request(tsa.url, data=b"x" * 20000, headers={
                                    "Content-Type": "application/timestamp-query"}), 413)):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)
            assert refused.value.code == status
        seal = seal_manifest(b"demo manifest", TsaConfig(url=tsa.url, ca_pem=ca_file.read_bytes()), capture_id="d/x",
                             captured_at=STARTED)
        ok, message = tsa_readiness(_settings(tsa_url=tsa.url, tsa_ca_file=ca_file))
    assert seal.demo and seal.policy == DEMO_POLICY and seal.check.valid
    assert "NOT TRUSTWORTHY" in seal.trust and "NOT TRUSTWORTHY" in seal.note
    assert "NOT TRUSTWORTHY" in seal.check.tsa_name
    assert ok and "NOT TRUSTWORTHY" in message


# -- readiness (for `somearkiv doctor`) -------------------------------------------------------------------


def test_tsa_readiness(tmp_path):
    ok, message = tsa_readiness(_settings(tsa_url=None))
    assert not ok and "no TSA configured" in message and "UNSEALED" in message
    ok, message = tsa_readiness(_settings(tsa_url=f"http://127.0.0.1:{_free_port()}/tsa", tsa_timeout_s=5))
    assert not ok and "did not answer" in message
    other = tmp_path / "other-ca.pem"
    other.write_bytes(make_pki("other").ca_pem)
    with TsaDouble() as tsa:
        ca = tmp_path / "ca.pem"
        ca.write_bytes(tsa.ca_pem)
        ok, message = tsa_readiness(_settings(tsa_url=tsa.url, tsa_ca_file=ca))
        assert ok and "verifies" in message and TEST_POLICY in message
        ok, message = tsa_readiness(_settings(tsa_url=tsa.url, tsa_ca_file=other))
        assert not ok and "does NOT verify" in message
        ok, message = tsa_readiness(_settings(tsa_url=tsa.url, tsa_ca_file=tmp_path / "missing.pem"))
        assert not ok and "SOMEARKIV_TSA_CA_FILE" in message
    ok, message = tsa_readiness(_settings(tsa_url="https://tsa.example.se/", tsa_username="u"), probe=False)
    assert not ok and "go together" in message


# -- which captures are sealed ------------------------------------------------------------------------------


def test_seal_states_from_the_ledger():
    at = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)

    def entry(seq: int, kind: str, capture_id: str, names: list[str]) -> LedgerEntry:
        prefix = "seals/" if kind == "seal" else "captures/"
        return LedgerEntry(seq=seq, kind=kind, at=at, capture_id=capture_id, prev="0" * 64,
                           objects=tuple(LedgerObject(key=f"{prefix}{capture_id}/{n}", version_id="v") for n in names))

    states = seal_states([entry(0, "capture", "a/1", ["record.json", MANIFEST_NAME, TOKEN_NAME, SEAL_NAME]),
                          entry(1, "capture", "b/1", ["record.json", MANIFEST_NAME]),
                          entry(2, "capture", "c/1", ["record.json", MANIFEST_NAME]),
                          entry(3, "seal", "c/1", [TOKEN_NAME, SEAL_NAME])])
    assert (states["a/1"].word, states["b/1"].word, states["c/1"].word) == ("sealed", "UNSEALED", "sealed later")
    assert states["c/1"].token_key == f"seals/c/1/{TOKEN_NAME}" and states["c/1"].sealed_entry == 3


# -- filed unsealed when the TSA is down, sealed later -------------------------------------------------------


@pytest.fixture
def tsa_env(monkeypatch):
    """Set SOMEARKIV_TSA_* for a test (the settings are read again)."""
    def configure(**values: str) -> None:
        for name in ("URL", "CA_FILE", "USERNAME", "PASSWORD"):
            monkeypatch.delenv(f"SOMEARKIV_TSA_{name}", raising=False)
        for name, value in values.items():
            monkeypatch.setenv(f"SOMEARKIV_TSA_{name.upper()}", value)
        get_settings.cache_clear()
    yield configure
    monkeypatch.undo()
    get_settings.cache_clear()


def _file(tmp_path, name: str, minute: int):
    from tasks.filing import file_capture
    from tasks.retention import load_retention_schedule

    started = dt.datetime(2026, 5, 4, 3, minute, tzinfo=dt.UTC) + dt.timedelta(seconds=dt.datetime.now().microsecond % 60)
    record, folder = capture_files(tmp_path / name, started, content=f"<html>{name} {started}</html>".encode())
    schedule = load_retention_schedule.fn(str(get_settings().retention_config))
    filed, _ = file_capture.fn(Captured(record, folder), schedule.get(record.retention_class))
    return filed


def test_tsa_down_files_unsealed_then_seal_pending_seals_it(archive, tmp_path, tsa_env):
    from typer.testing import CliRunner

    from deployments.cli import app
    from flows.seal import seal_capture_now, unsealed_captures
    from storage.custody import check_custody

    with TsaDouble() as tsa:
        ca = tmp_path / "ca.pem"
        ca.write_bytes(tsa.ca_pem)
    tsa_env(url=f"http://127.0.0.1:{_free_port()}/tsa", ca_file=str(ca), timeout_s="5")  # nobody listens there
    filed = _file(tmp_path, "down", 10)

    # filed completely: record, manifest, ledger entry, audit event; only the token is missing
    kept = archive.custody()[filed.capture_id]
    names = {o.key.rsplit("/", 1)[-1] for o in kept.objects.values()}
    assert {"record.json", MANIFEST_NAME} <= names and TOKEN_NAME not in names
    event = next(e for e in archive.read_audit() if e.data.get("capture_id") == filed.capture_id)
    assert event.outcome == "warning" and "UNSEALED" in event.detail and event.data["sealed"] is False
    assert "did not answer" in event.data["unsealed_reason"]
    assert filed.capture_id in unsealed_captures(archive)
    again_down = _file(tmp_path, "down-again", 11)  # the next capture does not wait out the timeout again
    event = next(e for e in archive.read_audit() if e.data.get("capture_id") == again_down.capture_id)
    assert event.data["sealed"] is False and "not asked again" in event.data["unsealed_reason"]
    listing = CliRunner().invoke(app, ["captures", "--account", filed.account.id])
    assert listing.exit_code == 0, listing.output
    block = listing.output.split(filed.record_key, 1)[1].split("captures/", 1)[0]
    assert "UNSEALED" in block

    # still down: seal-pending says why and seals nothing
    from tasks.timestamp import TsaConfig as Config

    down = seal_capture_now(archive, filed.capture_id, Config.from_settings(get_settings()))
    assert not down.sealed and "did not answer" in down.detail

    # the TSA is back: sealed later, both times recorded, nothing filed before is touched
    before = archive.ledger.head().seq
    with TsaDouble(pki=tsa.pki) as back:
        tsa_env(url=back.url, ca_file=str(ca))
        outcome = seal_capture_now(archive, filed.capture_id, Config.from_settings(get_settings()))
    assert outcome.sealed, outcome.detail
    entry = archive.ledger.head()
    assert entry.kind == "seal" and entry.seq > before and entry.capture_id == filed.capture_id
    assert "captured 2026-05-04T03:10" in entry.detail and "sealed 20" in entry.detail
    token_key = f"seals/{filed.capture_id}/{TOKEN_NAME}"
    assert token_key in {o.key for o in entry.objects}
    manifest = archive.read(f"captures/{filed.capture_id}/{MANIFEST_NAME}")
    assert verify_timestamp(archive.read(token_key), manifest, trusted_ca_pem=tsa.ca_pem).valid
    assert archive.head(token_key).legal_hold  # locked like the capture
    seal_doc = json.loads(archive.read(f"seals/{filed.capture_id}/{SEAL_NAME}"))
    assert seal_doc["sealed_later"] and seal_doc["captured_at"].startswith("2026-05-04T03:10")
    assert seal_doc["tsa"]["policy"] == TEST_POLICY
    seal_event = next(e for e in archive.read_audit() if e.event_type == "seal"
                      and e.data.get("capture_id") == filed.capture_id)
    assert seal_event.data["captured_at"].startswith("2026-05-04T03:10") and seal_event.data["sealed_at"]
    assert filed.capture_id not in unsealed_captures(archive)
    again = seal_capture_now(archive, filed.capture_id, Config.from_settings(get_settings()))
    assert again.sealed and "already sealed" in again.detail
    _entries, chain_problems = archive.ledger.verify()
    assert chain_problems == []
    findings = check_custody(archive, account_id=filed.account.id)
    assert all(r.status == "ok" for r in findings.get(filed.capture_id, []))
    assert {f"seals/{filed.capture_id}/{TOKEN_NAME}", f"seals/{filed.capture_id}/{SEAL_NAME}"} <= {
        r.key for r in findings[filed.capture_id]}  # the late seal is part of the capture's custody
    checked = CliRunner().invoke(app, ["verify", filed.record_key, "--json"])
    assert "valid RFC 3161 token" in json.loads(checked.output)["fixity"]["timestamp"], checked.output
    checked = CliRunner().invoke(app, ["verify", token_key, "--json"])
    assert checked.exit_code == 0 and json.loads(checked.output)["fixity"]["stored"] == "intact", checked.output
    listing = CliRunner().invoke(app, ["captures", "--account", filed.account.id])
    block = listing.output.split(filed.record_key, 1)[1].split("captures/", 1)[0]
    assert "sealed later" in block and "UNSEALED" not in block


def test_sealed_at_filing_with_basic_auth_keeps_chain_and_seal_record(archive, tmp_path, tsa_env):
    from storage.custody import check_key

    with TsaDouble(gate=basic_gate("arkivet", "lösenord-123")) as tsa:
        ca = tmp_path / "ca.pem"
        ca.write_bytes(tsa.ca_pem)
        tsa_env(url=tsa.url, ca_file=str(ca), username="arkivet", password="lösenord-123")
        filed = _file(tmp_path, "auth", 20)
        assert len(tsa.requests) == 1
        tsa_env(url=tsa.url, ca_file=str(ca), username="arkivet", password="fel")
        refused = _file(tmp_path, "wrong-auth", 21)  # wrong password: filed unsealed, saying why
    kept = archive.custody()[filed.capture_id]
    names = {o.key.rsplit("/", 1)[-1] for o in kept.objects.values()}
    assert {MANIFEST_NAME, TOKEN_NAME, f"{TOKEN_NAME}.chain.pem", SEAL_NAME} <= names
    doc = json.loads(archive.read(f"captures/{filed.capture_id}/{SEAL_NAME}"))
    assert doc["tsa"]["authentication"] == "basic" and doc["tsa"]["policy"] == TEST_POLICY
    assert not doc["sealed_later"]
    assert [r.status for r in check_key(archive, f"captures/{filed.capture_id}/{SEAL_NAME}")] == ["ok"]
    events = [e for e in archive.read_audit() if e.data.get("capture_id") in (filed.capture_id, refused.capture_id)]
    sealed = next(e for e in events if e.data["capture_id"] == filed.capture_id)
    assert sealed.outcome == "success" and sealed.data["sealed"] is True and sealed.data["tsa_policy"] == TEST_POLICY
    unsealed = next(e for e in events if e.data["capture_id"] == refused.capture_id)
    assert unsealed.data["sealed"] is False and "not accepted" in unsealed.detail
    assert all("lösenord-123" not in e.model_dump_json() and "fel" not in e.data["unsealed_reason"].split()
               for e in [unsealed])


def test_no_tsa_configured_warns_and_files_unsealed(archive, tmp_path, tsa_env):
    tsa_env()
    filed = _file(tmp_path, "none", 30)
    event = next(e for e in archive.read_audit() if e.data.get("capture_id") == filed.capture_id)
    assert event.outcome == "warning" and "no TSA configured" in event.detail and "UNSEALED" in event.detail


def test_seal_pending_flow_fails_while_the_tsa_is_down_then_seals(prefect_server, archive, tmp_path, tsa_env):
    from flows.seal import seal_pending

    tsa_env()  # no TSA when it was filed
    account = "perstorp-seal-flow"
    from tasks.filing import file_capture
    from tasks.retention import load_retention_schedule

    from .factories import account as make_account

    record, folder = capture_files(tmp_path / "flow", dt.datetime(2026, 5, 5, 3, 0, tzinfo=dt.UTC),
                                   account=make_account(id=account))
    schedule = load_retention_schedule.fn(str(get_settings().retention_config))
    filed, _ = file_capture.fn(Captured(record, folder), schedule.get(record.retention_class))

    tsa_env(url=f"http://127.0.0.1:{_free_port()}/tsa", timeout_s="5")
    down = seal_pending(account_id=account, return_state=True)
    assert down.is_failed() and filed.capture_id in down.message and "did not answer" in down.message
    with TsaDouble() as tsa:
        tsa_env(url=tsa.url)
        up = seal_pending(account_id=account, return_state=True)
    assert up.is_completed(), up.message
    assert up.message.startswith("1 unsealed captures sealed")
    assert archive.ledger.head().kind in ("seal", "capture")  # the head is sealed by its own token after the seal
    assert any(e.kind == "seal" and e.capture_id == filed.capture_id for e in archive.ledger.verify()[0])


def test_demo_configures_its_local_tsa_only_when_none_is_set(tmp_path, monkeypatch):
    from deployments import cli

    before = os.environ.get("SOMEARKIV_TSA_URL")
    monkeypatch.setenv("SOMEARKIV_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SOMEARKIV_TSA_URL", raising=False)
    monkeypatch.delenv("SOMEARKIV_TSA_CA_FILE", raising=False)
    get_settings.cache_clear()
    try:
        tsa = cli._demo_tsa()
        assert tsa is not None
        try:
            assert os.environ["SOMEARKIV_TSA_URL"] == tsa.url and tsa.url.startswith("http://127.0.0.1:")
            assert os.environ["SOMEARKIV_TSA_CA_FILE"] == str(tmp_path / "demo-tsa" / "ca.pem")
            get_settings.cache_clear()
            ok, message = tsa_readiness(get_settings())
            assert ok and "NOT TRUSTWORTHY" in message
            assert cli._demo_tsa() is None  # a TSA is set now: the demo leaves it alone
        finally:
            tsa.stop()
    finally:
        for name in ("SOMEARKIV_TSA_URL", "SOMEARKIV_TSA_CA_FILE"):  # set by _demo_tsa, so undo() does not know them
            os.environ.pop(name, None)
        monkeypatch.undo()
        get_settings.cache_clear()
    assert os.environ.get("SOMEARKIV_TSA_URL") == before  # no later test here stamps against the stopped TSA
