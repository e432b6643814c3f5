"""A local RFC 3161 Time-Stamp Authority for the tests: never a real one, never off this machine.

Why a double: the tests must run without the internet, and they must be able to show that a token
signed under a CA we do *not* trust is refused. So each ``TsaDouble`` makes a throwaway root CA
and a TSA certificate under it (with the critical extendedKeyUsage id-kp-timeStamping that RFC 3161
section 2.3 requires), listens on 127.0.0.1 on a free port, and answers each TimeStampReq
(``application/timestamp-query``) with a granted TimeStampResp whose token is CMS SignedData over a
TSTInfo, signed with signed attributes (contentType, messageDigest, signingTime and the
ESS signingCertificateV2 that binds the signer's certificate).

``rfc3161-client`` only parses and verifies, so the DER is built here with ``asn1crypto`` and
signed with ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Pki", "TsaDouble", "make_pki", "sign_response"]

TEST_POLICY = "1.3.6.1.4.1.55555.1.1"  # a made-up policy OID: this TSA promises nothing


@dataclass(frozen=True)
class Pki:
    """A root CA and the TSA certificate it issued, with the TSA's key."""

    ca_cert: x509.Certificate
    tsa_cert: x509.Certificate
    tsa_key: rsa.RSAPrivateKey

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "somearkiv tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(label: str = "somearkiv test") -> Pki:
    """A fresh root CA and a TSA certificate valid from yesterday for 30 days."""
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name(f"{label} root CA")
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_cert = (
        x509.CertificateBuilder().subject_name(_name(f"{label} TSA")).issuer_name(ca_name)
        .public_key(tsa_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Pki(ca_cert=ca_cert, tsa_cert=tsa_cert, tsa_key=tsa_key)


def _rejection(text: str, failure: str) -> bytes:
    return tsp.TimeStampResp({
        "status": {"status": "rejection", "status_string": [text], "fail_info": {failure}},
    }).dump()


def sign_response(request_der: bytes, pki: Pki, serial: int, gen_time: dt.datetime | None = None) -> bytes:
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
        "policy": TEST_POLICY,
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


@dataclass
class TsaDouble:
    """The TSA over HTTP on 127.0.0.1 (port 0: a free one), in a daemon thread; a context manager."""

    pki: Pki = field(default_factory=make_pki)
    requests: list[bytes] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _serials: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self._server is not None, "the TSA double is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/tsa"

    @property
    def ca_pem(self) -> bytes:
        return self.pki.ca_pem

    def start(self) -> TsaDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_error(415, "expected application/timestamp-query")
                    return
                double.requests.append(body)
                reply = sign_response(body, double.pki, next(double._serials))
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="tsa-double", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TsaDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
