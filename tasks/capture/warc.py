"""The page load as a WARC file: what the browser received, not only its pixels.

Playwright records the desktop view's traffic as a HAR with embedded bodies; this turns it
into a gzipped WARC 1.1 (warcinfo, then a request and a response record per exchange). Bodies
in a HAR are already decoded, so Content-Encoding and Transfer-Encoding are dropped and
Content-Length set to the stored bytes; HTTP/2 exchanges are written as HTTP/1.1 (their
pseudo-headers, ``:authority`` and the like, are left out).

The WARC is kept for good and exported, so what would let someone act as the account is
never written: the ``Cookie``, ``Set-Cookie``, ``Authorization`` and ``Proxy-Authorization``
headers (matched whatever their case) are left out of requests and responses alike, and the
result says how many of each were left out (names and counts, never a value) so the capture
record can say so. The HAR's own ``cookies`` arrays are not read at all. The HAR itself holds
those values: it is a temporary file that the caller deletes.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

__all__ = ["SECRET_HEADERS", "WarcWritten", "har_to_warc"]

_DROP = {"content-encoding", "transfer-encoding", "content-length", "connection", "keep-alive"}
SECRET_HEADERS = ("Cookie", "Set-Cookie", "Authorization", "Proxy-Authorization")
_SECRET = {name.lower(): name for name in SECRET_HEADERS}


@dataclass(frozen=True)
class WarcWritten:
    """What ``har_to_warc`` wrote: how many responses, and how many secret headers of each name it
    left out (for the capture record: names and counts, never a value)."""

    responses: int
    removed: Mapping[str, int] = field(default_factory=dict)

    def note(self) -> str | None:
        """E.g. 'removed from the WARC: Cookie ×7, Set-Cookie ×1'; None when nothing was removed."""
        if not self.removed:
            return None
        return "removed from the WARC: " + ", ".join(f"{name} ×{count}" for name, count in self.removed.items())


def _headers(entries: list[dict], removed: Counter[str]) -> list[tuple[str, str]]:
    kept = []
    for h in entries:
        name = str(h.get("name", "")).strip()
        key = name.lower()
        if name.startswith(":") or key in _DROP:
            continue
        if key in _SECRET:
            # Chromium may fold several Set-Cookie headers into one value, a line each
            removed[_SECRET[key]] += max(1, sum(1 for line in str(h.get("value", "")).split("\n") if line.strip()))
            continue
        kept.append((name, h["value"]))
    return kept


def har_to_warc(har_path: Path, warc_path: Path, software: str) -> WarcWritten:
    """Write *warc_path* from the HAR at *har_path*, without the secret headers.

    Returns how many responses were written and, in ``removed``, how many ``Cookie``,
    ``Set-Cookie``, ``Authorization`` and ``Proxy-Authorization`` headers were left out.
    """
    entries = json.loads(Path(har_path).read_text(encoding="utf-8"))["log"]["entries"]
    written = 0
    removed: Counter[str] = Counter()
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
                                    _headers(response.get("headers", []), removed)
                                    + [("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
            record = writer.create_warc_record(url, "response", payload=BytesIO(body), length=len(body),
                                               http_headers=http, warc_headers_dict={"WARC-Date": date})
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            post = (request.get("postData") or {}).get("text", "").encode("utf-8")
            req = writer.create_warc_record(
                url, "request", payload=BytesIO(post), length=len(post),
                http_headers=StatusAndHeaders(f"{request['method']} {target} HTTP/1.1",
                                              _headers(request.get("headers", []), removed), is_http_request=True),
                warc_headers_dict={"WARC-Date": date,
                                   "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID")})
            writer.write_record(record)
            writer.write_record(req)
            written += 1
    return WarcWritten(written, {name: removed[name] for name in SECRET_HEADERS if removed[name]})
