"""A local RFC 3161 Time-Stamp Authority for the demo (and, through tests/tsa_double.py, the tests).

**It is not a trustworthy TSA.** Its CA is a throwaway one made on this machine, its clock is this
machine's clock, and whoever runs the machine could sign any time they like. Its tokens show how
sealing works; they prove nothing to anyone else. So every token it signs says so: the TSA's
certificate is named ``somearkiv DEMO TSA – NOT TRUSTWORTHY``, and the token's policy is
``DEMO_POLICY``, which tasks.timestamp recognises and labels in the seal record, the ledger, the
audit trail and the demo's output.

It listens on a loopback address only (anything else is refused) and accepts nothing but
``POST`` of an ``application/timestamp-query`` of at most 16 KiB; every other request is refused
with 404/405/411/413/415. The CA's key is thrown away once the TSA certificate is signed; the
TSA's key and the CA certificate are kept (0600) in the demo's data directory, so tokens of
earlier demo runs still verify against the same ``ca.pem``.

``rfc3161-client`` only parses and verifies, so the DER is built with ``asn1crypto`` and signed
with ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import itertools
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from tasks.timestamp import DEMO_LABEL, DEMO_POLICY  # the policy that marks a token as the demo's

__all__ = ["DEMO_LABEL", "DEMO_POLICY", "MAX_QUERY", "LocalTsa", "Pki", "demo_pki", "make_pki", "sign_response"]

MAX_QUERY = 16 * 1024  # a TimeStampReq over SHA-256 is about 60 bytes


@dataclass(frozen=True)
class Pki:
    """A root CA and the TSA certificate it issued, with the TSA's key (and the CA's, for the tests'
    OCSP and CRL doubles; the demo throws it away)."""

    ca_cert: x509.Certificate
    tsa_cert: x509.Certificate
    tsa_key: rsa.RSAPrivateKey
    ca_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(label: str = "somearkiv test", *, days: int = 30, organisation: str = "somearkiv tests",
             ocsp_url: str | None = None, crl_url: str | None = None, tsa_name: str | None = None) -> Pki:
    """A fresh root CA and a TSA certificate (critical EKU timeStamping, RFC 3161 section 2.3) valid
    from yesterday for *days* days; with *ocsp_url* / *crl_url* the TSA certificate names them
    (authorityInfoAccess OCSP, cRLDistributionPoints)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name(f"{label} root CA", organisation)
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        x509.CertificateBuilder().subject_name(_name(tsa_name or f"{label} TSA", organisation)).issuer_name(ca_name)
        .public_key(tsa_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if ocsp_url:
        builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
    if crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None, reasons=None,
            crl_issuer=None)]), critical=False)
    tsa_cert = builder.sign(ca_key, hashes.SHA256())
    return Pki(ca_cert=ca_cert, tsa_cert=tsa_cert, tsa_key=tsa_key, ca_key=ca_key)


def _rejection(text: str, failure: str) -> bytes:
    return tsp.TimeStampResp({
        "status": {"status": "rejection", "status_string": [text], "fail_info": {failure}},
    }).dump()


def sign_response(request_der: bytes, pki: Pki, serial: int, gen_time: dt.datetime | None = None,
                  policy: str = DEMO_POLICY) -> bytes:
    """A DER TimeStampResp answering *request_der* (a rejection for what this TSA does not do)."""
    try:
        request = tsp.TimeStampReq.load(request_der)
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        nonce = request["nonce"].native
        cert_req = bool(request["cert_req"].native)
    except (ValueError, TypeError, KeyError) as exc:
        return _rejection(f"unreadable request: {exc}", "bad_data_format")
    if algorithm != "sha256" or len(imprint["hashed_message"].native) != 32:
        return _rejection("only SHA-256 imprints are accepted", "bad_alg")

    gen_time = (gen_time or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    cert_der = pki.tsa_cert.public_bytes(serialization.Encoding.DER)
    tsa_cert = asn1_x509.Certificate.load(cert_der)
    tst_values = {
        "version": "v1",
        "policy": policy,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                            "hashed_message": imprint["hashed_message"].native},
        "serial_number": serial,
        "gen_time": gen_time,
        "accuracy": {"seconds": 1},
        "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa_cert.subject),
    }
    if nonce is not None:
        tst_values["nonce"] = nonce
    tst_info = tsp.TSTInfo(tst_values)
    signed_attrs = cms.CMSAttributes([
        {"type": "content_type", "values": ["tst_info"]},
        {"type": "signing_time", "values": [cms.Time(name="utc_time", value=gen_time)]},
        {"type": "message_digest", "values": [hashlib.sha256(tst_info.dump()).digest()]},
        {"type": "signing_certificate_v2",
         "values": [{"certs": [{"cert_hash": hashlib.sha256(cert_der).digest()}]}]},
    ])
    signature = pki.tsa_key.sign(signed_attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value={
            "issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": signed_attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
        "signature": signature,
    })
    signed_data = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst_info.dump())},
        "certificates": [tsa_cert] if cert_req else [],
        "signer_infos": [signer],
    })
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Decides whether a request may be answered: gets the request's headers, returns None to answer or
# (HTTP status, reason) to refuse (the tests' authenticating TSAs).
Gate = Callable[[Mapping[str, str]], tuple[int, str] | None]


