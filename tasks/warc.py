"""The page load as a WARC file: what the browser received, not only its pixels.

Playwright records the desktop view's traffic as a HAR with embedded bodies; this turns it
into a gzipped WARC 1.1 (warcinfo, then a request and a response record per exchange). Bodies
in a HAR are already decoded, so Content-Encoding and Transfer-Encoding are dropped and
Content-Length set to the stored bytes; HTTP/2 exchanges are written as HTTP/1.1.
"""

from __future__ import annotations

import base64
import json
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

__all__ = ["har_to_warc"]

_DROP = {"content-encoding", "transfer-encoding", "content-length", "connection", "keep-alive"}


def _headers(entries: list[dict]) -> list[tuple[str, str]]:
    return [(h["name"], h["value"]) for h in entries if not h["name"].startswith(":")
            and h["name"].lower() not in _DROP]


def har_to_warc(har_path: Path, warc_path: Path, software: str) -> int:
    """Write *warc_path* from the HAR at *har_path*; return the number of responses written."""
    entries = json.loads(Path(har_path).read_text(encoding="utf-8"))["log"]["entries"]
    written = 0
    with open(warc_path, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")
        writer.write_record(writer.create_warcinfo_record(warc_path.name, {
            "software": software, "format": "WARC File Format 1.1", "conformsTo":
            "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "description": "Start page load recorded by somearkiv (from Playwright's HAR)",
        }))
        for entry in entries:
            request, response = entry["request"], entry["response"]
            url = request["url"]
            if not url.startswith(("http://", "https://")) or not response.get("status"):
                continue  # data: URLs, and requests that were refused or never answered
            content = response.get("content", {})
            text = content.get("text") or ""
            body = base64.b64decode(text) if content.get("encoding") == "base64" else text.encode("utf-8")
            date = entry["startedDateTime"].replace("+00:00", "Z")
            http = StatusAndHeaders(f"{response['status']} {response.get('statusText') or ''}".strip(),
                                    _headers(response.get("headers", [])) + [("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
            record = writer.create_warc_record(url, "response", payload=BytesIO(body), length=len(body),
                                               http_headers=http, warc_headers_dict={"WARC-Date": date})
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            post = (request.get("postData") or {}).get("text", "").encode("utf-8")
            req = writer.create_warc_record(
                url, "request", payload=BytesIO(post), length=len(post),
                http_headers=StatusAndHeaders(f"{request['method']} {target} HTTP/1.1",
                                              _headers(request.get("headers", [])), is_http_request=True),
                warc_headers_dict={"WARC-Date": date,
                                   "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID")})
            writer.write_record(record)
            writer.write_record(req)
            written += 1
    return written
