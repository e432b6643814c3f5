"""The embedded archive's only S3 door: a gateway that forwards only the calls a role may make.

SeaweedFS's own identities cannot express "put new objects with their lock, but never lift a
hold or delete a version" (measured on 4.48: a non-Admin identity is refused every PUT that
carries lock headers, yet may set delete markers, overwrite and add lifecycle rules). So the
embedded SeaweedFS knows one internal administrator, whose secret only this gateway and the
server's own files hold, and the roles live here:

- ``pipeline``: read and list; PUT a new object (``If-None-Match: *``) carrying its retention
  (``x-amz-object-lock-mode`` + ``-retain-until-date``, a legal hold only ON); tag objects;
  put and delete temporary review copies under ``review/``. Nothing else; and it never reads an
  object under ``evidence/`` or ``cases/`` (moderation evidence: personal data, restricted).
- ``archivist``: what the pipeline may, plus legal holds on and off, extending retention, and
  deleting exact object versions (the approved disposal), with the governance bypass.
- ``auditor``: read and list only.

No role may change a bucket's policy, lifecycle, versioning, CORS, ACLs or Object Lock
configuration, hide objects behind delete markers, copy, or use multipart uploads. Every
request is authenticated here (AWS Signature V4, in the header or a presigned URL), its
payload hash checked, then signed anew as the internal identity and forwarded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = ["ROLES", "Role", "Rules", "make_server", "refusal", "serve"]

ROLES = ("pipeline", "archivist", "auditor")
REVIEW_PREFIX = "review/"  # temporary copies for a person to look at: not records
RESTRICTED_PREFIXES = ("evidence/", "cases/")  # moderation evidence: the pipeline files there, never reads
_MAX_BODY = 5 * 1024**3
_MAX_SKEW = dt.timedelta(minutes=15)
_MAX_PRESIGN = 7 * 24 * 3600
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/s3/aws4_request")
_SIGNED = re.compile(r"SignedHeaders=([a-z0-9;\-]+)")
_SIGNATURE = re.compile(r"Signature=([0-9a-f]{64})")
_UNSIGNED = "UNSIGNED-PAYLOAD"
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect",
        "host", "content-length", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}


@dataclass(frozen=True)
class Role:
    name: str
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class S3Call:
    """What a request asks for, as the rules see it."""

    method: str
    bucket: str
    key: str
    query: frozenset[str]
    headers: dict[str, str]  # lower-case names

    def header(self, name: str) -> str:
        return self.headers.get(name, "").strip()


def _new_object_rule(call: S3Call) -> str | None:
    """The writes pipeline and archivist share: new objects with their lock, tags, review copies."""
    if call.header("x-amz-copy-source"):
        return "copying objects is not permitted"
    if call.method == "PUT" and call.key and "tagging" in call.query and call.query <= {"tagging", "versionId"}:
        return None
    if call.method == "PUT" and call.key and not call.query:
        if call.header("if-none-match") != "*":
            return "a PUT must carry If-None-Match: * (nothing archived is overwritten)"
        if call.header("x-amz-bypass-governance-retention"):
            return "the governance bypass is not permitted on a PUT"
        if not call.key.startswith(REVIEW_PREFIX) and not (
                call.header("x-amz-object-lock-mode") and call.header("x-amz-object-lock-retain-until-date")):
            return "an archived object is filed with its retention (x-amz-object-lock-mode, -retain-until-date)"
        return None
    if call.method == "DELETE" and call.key.startswith(REVIEW_PREFIX) and call.query <= {"versionId"}:
        return None
    return "not permitted"


def _archivist_rule(call: S3Call) -> str | None:
    """What only the archivist may do: holds, longer retention, the approved disposal's deletions."""
    if call.method == "PUT" and call.key and "legal-hold" in call.query and call.query <= {"legal-hold", "versionId"}:
        return None
    if call.method == "PUT" and call.key and "retention" in call.query and call.query <= {"retention", "versionId"}:
        return "retention may be extended, never shortened" if call.header(
            "x-amz-bypass-governance-retention") else None
    if call.method == "DELETE" and call.key and "versionId" in call.query and call.query <= {"versionId"}:
        return None  # exact versions only; S3 still enforces each version's lock and hold
    if call.method == "PUT" and not call.key and not call.query:
        return None if call.header("x-amz-bucket-object-lock-enabled").lower() == "true" else \
            "a bucket is created only with Object Lock"
    return "not permitted"


def refusal(role: str, call: S3Call) -> str | None:
    """Why *role* may not make *call* (None: it may). The whole permission model is here."""
    if call.method in ("GET", "HEAD"):
        if role == "pipeline" and call.key.startswith(RESTRICTED_PREFIXES):
            return "evidence and moderation cases are read only by the archivist and auditor identities"
        return None
    if role not in ("pipeline", "archivist"):
        return f"the {role} identity only reads"
    if call.method == "POST":
        return "POST (multi-object delete, multipart uploads) is not permitted"
    reason = _new_object_rule(call)
    if reason is not None and role == "archivist":
        reason = _archivist_rule(call)
    if reason is None:
        return None
    return f"{reason} for the {role} identity ({call.method} {_subresources(call)})"


