"""A manifest of each capture and an RFC 3161 timestamp over it: proof that these bytes existed then.

Why: the S3 lock shows that nothing was changed *inside this archive*; a timestamp from an
independent Time-Stamp Authority (TSA) shows, to anyone holding the TSA's certificate, that the
exact bytes of every file of a capture existed no later than the token's ``genTime``. It proves
the bytes existed at that time, not that the page looked like that: what a browser was shown is
argued by the capture record, not by the timestamp.

One token covers a whole capture: it is requested over the SHA-256 of a *manifest*, a small
canonical JSON document that lists every file of the capture (name, role, media type, size,
SHA-256) and its ``record.json``. The manifest format (``somearkiv-manifest/1``):

* UTF-8 JSON, keys sorted, two-space indent, one trailing newline (``json.dumps(..., sort_keys=True,
  indent=2, ensure_ascii=False)``), so the same record always gives the same bytes;
* ``files`` sorted by name; ``record.json`` is listed with role ``record`` and is hashed as
  ``Archive.file_capture`` files it (``record.model_dump_json(indent=2)``), unless its filed bytes are
  passed in.

File the manifest as ``manifest.json`` and the token (the DER ``TimeStampResp``, ``.tsr``, as
``openssl ts -reply`` writes it) as ``manifest.tsr`` beside ``record.json``. Anyone can check them
without this software: ``openssl ts -verify -in manifest.tsr -data manifest.json -CAfile tsa-ca.pem``.

Requests are built with ``asn1crypto`` (``rfc3161-client`` only builds requests from the message
itself, hashing it, and here the caller holds the digest); responses are parsed and verified with
``rfc3161-client``, plus a few strict checks of the CMS envelope that its verifier leaves out.

**Sealed or unsealed.** A capture whose manifest has a token is *sealed*. When no token could be
had (no TSA configured, the TSA down, refusing or misconfigured) the capture is still filed
completely but *unsealed*: its audit event and the run say so, and the ``seal-pending`` flow
(flows/seal.py) timestamps the filed manifest later, filing the token under ``seals/<capture-id>/``
and a ``seal`` entry in the custody ledger that names both times (capture and seal): nothing filed
is ever rewritten. ``seal_states`` reads which captures are sealed from the ledger.

**Authentication.** Qualified TSAs want credentials: basic (``SOMEARKIV_TSA_USERNAME`` and
``SOMEARKIV_TSA_PASSWORD``), a bearer token (``SOMEARKIV_TSA_TOKEN``) or a TLS client certificate
(``SOMEARKIV_TSA_CLIENT_CERT_FILE`` and ``SOMEARKIV_TSA_CLIENT_KEY_FILE``). Secrets are SecretStr,
sent only in the request's headers (never in a URL, a log line, an error or a record), only over
HTTPS (plain HTTP only to a loopback address), and never after a redirect: a TSA does not redirect.

**Long-term validation data.** Beside each token (``manifest.tsr``) are kept what is needed to
check it after the TSA's certificate has expired or been revoked: ``manifest.tsr.chain.pem`` (the
TSA's certificate chain, from the token's own certificates, ``SOMEARKIV_TSA_CHAIN_FILE`` and the
trusted CA), ``manifest.tsr.ocsp-N.der`` (an OCSP answer for each certificate whose
authorityInfoAccess names a responder that answered, signature checked) and
``manifest.tsr.crl-N.der`` (each CRL its cRLDistributionPoints name, signature checked), and
``seal.json``: when the capture was taken and when it was sealed, the TSA, its policy OID, the
token's serial, how far it was verified, and which files hold the validation data.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import secrets
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from pydantic import SecretStr
from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response
from rfc3161_client.tsp import PKIStatus, TimeStampResponse

from somearkiv.fixity import sha256_file
from somearkiv.models import CaptureRecord, LedgerEntry
from storage.archive import RECORD_NAME, SEALS_PREFIX

if TYPE_CHECKING:
    from somearkiv.settings import Settings

__all__ = [
    "DEMO_LABEL",
    "DEMO_POLICY",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "PUBLIC_TSA_URL",
    "SEAL_FORMAT",
    "SEAL_NAME",
    "SEALS_PREFIX",
    "TOKEN_NAME",
    "Seal",
    "SealState",
    "TimestampCheck",
    "TimestampError",
    "Timestamped",
    "TokenInfo",
    "TsaConfig",
    "Validation",
    "build_manifest",
    "check_manifest",
    "describe_seal",
    "is_seal_file",
    "manifest_digest",
    "record_json",
    "request_timestamp",
    "seal_manifest",
    "seal_states",
    "timestamp_capture",
    "token_info",
    "tsa_readiness",
    "validation_data",
    "verify_timestamp",
]

MANIFEST_FORMAT = "somearkiv-manifest/1"
MANIFEST_NAME = "manifest.json"
TOKEN_NAME = "manifest.tsr"
SEAL_NAME = "seal.json"  # what the token is, from whom, when, and where its validation data is
SEAL_FORMAT = "somearkiv-seal/1"
CHAIN_SUFFIX = ".chain.pem"

# The demo's local TSA (deployments/tsa.py) signs under this policy: a UUID-based OID (ITU-T X.667,
# arc 2.25) that names no real policy. A token carrying it is labelled NOT TRUSTWORTHY wherever it shows.
DEMO_POLICY = "2.25.265181464967564504375942182173032867196"
DEMO_LABEL = "somearkiv DEMO TSA – NOT TRUSTWORTHY"
DEMO_WARNING = ("DEMO TSA, NOT TRUSTWORTHY: a throwaway CA on this machine signed this timestamp; it shows how "
                "sealing works and proves nothing to anyone else")
# A free public RFC 3161 TSA (no account, not a qualified one) that `serve` and `doctor` suggest when no
# TSA is configured; never used unless the operator sets it. Only each manifest's SHA-256 is sent to it.
PUBLIC_TSA_URL = "http://timestamp.digicert.com"
_MAX_REPLY = 1 << 20  # a TimeStampResp or an OCSP answer is a few KiB
_MAX_CRL = 16 << 20

# What a TimeStampToken's CMS envelope may say. rfc3161-client (through OpenSSL's PKCS7_verify)
# checks the signature over the TSTInfo and the signed attributes, but not these unsigned fields;
# without this check a flipped bit in a version number or in the signature algorithm identifier
# would pass unnoticed.
_DIGESTS = {"sha256", "sha384", "sha512"}
_SIGNATURES = {"rsassa_pkcs1v15", "sha256_rsa", "sha384_rsa", "sha512_rsa", "rsassa_pss",
               "sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa", "ed25519", "ed448"}


class TimestampError(RuntimeError):
    """The TSA could not be reached, refused, or answered with something that does not fit."""


@dataclass(frozen=True)
class TimestampCheck:
    """The outcome of checking one token against one manifest.

    ``valid`` is True only when the token is intact, covers exactly this manifest, and was signed by
    a TSA certificate (critical EKU timeStamping) that chains to the trusted CA at ``gen_time``.
    ``matches_manifest`` says whether the token's message imprint is the manifest's SHA-256,
    whatever else is wrong.
    """

    valid: bool
    gen_time: dt.datetime | None
    tsa_name: str | None
    serial: int | None
    reason: str
    matches_manifest: bool = False


class Timestamped(NamedTuple):
    """What ``timestamp_capture`` made: the manifest, the token (None without a TSA) and a note."""

    manifest: bytes
    token: bytes | None
    note: str


# -- the manifest -----------------------------------------------------------------------------------


def record_json(record: CaptureRecord) -> bytes:
    """record.json as ``Archive.file_capture`` files it."""
    return record.model_dump_json(indent=2).encode()


def build_manifest(record: CaptureRecord, record_body: bytes | None = None) -> bytes:
    """The canonical manifest of *record* (as filed) and its record.json; see the module docstring."""
    body = record_json(record) if record_body is None else record_body
    files = [{"name": f.name, "role": f.role.value, "media_type": f.media_type, "size": f.size, "sha256": f.sha256}
             for f in record.files]
    if any(f["name"] == RECORD_NAME for f in files):
        raise ValueError(f"{record.capture_id}: a capture file may not be called {RECORD_NAME}")
    files.append({"name": RECORD_NAME, "role": "record", "media_type": "application/json", "size": len(body),
                  "sha256": hashlib.sha256(body).hexdigest()})
    manifest = {
        "format": MANIFEST_FORMAT,
        "capture_id": record.capture_id,
        "account": record.account.id,
        "municipality": record.municipality,
        "started_at": record.started_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "hash_algorithm": "SHA-256",
        "files": sorted(files, key=lambda f: f["name"]),
    }
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def manifest_digest(manifest: bytes) -> bytes:
    """The SHA-256 of the manifest's bytes: what the TSA signs."""
    return hashlib.sha256(manifest).digest()


