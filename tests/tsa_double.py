"""Local RFC 3161 Time-Stamp Authorities for the tests: never a real one, never off this machine.

Why doubles: the tests must run without the internet, and they must be able to show that a token
signed under a CA we do *not* trust is refused, that a TSA which wants credentials gets them (and
refuses wrong ones), and that OCSP and CRL answers are kept beside a token. The TSA itself is the
demo's (deployments/tsa.py: a throwaway root CA and a TSA certificate under it, with the critical
extendedKeyUsage id-kp-timeStamping that RFC 3161 section 2.3 requires, on 127.0.0.1), signing under
the made-up ``TEST_POLICY``; here it gets what a qualified TSA has and the demo has not: basic or
bearer authentication, HTTPS with a required client certificate, and an OCSP responder and a CRL
(``PkiServices``) for its certificate.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import ipaddress
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from deployments.tsa import LocalTsa, Pki, make_pki, sign_response

__all__ = ["TEST_POLICY", "PkiServices", "Pki", "TlsFiles", "TsaDouble", "basic_gate", "bearer_gate", "make_pki",
           "sign_response", "tls_files"]

TEST_POLICY = "1.3.6.1.4.1.55555.1.1"  # a made-up policy OID: this TSA promises nothing


@dataclass
class TsaDouble(LocalTsa):
    """A TSA on 127.0.0.1 signing under TEST_POLICY; ``gate`` and ``ssl_context`` as LocalTsa's."""

    pki: Pki = field(default_factory=make_pki)
    policy: str = TEST_POLICY


def basic_gate(user: str, password: str):
    """Answer only requests with these basic-auth credentials (401 otherwise)."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def gate(headers: Mapping[str, str]) -> tuple[int, str] | None:
        given = headers.get("Authorization") or ""
        return None if hmac.compare_digest(given.encode(), expected.encode()) else (401, "Unauthorized")
    return gate


def bearer_gate(token: str):
    """Answer only requests with this bearer token (401 otherwise)."""
    def gate(headers: Mapping[str, str]) -> tuple[int, str] | None:
        given = headers.get("Authorization") or ""
        return None if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()) else (401, "Unauthorized")
    return gate


# -- HTTPS with client certificates ----------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    """A TLS CA, a server certificate for 127.0.0.1 under it, and a client certificate under another CA."""

    tls_ca_file: Path  # what the client trusts for the server (SOMEARKIV_TSA_TLS_CA_FILE)
    server_cert_file: Path
    server_key_file: Path
    client_ca_pem: bytes  # what the server trusts for clients
    client_cert_file: Path  # SOMEARKIV_TSA_CLIENT_CERT_FILE
    client_key_file: Path  # SOMEARKIV_TSA_CLIENT_KEY_FILE
    stranger_cert_file: Path  # a client certificate under a CA the server does not trust
    stranger_key_file: Path

    def server_context(self, require_client_cert: bool = True) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert_file, self.server_key_file)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=self.client_ca_pem.decode())
        return context


def _issue(subject: str, issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None, *, ca: bool = False,
           server_ip: str | None = None, client: bool = False) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    now = dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server_ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(server_ip))]),
                                        critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if client:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _pem(folder: Path, name: str, cert: x509.Certificate, key: rsa.RSAPrivateKey | None = None) -> tuple[Path, Path]:
    cert_file, key_file = folder / f"{name}.pem", folder / f"{name}-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_file.chmod(0o600)
    return cert_file, key_file


def tls_files(folder: Path) -> TlsFiles:
    folder.mkdir(parents=True, exist_ok=True)
    tls_ca = _issue("test TLS CA", None, ca=True)
    server = _issue("127.0.0.1", tls_ca, server_ip="127.0.0.1")
    client_ca = _issue("test client CA", None, ca=True)
    client = _issue("somearkiv client", client_ca, client=True)
    stranger_ca = _issue("someone else's CA", None, ca=True)
    stranger = _issue("a stranger", stranger_ca, client=True)
    tls_ca_file, _ = _pem(folder, "tls-ca", tls_ca[0])
    server_cert, server_key = _pem(folder, "server", *server)
    client_cert, client_key = _pem(folder, "client", *client)
    stranger_cert, stranger_key = _pem(folder, "stranger", *stranger)
    return TlsFiles(tls_ca_file, server_cert, server_key, client_ca[0].public_bytes(serialization.Encoding.PEM),
                    client_cert, client_key, stranger_cert, stranger_key)


# -- OCSP responder and CRL -------------------------------------------------------------------------


@dataclass
class PkiServices:
    """An OCSP responder (POST /ocsp) and a CRL (GET /crl) for a test PKI's TSA certificate, on 127.0.0.1.

    Start it first, make the PKI with ``ocsp_url`` / ``crl_url``, then set ``pki``."""

    pki: Pki | None = None
    ocsp_requests: int = 0
    crl_requests: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def ocsp_url(self) -> str:
        return self.base + "/ocsp"

    @property
    def crl_url(self) -> str:
        return self.base + "/crl"

    def _ocsp(self, body: bytes) -> bytes:
        request = ocsp.load_der_ocsp_request(body)
        pki = self.pki
        assert pki is not None and pki.ca_key is not None
        if request.serial_number != pki.tsa_cert.serial_number:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(
                serialization.Encoding.DER)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        response = (ocsp.OCSPResponseBuilder()
                    .add_response(cert=pki.tsa_cert, issuer=pki.ca_cert, algorithm=hashes.SHA1(),
                                  cert_status=ocsp.OCSPCertStatus.GOOD, this_update=now,
                                  next_update=now + dt.timedelta(days=1), revocation_time=None,
                                  revocation_reason=None)
                    .responder_id(ocsp.OCSPResponderEncoding.HASH, pki.ca_cert)
                    .sign(pki.ca_key, hashes.SHA256()))
        return response.public_bytes(serialization.Encoding.DER)

    def _crl(self) -> bytes:
        pki = self.pki
        assert pki is not None and pki.ca_key is not None
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        crl = (x509.CertificateRevocationListBuilder().issuer_name(pki.ca_cert.subject).last_update(now)
               .next_update(now + dt.timedelta(days=7)).sign(pki.ca_key, hashes.SHA256()))
        return crl.public_bytes(serialization.Encoding.DER)

    def start(self) -> PkiServices:
        services = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: bytes, media_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/ocsp" or self.headers.get("Content-Type") != "application/ocsp-request":
                    self.send_error(404)
                    return
                services.ocsp_requests += 1
                self._answer(services._ocsp(body), "application/ocsp-response")

            def do_GET(self) -> None:
                if self.path != "/crl":
                    self.send_error(404)
                    return
                services.crl_requests += 1
                self._answer(services._crl(), "application/pkix-crl")

            def log_message(self, format: str, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="pki-services", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> PkiServices:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