def _subresources(call: S3Call) -> str:
    what = "bucket" if not call.key else "object"
    return f"{what}{'?' + '&'.join(sorted(call.query)) if call.query else ''}"


@dataclass(frozen=True)
class Rules:
    roles: dict[str, Role]  # by access key
    admin: Credentials
    upstream: tuple[str, int]
    region: str = "us-east-1"


class _AuthError(Exception):
    def __init__(self, code: str, message: str, status: int = 403):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _signing_key(secret: str, day: str, region: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _verify(rules: Rules, method: str, raw_path: str, query_pairs: list[tuple[str, str]],
            headers: dict[str, list[str]], body: bytes, now: dt.datetime) -> Role:
    """Authenticate a request signed with AWS Signature V4; return its role."""
    authorization = " ".join(headers.get("authorization", []))
    query = dict(query_pairs)
    if authorization:
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            raise _AuthError("AccessDenied", "only AWS Signature Version 4 is accepted")
        cred, signed, signature = (_CREDENTIAL.search(authorization), _SIGNED.search(authorization),
                                   _SIGNATURE.search(authorization))
        if not (cred and signed and signature):
            raise _AuthError("AuthorizationHeaderMalformed", "malformed Authorization header", 400)
        access_key, day, region = cred.groups()
        signed_names, given = signed.group(1).split(";"), signature.group(1)
        amz_date = " ".join(headers.get("x-amz-date", []))
        payload = " ".join(headers.get("x-amz-content-sha256", []))
        if not payload:
            raise _AuthError("InvalidRequest", "x-amz-content-sha256 is required", 400)
        if payload != _UNSIGNED:
            if payload.startswith("STREAMING-"):
                raise _AuthError("NotImplemented", "aws-chunked uploads are not accepted; sign the payload", 501)
            if hashlib.sha256(body).hexdigest() != payload:
                raise _AuthError("XAmzContentSHA256Mismatch", "the body does not match x-amz-content-sha256", 400)
        canonical_pairs, expires = query_pairs, None
    elif "X-Amz-Signature" in query:
        if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise _AuthError("AccessDenied", "only AWS Signature Version 4 is accepted")
        cred = _CREDENTIAL.search("Credential=" + query.get("X-Amz-Credential", ""))
        if not cred:
            raise _AuthError("AuthorizationQueryParametersError", "malformed X-Amz-Credential", 400)
        access_key, day, region = cred.groups()
        signed_names, given = query.get("X-Amz-SignedHeaders", "host").split(";"), query["X-Amz-Signature"]
        amz_date, payload = query.get("X-Amz-Date", ""), _UNSIGNED
        canonical_pairs = [(k, v) for k, v in query_pairs if k != "X-Amz-Signature"]
        try:
            expires = int(query.get("X-Amz-Expires", ""))
        except ValueError:
            raise _AuthError("AuthorizationQueryParametersError", "X-Amz-Expires is not a number", 400) from None
        if not 0 < expires <= _MAX_PRESIGN:
            raise _AuthError("AuthorizationQueryParametersError", "X-Amz-Expires out of range", 400)
    else:
        raise _AuthError("AccessDenied", "anonymous access is not permitted")
    role = rules.roles.get(access_key)
    if role is None:
        raise _AuthError("InvalidAccessKeyId", "the access key is not known")
    try:
        when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise _AuthError("AccessDenied", "missing or malformed X-Amz-Date") from None
    if when.strftime("%Y%m%d") != day:
        raise _AuthError("SignatureDoesNotMatch", "the credential's date is not the request's")
    if expires is None and abs(now - when) > _MAX_SKEW:
        raise _AuthError("RequestTimeTooSkewed", "the request's time is more than 15 minutes off")
    if expires is not None and (now > when + dt.timedelta(seconds=expires) or when - now > _MAX_SKEW):
        raise _AuthError("AccessDenied", "the presigned URL has expired")
    if "host" not in signed_names:
        raise _AuthError("AccessDenied", "the Host header must be signed")
    canonical_headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in headers.get(name, []))}\n" for name in signed_names)
    canonical = "\n".join([method, quote(unquote(raw_path), safe="/~"), _canonical_query(canonical_pairs),
                           canonical_headers, ";".join(signed_names), payload])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    expected = hmac.new(_signing_key(role.secret_key, day, region), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise _AuthError("SignatureDoesNotMatch", "the request signature does not match")
    return role


def _error_xml(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error>").encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "somearkiv-s3-gateway"
    # An answer goes out as two writes, its head and then its body. With Nagle's algorithm on, the
    # body waited for the client to acknowledge the head, which it delays by 40 ms: every GET and
    # listing took about 50 ms (measured: 52 ms for a 1 KB ledger entry).
    disable_nagle_algorithm = True
    rules: Rules
    _local = threading.local()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        pass  # no access log: presigned URLs carry signatures

    def _headers(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            found.setdefault(name.lower(), []).append(value)
        return found

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(n.lower() == "content-type" for n, _ in headers) and body:
            self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._send(status, _error_xml(code, message))

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._refuse(411, "MissingContentLength", "chunked request bodies are not accepted")
            self.close_connection = True
            return None
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._refuse(400, "EntityTooLarge", "request body too large")
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            return
        parts = urlsplit(self.path)
        query_pairs = parse_qsl(parts.query, keep_blank_values=True)
        headers = self._headers()
        try:
            role = _verify(self.rules, self.command, parts.path, query_pairs, headers, body, dt.datetime.now(dt.UTC))
        except _AuthError as error:
            self._refuse(error.status, error.code, error.message)
            return
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        forwarded = [(k, v) for k, v in query_pairs if not k.startswith("X-Amz-")]
        call = S3Call(self.command, bucket, key, frozenset(k for k, _ in forwarded if not k.startswith(
            ("list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after", "encoding-type",
             "fetch-owner", "key-marker", "version-id-marker", "marker", "response-"))),
            {name: ",".join(values) for name, values in headers.items()})
        reason = refusal(role.name, call)
        if reason is not None or not bucket:
            self._refuse(403, "AccessDenied", reason or "listing buckets is not permitted")
            return
        self._forward(parts.path, forwarded, headers, body)

    def _upstream(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(*self.rules.upstream, timeout=120)
            self._local.conn = conn
        return conn

    def _forward(self, path: str, query_pairs: list[tuple[str, str]], headers: dict[str, list[str]],
                 body: bytes) -> None:
        host, port = self.rules.upstream
        query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query_pairs)
        url = f"http://{host}:{port}{quote(unquote(path), safe='/~')}" + (f"?{query}" if query else "")
        request = AWSRequest(method=self.command, url=url, data=body,
                             headers={name: ",".join(values) for name, values in headers.items() if name not in _HOP})
        S3SigV4Auth(self.rules.admin, "s3", self.rules.region).add_auth(request)
        prepared = request.prepare()
        for attempt in (1, 2):
            conn = self._upstream()
            try:
                conn.request(self.command, prepared.url.split(f"{host}:{port}", 1)[1], body=body or None,
                             headers=dict(prepared.headers.items()))
                response = conn.getresponse()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    self._refuse(503, "ServiceUnavailable", "the storage server does not answer")
                    return
        self.send_response(response.status, response.reason)
        length = response.getheader("Content-Length")
        for name, value in response.getheaders():
            if name.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length",
                                    "access-control-allow-origin", "access-control-allow-credentials"):
                self.send_header(name, value)
        if self.command == "HEAD" or response.status in (204, 304):
            if length is not None:
                self.send_header("Content-Length", length)
            self.end_headers()
            response.read()
            return
        if length is None:
            data = response.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_header("Content-Length", length)
        self.end_headers()
        while chunk := response.read(1 << 20):
            self.wfile.write(chunk)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

    def do_OPTIONS(self) -> None:  # noqa: N802 - the stdlib's name
        self._read_body()
        self._refuse(403, "AccessDenied", "cross-origin requests are not permitted")


def load_rules(roles_file: Path, admin_file: Path, upstream: tuple[str, int]) -> Rules:
    roles = json.loads(roles_file.read_text())
    admin = json.loads(admin_file.read_text())["identities"][0]["credentials"][0]
    return Rules(roles={r["access_key_id"]: Role(name, r["access_key_id"], r["secret_access_key"])
                        for name, r in roles.items() if name in ROLES},
                 admin=Credentials(admin["accessKey"], admin["secretKey"]), upstream=upstream)


def make_server(rules: Rules, host: str, port: int) -> ThreadingHTTPServer:
    """The gateway's HTTP server on *host*:*port*, not yet serving."""
    handler = type("Handler", (_Handler,), {"rules": rules})
    server_class = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 128})
    server = server_class((host, port), handler)
    server.daemon_threads = True
    return server


def serve(rules: Rules, host: str, port: int) -> None:
    make_server(rules, host, port).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="somearkiv's S3 gateway in front of the embedded SeaweedFS")
    parser.add_argument("--roles", type=Path, required=True)
    parser.add_argument("--admin", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    args = parser.parse_args()
    os.umask(0o077)
    serve(load_rules(args.roles, args.admin, ("127.0.0.1", args.upstream_port)), "127.0.0.1", args.port)


if __name__ == "__main__":
    main()