def check_manifest(manifest: bytes, folder: Path) -> list[str]:
    """Problems found comparing the files in *folder* with *manifest* (empty: every file matches)."""
    try:
        listed = json.loads(manifest)["files"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"the manifest is not readable: {exc}"]
    problems = []
    for entry in listed:
        path = Path(folder) / entry["name"]
        if not path.is_file():
            problems.append(f"{entry['name']}: listed in the manifest but missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{entry['name']}: {path.stat().st_size} bytes, the manifest says {entry['size']}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['name']}: SHA-256 differs from the manifest")
    return problems


# -- asking a TSA -----------------------------------------------------------------------------------


def _secret(value: SecretStr | str | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _display_url(url: str) -> str:
    """The URL as it may be written anywhere: without user information, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "(an unreadable URL)"


@dataclass(frozen=True)
class TsaConfig:
    """How to reach one TSA and what to trust: the URL, credentials (never in ``repr``), TLS settings,
    the CA its tokens must chain to and a chain file to keep beside each token."""

    url: str
    timeout: float = 15.0
    ca_pem: bytes | None = field(default=None, repr=False)
    chain_pem: bytes | None = field(default=None, repr=False)
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    bearer: SecretStr | None = field(default=None, repr=False)
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    client_key_password: SecretStr | None = field(default=None, repr=False)
    tls_ca_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TsaConfig | None:
        """The configured TSA (None without ``SOMEARKIV_TSA_URL``). A CA or chain file that cannot be
        read raises TimestampError naming the setting."""
        if not settings.tsa_url:
            return None

        def read(path: Path | None, name: str) -> bytes | None:
            if path is None:
                return None
            try:
                return Path(path).expanduser().read_bytes()
            except OSError as exc:
                raise TimestampError(f"{name} {path}: cannot be read ({exc.strerror or exc})") from None

        return cls(
            url=settings.tsa_url, timeout=settings.tsa_timeout_s,
            ca_pem=read(settings.tsa_ca_file, "SOMEARKIV_TSA_CA_FILE"),
            chain_pem=read(settings.tsa_chain_file, "SOMEARKIV_TSA_CHAIN_FILE"),
            username=settings.tsa_username, password=settings.tsa_password, bearer=settings.tsa_token,
            client_cert_file=settings.tsa_client_cert_file, client_key_file=settings.tsa_client_key_file,
            client_key_password=settings.tsa_client_key_password, tls_ca_file=settings.tsa_tls_ca_file,
        )

    @property
    def display_url(self) -> str:
        return _display_url(self.url)

    @property
    def authenticates(self) -> str | None:
        """How this client authenticates to the TSA: 'basic', 'bearer', 'client certificate' (joined)."""
        ways = [w for w, on in (("basic", self.username is not None), ("bearer", self.bearer is not None),
                                ("client certificate", self.client_cert_file is not None)) if on]
        return " + ".join(ways) or None

    def problems(self) -> list[str]:
        """What is wrong with this configuration, without asking the TSA (empty: nothing found)."""
        found = []
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError as exc:
            return [f"SOMEARKIV_TSA_URL is not a URL: {exc}"]
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return [f"SOMEARKIV_TSA_URL must be an http(s) URL, not {self.display_url!r}"]
        if parts.username or parts.password:
            found.append("SOMEARKIV_TSA_URL holds credentials: put them in SOMEARKIV_TSA_USERNAME and "
                         "SOMEARKIV_TSA_PASSWORD (they are kept out of logs and records)")
        if (self.username is None) != (self.password is None):
            found.append("SOMEARKIV_TSA_USERNAME and SOMEARKIV_TSA_PASSWORD go together: set both or neither")
        if self.username is not None and self.bearer is not None:
            found.append("set either SOMEARKIV_TSA_USERNAME/SOMEARKIV_TSA_PASSWORD (basic) or SOMEARKIV_TSA_TOKEN "
                         "(bearer), not both")
        if (self.client_cert_file is None) != (self.client_key_file is None):
            found.append("SOMEARKIV_TSA_CLIENT_CERT_FILE and SOMEARKIV_TSA_CLIENT_KEY_FILE go together")
        for name, path in (("SOMEARKIV_TSA_CLIENT_CERT_FILE", self.client_cert_file),
                           ("SOMEARKIV_TSA_CLIENT_KEY_FILE", self.client_key_file),
                           ("SOMEARKIV_TSA_TLS_CA_FILE", self.tls_ca_file)):
            if path is not None and not Path(path).expanduser().is_file():
                found.append(f"{name} {path}: no such file")
        secured = parts.scheme == "https" or _is_loopback(parts.hostname)
        if (self.username is not None or self.bearer is not None) and not secured:
            found.append(f"credentials are sent only over HTTPS (or to a loopback address): {self.display_url} "
                         "is plain HTTP")
        if self.client_cert_file is not None and parts.scheme != "https":
            found.append("a client certificate needs an https:// SOMEARKIV_TSA_URL")
        for name, pem in (("SOMEARKIV_TSA_CA_FILE", self.ca_pem), ("SOMEARKIV_TSA_CHAIN_FILE", self.chain_pem)):
            if pem is not None:
                try:
                    x509.load_pem_x509_certificates(pem)
                except ValueError:
                    found.append(f"{name} holds no readable PEM certificate")
        return found

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"}
        if self.username is not None:
            pair = f"{self.username}:{_secret(self.password) or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif self.bearer is not None:
            headers["Authorization"] = f"Bearer {_secret(self.bearer)}"
        return headers

    def _opener(self) -> urllib.request.OpenerDirector:
        handlers: list = [_NoRedirect()]
        if urlsplit(self.url).scheme == "https":
            context = ssl.create_default_context(cafile=str(Path(self.tls_ca_file).expanduser())
                                                 if self.tls_ca_file else None)
            if self.client_cert_file is not None:
                try:
                    context.load_cert_chain(Path(self.client_cert_file).expanduser(),
                                            Path(self.client_key_file).expanduser() if self.client_key_file else None,
                                            password=_secret(self.client_key_password))
                except (OSError, ssl.SSLError) as exc:
                    raise TimestampError("the TSA client certificate (SOMEARKIV_TSA_CLIENT_CERT_FILE, "
                                         f"SOMEARKIV_TSA_CLIENT_KEY_FILE) cannot be used: {exc}") from None
            handlers.append(urllib.request.HTTPSHandler(context=context))
        return urllib.request.build_opener(*handlers)

    def post(self, body: bytes) -> bytes:
        """POST a TimeStampReq; the answer's bytes. Every failure is a TimestampError without secrets."""
        if problems := self.problems():
            raise TimestampError(f"TSA {self.display_url} is not usable: " + "; ".join(problems))
        request = urllib.request.Request(self.url, data=body, method="POST", headers=self._headers())
        try:
            with self._opener().open(request, timeout=self.timeout) as answer:  # http(s) only: checked above
                reply = answer.read(_MAX_REPLY + 1)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (401, 403):
                given = self.authenticates
                raise TimestampError(
                    f"TSA {self.display_url} refused the request (HTTP {exc.code}): "
                    + (f"the {given} credentials were not accepted" if given else
                       "it wants credentials (SOMEARKIV_TSA_USERNAME/_PASSWORD, SOMEARKIV_TSA_TOKEN or "
                       "SOMEARKIV_TSA_CLIENT_CERT_FILE/_KEY_FILE)")) from None
            if 300 <= exc.code < 400:
                raise TimestampError(f"TSA {self.display_url} redirected (HTTP {exc.code}); a TSA URL is used as "
                                     "configured, credentials are never sent elsewhere") from None
            raise TimestampError(f"TSA {self.display_url} answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TimestampError(f"TSA {self.display_url} did not answer: {reason}") from None
        if len(reply) > _MAX_REPLY:
            raise TimestampError(f"TSA {self.display_url} answered with more than {_MAX_REPLY} bytes")
        return reply


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A TSA is asked at its configured URL only: a redirect is an error (and carries no credentials)."""

    def redirect_request(self, *args, **kwargs):
        return None


def _request_der(digest: bytes, nonce: int) -> bytes:
    return tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,  # the token carries the TSA certificate, so it can be checked offline later
    }).dump()


def request_timestamp(digest: bytes, tsa: str | TsaConfig, *, timeout: float | None = None) -> bytes:
    """Ask the TSA (a URL, or a TsaConfig with credentials) to timestamp a SHA-256 *digest*; return
    the DER TimeStampResp.

    The answer is checked before it is returned: granted, over this digest, with our nonce (so it
    is not a replayed answer). Whether the TSA is trusted is ``verify_timestamp``'s business.
    """
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    config = tsa if isinstance(tsa, TsaConfig) else TsaConfig(url=tsa, timeout=15 if timeout is None else timeout)
    if timeout is not None and isinstance(tsa, TsaConfig):
        config = TsaConfig(**{**config.__dict__, "timeout": timeout})
    if not config.url.startswith(("http://", "https://")):
        raise ValueError(f"the TSA URL must be http(s): {config.display_url!r}")
    where = config.display_url
    nonce = secrets.randbits(63)
    body = config.post(_request_der(digest, nonce))
    try:
        response = decode_timestamp_response(body)
    except ValueError as exc:
        raise TimestampError(f"TSA {where} answered with something that is not a TimeStampResp: {exc}") from exc
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(f"TSA {where} refused: status {response.status} {' '.join(response.status_string)}")
    if response.tst_info.message_imprint.message != digest:
        raise TimestampError(f"TSA {where} timestamped another digest")
    if response.tst_info.nonce != nonce:
        raise TimestampError(f"TSA {where} answered with another nonce (a replayed or mixed-up answer)")
    return body


# -- checking a token -------------------------------------------------------------------------------


def _tsa_name(response: TimeStampResponse) -> str | None:
    try:
        name = response.tst_info.name
    except (ValueError, KeyError, AttributeError, TypeError):  # an unusual GeneralName: only a label is lost
        name = None
    value = getattr(name, "value", None)
    if isinstance(value, x509.Name):
        return value.rfc4514_string()
    return None if value is None else str(value)


def _envelope_problem(token: bytes) -> str | None:
    """What is wrong with the token's unsigned CMS fields (RFC 5652, RFC 3161), or None."""
    try:
        content = tsp.TimeStampResp.load(token)["time_stamp_token"]
        if content["content_type"].native != "signed_data":
            return "the token is not CMS SignedData"
        signed: cms.SignedData = content["content"]
        if signed["version"].native != "v3":
            return f"SignedData version {signed['version'].native}, RFC 5652 requires v3 for a TSTInfo"
        if signed["encap_content_info"]["content_type"].native != "tst_info":
            return "the signed content is not a TSTInfo"
        signers = list(signed["signer_infos"])
        if len(signers) != 1:
            return f"{len(signers)} signers, a timestamp has exactly one"
        signer = signers[0]
        expected = "v1" if signer["sid"].name == "issuer_and_serial_number" else "v3"
        if signer["version"].native != expected:
            return f"SignerInfo version {signer['version'].native}, expected {expected} for its signer identifier"
        digest = signer["digest_algorithm"]["algorithm"].native
        if digest not in _DIGESTS or digest not in {a["algorithm"].native for a in signed["digest_algorithms"]}:
            return f"unexpected digest algorithm {digest}"
        if signer["signature_algorithm"]["algorithm"].native not in _SIGNATURES:
            return f"unexpected signature algorithm {signer['signature_algorithm']['algorithm'].dotted}"
    except (ValueError, TypeError, KeyError) as exc:
        return f"the token's CMS structure is not readable: {exc}"
    return None


def verify_timestamp(token: bytes, manifest: bytes, *, trusted_ca_pem: bytes | None) -> TimestampCheck:
    """Check *token* (a DER TimeStampResp) against *manifest* and the TSA's CA in *trusted_ca_pem*.

    Detects a changed manifest (imprint mismatch), a changed token (broken signature or envelope), a
    TSA certificate that does not chain to the trusted CA, and a signer without the critical
    timeStamping EKU. Without a CA the token is not trusted, whatever it says: ``valid`` is False.
    """
    try:
        response = decode_timestamp_response(token)
        info = response.tst_info
        gen_time, serial = info.gen_time, info.serial_number
        matches = info.message_imprint.message == manifest_digest(manifest)
    except (ValueError, KeyError, TypeError) as exc:  # the Rust parser's ASN.1 errors are ValueErrors
        return TimestampCheck(False, None, None, None, f"the token is not a readable TimeStampResp: {exc}")
    seen = {"gen_time": gen_time, "tsa_name": _tsa_name(response), "serial": serial, "matches_manifest": matches}
    if not matches:
        return TimestampCheck(False, **seen, reason="the token's message imprint is not the SHA-256 of this manifest: "
                                                    "the manifest (or the token) has changed")
    if problem := _envelope_problem(token):
        return TimestampCheck(False, **seen, reason=problem)
    if not trusted_ca_pem:
        return TimestampCheck(False, **seen, reason="no trusted TSA CA given: the token matches the manifest, "
                                                    "but who signed it is not established")
    try:
        roots = x509.load_pem_x509_certificates(trusted_ca_pem)
    except ValueError as exc:
        return TimestampCheck(False, **seen, reason=f"the trusted CA is not readable PEM: {exc}")
    try:
        VerifierBuilder(roots=roots).build().verify_message(response, manifest)
    except (VerificationError, ValueError) as exc:  # ValueError: a certificate in the token is unreadable
        return TimestampCheck(False, **seen, reason=f"not valid: {exc}")
    return TimestampCheck(True, **seen, reason="valid: signed by a TSA under the trusted CA, over this manifest")


# -- one capture ------------------------------------------------------------------------------------


def timestamp_capture(record: CaptureRecord, tsa_url: str | TsaConfig | None, *, trusted_ca_pem: bytes | None = None,
                      record_body: bytes | None = None, timeout: float = 15) -> Timestamped:
    """Manifest *record* (as filed) and, with a TSA configured, timestamp it.

    Without a TSA the manifest is still made and the note says that no token exists. With a
    trusted CA the fresh token is verified at once, so a misconfigured TSA is noticed on the first
    capture and not years later. A TSA that fails raises ``TimestampError``: let the caller retry or
    file without a token, knowingly (``seal_manifest`` adds the long-term validation data).
    """
    manifest = build_manifest(record, record_body)
    if not tsa_url:
        return Timestamped(manifest, None, "no TSA configured: filed without an RFC 3161 timestamp; "
                                           "the manifest's SHA-256 values and the S3 lock are the only fixity evidence")
    config = tsa_url if isinstance(tsa_url, TsaConfig) else TsaConfig(url=tsa_url, timeout=timeout,
                                                                      ca_pem=trusted_ca_pem)
    trusted = config.ca_pem if trusted_ca_pem is None else trusted_ca_pem
    token = request_timestamp(manifest_digest(manifest), config)
    check = verify_timestamp(token, manifest, trusted_ca_pem=trusted)
    if trusted and not check.valid:
        raise TimestampError(f"{record.capture_id}: the token from {config.display_url} does not verify: "
                             f"{check.reason}")
    when = check.gen_time.isoformat() if check.gen_time else "?"
    trust = "verified against the configured CA" if check.valid else "not verified (no TSA CA configured)"
    note = (f"RFC 3161 timestamp from {check.tsa_name or config.display_url}, genTime {when}, "
            f"serial {check.serial}: {trust}")
    if token_info(token).policy == DEMO_POLICY:
        note += f"; {DEMO_WARNING}"
    return Timestamped(manifest, token, note)


# -- what a token says, and what it takes to check it later -----------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    """What a token says about itself (nothing here is checked: see ``verify_timestamp``)."""

    gen_time: dt.datetime | None
    serial: int | None
    policy: str | None
    tsa_name: str | None
    certificates: tuple[x509.Certificate, ...]
    signer: x509.Certificate | None


def token_info(token: bytes) -> TokenInfo:
    """genTime, serial, policy OID, TSA name and the certificates a DER TimeStampResp carries."""
    try:
        signed = tsp.TimeStampResp.load(token)["time_stamp_token"]["content"]
        tst = signed["encap_content_info"]["content"].parsed
        certs = []
        for choice in signed["certificates"] or []:
            if choice.name == "certificate":
                try:
                    certs.append(x509.load_der_x509_certificate(choice.chosen.dump()))
                except ValueError:
                    continue
        sid = signed["signer_infos"][0]["sid"]
        signer = None
        if sid.name == "issuer_and_serial_number":
            serial = sid.chosen["serial_number"].native
            signer = next((c for c in certs if c.serial_number == serial), None)
        else:
            key_id = sid.chosen.native
            for c in certs:
                try:
                    if c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == key_id:
                        signer = c
                except x509.ExtensionNotFound:
                    continue
        name = None
        try:
            response = decode_timestamp_response(token)
            name = _tsa_name(response)
        except ValueError:
            pass
        return TokenInfo(gen_time=tst["gen_time"].native, serial=tst["serial_number"].native,
                         policy=tst["policy"].dotted, tsa_name=name, certificates=tuple(certs), signer=signer)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return TokenInfo(None, None, None, None, (), None)


@dataclass
class Validation:
    """What it takes to check a token once the TSA's certificate has expired or been revoked."""

    chain: list[x509.Certificate] = field(default_factory=list)  # signer first, up to the root
    ocsp: list[tuple[str, bytes]] = field(default_factory=list)  # (certificate subject, DER OCSPResponse)
    crls: list[tuple[str, bytes]] = field(default_factory=list)  # (URL, DER CRL)
    notes: list[str] = field(default_factory=list)

    @property
    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)


def _certs(pem: bytes | None) -> list[x509.Certificate]:
    if not pem:
        return []
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        return []


def _ordered_chain(signer: x509.Certificate | None, certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates without duplicates, from the signer up through its issuers, then the rest."""
    unique: dict[bytes, x509.Certificate] = {}
    for c in ([signer] if signer else []) + list(certs):
        unique.setdefault(c.fingerprint(hashes.SHA256()), c)
    pool = list(unique.values())
    if signer is None:
        return pool
    chain = [signer]
    while chain[-1].issuer != chain[-1].subject:
        issuer = next((c for c in pool if c.subject == chain[-1].issuer and c not in chain), None)
        if issuer is None:
            break
        chain.append(issuer)
    return chain + [c for c in pool if c not in chain]


def _issuer_of(cert: x509.Certificate, chain: list[x509.Certificate]) -> x509.Certificate | None:
    if cert.issuer == cert.subject:
        return None  # a root: nobody answers for it
    for candidate in chain:
        if candidate.subject == cert.issuer and candidate is not cert:
            try:
                cert.verify_directly_issued_by(candidate)
                return candidate
            except (ValueError, TypeError, InvalidSignature):
                continue
    return None


def _fetch(url: str, timeout: float, *, body: bytes | None = None, media_type: str | None = None,
           limit: int = _MAX_REPLY) -> bytes:
    """GET (or POST *body*) an http(s) URL named in a certificate; no redirects, at most *limit* bytes."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {_display_url(url)}")
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": media_type} if media_type else {})
    with urllib.request.build_opener(_NoRedirect()).open(request, timeout=timeout) as answer:
        data = answer.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{_display_url(url)} answered with more than {limit} bytes")
    return data


def _signed_by(key, signature: bytes, data: bytes, algorithm) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            key.verify(signature, data)  # Ed25519 / Ed448
        return True
    except (InvalidSignature, TypeError, ValueError):
        return False


def _ocsp_for(cert: x509.Certificate, issuer: x509.Certificate, url: str, timeout: float) -> tuple[bytes | None, str]:
    """An OCSP answer for *cert* from *url* whose signature checks (by the issuer or a responder it
    delegated to), or None and why not."""
    where = _display_url(url)
    try:
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
        der = _fetch(url, timeout, body=request.public_bytes(serialization.Encoding.DER),
                     media_type="application/ocsp-request")
        answer = ocsp.load_der_ocsp_response(der)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        return None, f"OCSP {where}: not available ({getattr(exc, 'reason', exc)})"
    if answer.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return None, f"OCSP {where}: answered {answer.response_status.name}"
    if answer.serial_number != cert.serial_number:
        return None, f"OCSP {where}: answered for another certificate"
    signers = [issuer] + [c for c in answer.certificates if _issuer_of(c, [issuer]) is issuer and _ocsp_signing(c)]
    if not any(_signed_by(s.public_key(), answer.signature, answer.tbs_response_bytes, answer.signature_hash_algorithm)
               for s in signers):
        return None, f"OCSP {where}: the answer's signature does not check; not kept"
    return der, f"OCSP {where}: {answer.certificate_status.name} at {answer.produced_at_utc:%Y-%m-%dT%H:%M:%SZ}"


def _ocsp_signing(cert: x509.Certificate) -> bool:
    try:
        return ExtendedKeyUsageOID.OCSP_SIGNING in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False


def validation_data(token: bytes, config: TsaConfig | None = None, *, fetch: bool = True) -> Validation:
    """The TSA's chain (the token's certificates, the configured chain file and CA) and, where its
    certificates name them and they answer, OCSP answers and CRLs, each signature checked.

    fetch: ask the OCSP responders and CRL addresses the certificates name. Callers pass it only for
    a token verified under the configured CA: the addresses in an unverified token's certificates
    could point anywhere (this machine's own services included), so they are not asked."""
    info = token_info(token)
    config = config or TsaConfig(url="http://unused.invalid")
    found = Validation()
    found.chain = _ordered_chain(info.signer, [*info.certificates, *_certs(config.chain_pem), *_certs(config.ca_pem)])
    if not found.chain:
        found.notes.append("the token carries no certificate and no chain file is configured "
                           "(SOMEARKIV_TSA_CHAIN_FILE)")
        return found
    if found.chain[-1].issuer != found.chain[-1].subject:
        found.notes.append("the chain does not reach a root certificate: add it with SOMEARKIV_TSA_CHAIN_FILE")
    if not fetch:
        found.notes.append("OCSP and CRL not fetched: the token is not verified under a configured CA "
                           "(SOMEARKIV_TSA_CA_FILE), so the addresses its certificates name are not trusted")
        return found
    seen_crls: set[str] = set()
    for cert in found.chain:
        issuer = _issuer_of(cert, found.chain)
        if issuer is None:
            continue
        try:
            access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
            responders = [d.access_location.value for d in access
                          if d.access_method == AuthorityInformationAccessOID.OCSP
                          and isinstance(d.access_location, x509.UniformResourceIdentifier)]
        except x509.ExtensionNotFound:
            responders = []
        for url in responders[:2]:
            der, note = _ocsp_for(cert, issuer, url, config.timeout)
            found.notes.append(note)
            if der is not None:
                found.ocsp.append((cert.subject.rfc4514_string(), der))
                break
        try:
            points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
            urls = [n.value for p in points for n in (p.full_name or [])
                    if isinstance(n, x509.UniformResourceIdentifier)]
        except x509.ExtensionNotFound:
            urls = []
        for url in urls[:2]:
            if url in seen_crls:
                continue
            seen_crls.add(url)
            where = _display_url(url)
            try:
                body = _fetch(url, config.timeout, limit=_MAX_CRL)
                crl = x509.load_der_x509_crl(body) if not body.lstrip().startswith(b"-----") else \
                    x509.load_pem_x509_crl(body)
            except (OSError, ValueError, urllib.error.URLError) as exc:
                found.notes.append(f"CRL {where}: not available ({getattr(exc, 'reason', exc)})")
                continue
            if not crl.is_signature_valid(issuer.public_key()):
                found.notes.append(f"CRL {where}: its signature does not check; not kept")
                continue
            revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            found.crls.append((url, crl.public_bytes(serialization.Encoding.DER)))
            found.notes.append(f"CRL {where}: {'REVOKED' if revoked else 'not revoked'}, "
                               f"issued {crl.last_update_utc:%Y-%m-%dT%H:%M:%SZ}")
    return found


# -- sealing: a token and its validation data ---------------------------------------------------------


@dataclass(frozen=True)
class Seal:
    """A token over a manifest and what is filed with it, in filing order (token, chain, OCSP
    answers, CRLs, then ``seal.json``)."""

    token: bytes
    check: TimestampCheck
    policy: str | None
    demo: bool
    trust: str
    files: tuple[tuple[str, bytes, str], ...]  # (name, body, media type)
    note: str
    document: dict


def _utc(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def seal_manifest(manifest: bytes, config: TsaConfig, *, capture_id: str, captured_at: dt.datetime,
                  filed_at: dt.datetime | None = None, late: bool = False) -> Seal:
    """Timestamp *manifest* at the configured TSA and gather the token's validation data.

    Raises TimestampError when no token can be had, or when the token does not verify against the
    configured CA (a misconfigured or impostor TSA is never filed as a seal).
    """
    token = request_timestamp(manifest_digest(manifest), config)
    check = verify_timestamp(token, manifest, trusted_ca_pem=config.ca_pem)
    if config.ca_pem and not check.valid:
        raise TimestampError(f"{capture_id}: the token from {config.display_url} does not verify: {check.reason}")
    info = token_info(token)
    demo = info.policy == DEMO_POLICY
    trust = ("verified against the configured CA (SOMEARKIV_TSA_CA_FILE)" if check.valid
             else "NOT VERIFIED: no TSA CA configured (SOMEARKIV_TSA_CA_FILE); the chain is kept to check it later")
    if demo:
        trust = f"{DEMO_WARNING} ({trust})"
    validation = validation_data(token, config, fetch=check.valid)  # only addresses in a chain we trust
    files: list[tuple[str, bytes, str]] = [(TOKEN_NAME, token, "application/timestamp-reply")]
    if validation.chain:
        files.append((TOKEN_NAME + CHAIN_SUFFIX, validation.chain_pem, "application/pem-certificate-chain"))
    for i, (_subject, der) in enumerate(validation.ocsp, 1):
        files.append((f"{TOKEN_NAME}.ocsp-{i}.der", der, "application/ocsp-response"))
    for i, (_url, der) in enumerate(validation.crls, 1):
        files.append((f"{TOKEN_NAME}.crl-{i}.der", der, "application/pkix-crl"))
    document = {
        "format": SEAL_FORMAT,
        "capture_id": capture_id,
        "manifest": MANIFEST_NAME,
        "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
        "token": TOKEN_NAME,
        "token_sha256": hashlib.sha256(token).hexdigest(),
        "captured_at": _utc(captured_at),
        "filed_at": _utc(filed_at),
        "sealed_at": _utc(check.gen_time),
        "sealed_later": late,
        "tsa": {"url": config.display_url, "name": check.tsa_name, "policy": info.policy, "serial": check.serial,
                "authentication": config.authenticates},
        "trust": trust,
        "demo": demo,
        "validation": {
            "chain": TOKEN_NAME + CHAIN_SUFFIX if validation.chain else None,
            "chain_subjects": [c.subject.rfc4514_string() for c in validation.chain],
            "ocsp": [{"file": f"{TOKEN_NAME}.ocsp-{i}.der", "certificate": s}
                     for i, (s, _der) in enumerate(validation.ocsp, 1)],
            "crl": [{"file": f"{TOKEN_NAME}.crl-{i}.der", "url": _display_url(u)}
                    for i, (u, _der) in enumerate(validation.crls, 1)],
            "notes": validation.notes,
        },
    }
    files.append((SEAL_NAME, (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode(),
                  "application/json"))
    when = _utc(check.gen_time) or "?"
    note = (f"sealed: RFC 3161 timestamp from {check.tsa_name or config.display_url}, genTime {when}, serial "
            f"{check.serial}, policy {info.policy}: {trust}"
            + (f"; long-term validation data: chain of {len(validation.chain)}, {len(validation.ocsp)} OCSP, "
               f"{len(validation.crls)} CRL"))
    return Seal(token=token, check=check, policy=info.policy, demo=demo, trust=trust, files=tuple(files), note=note,
                document=document)


def is_seal_file(name: str) -> bool:
    """Whether a file of a capture's folder is part of its seal (token, validation data, seal.json)."""
    return name == SEAL_NAME or name == TOKEN_NAME or name.startswith(TOKEN_NAME + ".")


# -- is a TSA ready? (for `somearkiv doctor`) -------------------------------------------------------


def tsa_readiness(settings: Settings, *, probe: bool = True) -> tuple[bool, str]:
    """(ok, message): is a TSA configured, is its configuration sound, and (with *probe*) does it
    answer with a token that verifies? Never raises; never puts a secret in the message."""
    if not settings.tsa_url:
        return False, ("no TSA configured (SOMEARKIV_TSA_URL): captures are filed UNSEALED, without an RFC 3161 "
                       "timestamp; set SOMEARKIV_TSA_URL (and SOMEARKIV_TSA_CA_FILE) to your TSA")
    try:
        config = TsaConfig.from_settings(settings)
    except TimestampError as exc:
        return False, str(exc)
    assert config is not None
    if problems := config.problems():
        return False, f"TSA {config.display_url}: " + "; ".join(problems)
    auth = f", authenticating with {config.authenticates}" if config.authenticates else ""
    if not probe:
        return True, f"TSA {config.display_url} configured{auth} (not asked)"
    digest = hashlib.sha256(b"somearkiv TSA readiness probe " + secrets.token_bytes(16)).digest()
    try:
        token = request_timestamp(digest, config)
    except (TimestampError, ValueError) as exc:
        return False, str(exc)
    info = token_info(token)
    trust = "no TSA CA configured (SOMEARKIV_TSA_CA_FILE): its tokens cannot be verified"
    ok = True
    if config.ca_pem:
        check = _verify_digest(token, config.ca_pem)
        ok = check is None
        trust = "its token verifies against SOMEARKIV_TSA_CA_FILE" if ok else f"its token does NOT verify: {check}"
    demo = f"; {DEMO_WARNING}" if info.policy == DEMO_POLICY else ""
    return ok, (f"TSA {config.display_url} answered{auth}: {info.tsa_name or '?'}, policy {info.policy}, "
                f"genTime {_utc(info.gen_time)}; {trust}{demo}")


def _verify_digest(token: bytes, ca_pem: bytes) -> str | None:
    """Why a probe token does not verify under *ca_pem* (None: it does). The probe's message is unknown
    to the verifier, so the signature and chain are checked over the token's own imprint."""
    try:
        response = decode_timestamp_response(token)
        roots = x509.load_pem_x509_certificates(ca_pem)
        VerifierBuilder(roots=roots).build().verify(response, response.tst_info.message_imprint.message)
    except (VerificationError, ValueError) as exc:
        return str(exc)
    return _envelope_problem(token)


# -- which captures are sealed (from the custody ledger) ----------------------------------------------


@dataclass(frozen=True)
class SealState:
    """Whether a ledgered capture is sealed: at filing (its token is among the capture's objects) or
    later (a ``seal`` entry), and where its token is."""

    capture_id: str
    sealed: bool
    later: bool = False
    sealed_entry: int | None = None  # the ledger seq of the seal entry (or of the capture entry)
    token_key: str | None = None
    seal_key: str | None = None  # seal.json
    at: dt.datetime | None = None  # when the seal was ledgered

    @property
    def word(self) -> str:
        if not self.sealed:
            return "UNSEALED"
        return "sealed later" if self.later else "sealed"


def seal_states(entries: Iterable[LedgerEntry]) -> dict[str, SealState]:
    """Every ledgered capture's SealState, replaying the ledger in order."""
    states: dict[str, SealState] = {}
    for entry in entries:
        if entry.capture_id is None or entry.kind not in ("capture", "seal"):
            continue
        token = next((o.key for o in entry.objects if o.key.rsplit("/", 1)[-1] == TOKEN_NAME), None)
        seal = next((o.key for o in entry.objects if o.key.rsplit("/", 1)[-1] == SEAL_NAME), None)
        if entry.kind == "capture":
            states[entry.capture_id] = SealState(entry.capture_id, token is not None, False,
                                                 entry.seq if token else None, token, seal,
                                                 entry.at if token else None)
        elif token is not None and entry.capture_id in states and not states[entry.capture_id].sealed:
            states[entry.capture_id] = SealState(entry.capture_id, True, True, entry.seq, token, seal, entry.at)
    return states


def describe_seal(state: SealState | None, read: Callable[[str], bytes] | None = None) -> str:
    """One line on a capture's seal for people (``somearkiv captures``); *read* fetches seal.json by key
    to name the TSA, its policy and the genTime (and to label a demo TSA's token)."""
    if state is None or not state.sealed:
        return "UNSEALED: no RFC 3161 timestamp yet (the seal-pending flow timestamps it when a TSA answers)"
    text = f"sealed later (ledgered {state.at:%Y-%m-%d %H:%M}Z)" if state.later and state.at else \
        ("sealed later" if state.later else "sealed at filing")
    if read is not None and state.seal_key:
        try:
            doc = json.loads(read(state.seal_key))
            text += (f": genTime {doc.get('sealed_at')}, TSA {doc['tsa'].get('name') or doc['tsa'].get('url')}, "
                     f"policy {doc['tsa'].get('policy')}")
            if doc.get("demo"):
                text += f" – {DEMO_LABEL}"
        except Exception:  # noqa: BLE001 - a line for people; fixity reports a damaged seal.json
            text += " (seal.json not readable)"
    return text