@dataclass
class LocalTsa:
    """The TSA over HTTP(S) on a loopback address (port 0: a free one), in a daemon thread; a
    context manager. ``requests`` keeps every query it answered."""

    pki: Pki
    policy: str = DEMO_POLICY
    host: str = "127.0.0.1"
    port: int = 0
    gate: Gate | None = None
    ssl_context: object | None = None  # an ssl.SSLContext for HTTPS (the tests' client-certificate TSA)
    ca_file: Path | None = None  # where the CA's PEM is, for SOMEARKIV_TSA_CA_FILE
    requests: list[bytes] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _serials: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self._server is not None, "the TSA is not running"
        host, port = self._server.server_address[:2]
        return f"{'https' if self.ssl_context else 'http'}://{host}:{port}/tsa"

    @property
    def ca_pem(self) -> bytes:
        return self.pki.ca_pem

    def start(self) -> LocalTsa:
        if not _is_loopback(self.host):
            raise ValueError(f"the local TSA listens on a loopback address only, not {self.host!r}")
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def _refuse(self, status: int, reason: str) -> None:
                self.send_error(status, reason)

            def do_POST(self) -> None:
                if self.path.split("?")[0] != "/tsa":
                    return self._refuse(404, "only /tsa")
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    return self._refuse(415, "expected application/timestamp-query")
                length = self.headers.get("Content-Length")
                if length is None or not length.isdigit():
                    return self._refuse(411, "Content-Length required")
                if int(length) > MAX_QUERY:
                    return self._refuse(413, "a timestamp query is small")
                if tsa.gate is not None and (refused := tsa.gate(self.headers)):
                    self.rfile.read(int(length))
                    status, reason = refused
                    self.send_response(status, reason)
                    if status == 401:
                        self.send_header("WWW-Authenticate", 'Basic realm="tsa"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                body = self.rfile.read(int(length))
                tsa.requests.append(body)
                reply = sign_response(body, tsa.pki, next(tsa._serials), policy=tsa.policy)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                return None

            def do_GET(self) -> None:
                self._refuse(405, "a TSA takes POST of application/timestamp-query only")

            do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_GET

            def log_message(self, format: str, *args) -> None:
                pass

        server = ThreadingHTTPServer((self.host, self.port), Handler)
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="local-tsa", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalTsa:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_private(path: Path, body: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(body)


def demo_pki(folder: Path, *, days: int = 3650) -> tuple[Pki, Path]:
    """The demo TSA's keys and certificates in *folder* (made on first use; the CA's key is thrown
    away after signing), and the path of its ``ca.pem``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "tsa-cert.pem", folder / "tsa-key.pem"
    if ca_file.exists() and cert_file.exists() and key_file.exists():
        tsa_cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        if tsa_cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
            ca_cert = x509.load_pem_x509_certificates(ca_file.read_bytes())[-1]
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            return Pki(ca_cert=ca_cert, tsa_cert=tsa_cert, tsa_key=key), ca_file
    pki = make_pki("somearkiv DEMO (throwaway, NOT TRUSTWORTHY)", days=days,
                   organisation="somearkiv demo on this machine – not a trust service", tsa_name=DEMO_LABEL)
    older = ca_file.read_bytes() if ca_file.exists() else b""  # tokens of earlier demo CAs still verify
    _write_private(key_file, pki.tsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    _write_private(cert_file, pki.tsa_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(ca_file, older + pki.ca_pem)
    return Pki(ca_cert=pki.ca_cert, tsa_cert=pki.tsa_cert, tsa_key=pki.tsa_key), ca_file  # the CA key is dropped
