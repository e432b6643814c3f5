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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from asn1crypto import cms, tsp
from cryptography import x509
from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response
from rfc3161_client.tsp import PKIStatus, TimeStampResponse

from somearkiv.fixity import sha256_file
from somearkiv.models import CaptureRecord
from storage.archive import RECORD_NAME

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "TOKEN_NAME",
    "TimestampCheck",
    "TimestampError",
    "Timestamped",
    "build_manifest",
    "check_manifest",
    "manifest_digest",
    "record_json",
    "request_timestamp",
    "timestamp_capture",
    "verify_timestamp",
]

MANIFEST_FORMAT = "somearkiv-manifest/1"
MANIFEST_NAME = "manifest.json"
TOKEN_NAME = "manifest.tsr"

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


def _request_der(digest: bytes, nonce: int) -> bytes:
    return tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,  # the token carries the TSA certificate, so it can be checked offline later
    }).dump()


def request_timestamp(digest: bytes, tsa_url: str, *, timeout: float = 15) -> bytes:
    """Ask the TSA at *tsa_url* to timestamp a SHA-256 *digest*; return the DER TimeStampResp.

    The answer is checked before it is returned: granted, over this digest, with our nonce (so it
    is not a replayed answer). Whether the TSA is trusted is ``verify_timestamp``'s business.
    """
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    if not tsa_url.startswith(("http://", "https://")):
        raise ValueError(f"the TSA URL must be http(s): {tsa_url!r}")
    nonce = secrets.randbits(63)
    request = urllib.request.Request(tsa_url, data=_request_der(digest, nonce), method="POST", headers={
        "Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # http(s) only: checked above
            body = answer.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise TimestampError(f"TSA {tsa_url} did not answer: {exc}") from exc
    try:
        response = decode_timestamp_response(body)
    except ValueError as exc:
        raise TimestampError(f"TSA {tsa_url} answered with something that is not a TimeStampResp: {exc}") from exc
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(f"TSA {tsa_url} refused: status {response.status} {' '.join(response.status_string)}")
    if response.tst_info.message_imprint.message != digest:
        raise TimestampError(f"TSA {tsa_url} timestamped another digest")
    if response.tst_info.nonce != nonce:
        raise TimestampError(f"TSA {tsa_url} answered with another nonce (a replayed or mixed-up answer)")
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


def timestamp_capture(record: CaptureRecord, tsa_url: str | None, *, trusted_ca_pem: bytes | None = None,
                      record_body: bytes | None = None, timeout: float = 15) -> Timestamped:
    """Manifest *record* (as filed) and, with a TSA configured, timestamp it.

    Without a TSA the manifest is still made and the note says that no token exists. With a
    trusted CA the fresh token is verified at once, so a misconfigured TSA is noticed on the first
    capture and not years later. A TSA that fails raises ``TimestampError``: let the caller retry or
    file without a token, knowingly.
    """
    manifest = build_manifest(record, record_body)
    if not tsa_url:
        return Timestamped(manifest, None, "no TSA configured: filed without an RFC 3161 timestamp; "
                                           "the manifest's SHA-256 values and the S3 lock are the only fixity evidence")
    token = request_timestamp(manifest_digest(manifest), tsa_url, timeout=timeout)
    check = verify_timestamp(token, manifest, trusted_ca_pem=trusted_ca_pem)
    if trusted_ca_pem and not check.valid:
        raise TimestampError(f"{record.capture_id}: the token from {tsa_url} does not verify: {check.reason}")
    when = check.gen_time.isoformat() if check.gen_time else "?"
    trust = "verified against the configured CA" if check.valid else "not verified (no TSA CA configured)"
    return Timestamped(manifest, token, f"RFC 3161 timestamp from {check.tsa_name or tsa_url}, genTime {when}, "
                                        f"serial {check.serial}: {trust}")
