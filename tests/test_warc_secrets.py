"""A logged-in capture never archives the session: no Cookie, Set-Cookie or Authorization in the WARC.

The capture test runs real Chromium through the capture engine against a small local site that
wants a session cookie on every request and hands out cookies of its own; the secrets must be
nowhere in what the capture leaves, and the record must say which headers were left out.
"""

from __future__ import annotations

import base64
import gzip
import http.server
import json
import secrets
import threading
from collections.abc import Iterator

import pytest
from warcio.archiveiterator import ArchiveIterator

from somearkiv.models import CaptureStatus, Trigger
from somearkiv.sessions import session_store
from somearkiv.settings import get_settings
from tasks.capture import capture_account
from tasks.capture.warc import WarcWritten, har_to_warc

from .factories import account

SESSION = secrets.token_hex(32)  # the stored session's cookie value (the account's login)
ISSUED = secrets.token_hex(32)  # a cookie the site sets on the page (Set-Cookie)
ROTATED = secrets.token_hex(32)  # one it sets on a subresource, in a lower-case header name
SECRETS = (SESSION, ISSUED, ROTATED)

PAGE = """<!doctype html><html lang=sv><head><meta charset=utf-8><title>Kommunens flöde</title>
<link rel=stylesheet href="/style.css"></head><body><main><h1>Nyheter från kommunen</h1>
<p>Biblioteket har nya öppettider från och med måndag. Välkommen in!</p>
<img src="/pixel.svg" alt="Bild" width=120 height=80></main></body></html>"""
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><rect width="120" height="80" fill="#1877f2"/></svg>'


class _Site(http.server.BaseHTTPRequestHandler):
    """Every resource wants the session cookie (403 without it) and some hand out cookies."""

    seen: list[tuple[str, str]]  # (path, Cookie header) of every request

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        cookie = self.headers.get("Cookie", "")
        self.seen.append((self.path, cookie))
        routes = {"/feed/": ("text/html; charset=utf-8", PAGE, [("Set-Cookie", f"issued={ISSUED}; Path=/; HttpOnly")]),
                  "/style.css": ("text/css", "main { font-family: sans-serif; color: #222 }",
                                 [("set-cookie", f"rotated={ROTATED}; Path=/; HttpOnly")]),
                  "/pixel.svg": ("image/svg+xml", SVG, [])}
        if self.path not in routes:
            status, (media_type, body, extra) = 404, ("text/plain", "not found", [])
        elif f"sid={SESSION}" not in cookie:
            status, (media_type, body, extra) = 403, ("text/plain", "forbidden: not logged in", [])
        else:
            status, (media_type, body, extra) = 200, routes[self.path]
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def session_site() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    seen: list[tuple[str, str]] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("Site", (_Site,), {"seen": seen}))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="session-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        server.server_close()


def _forms(secret: str) -> list[bytes]:
    """The secret as it could show up in a file: plain, and base64 (as a HAR or a data: URL has it)."""
    raw = secret.encode()
    return [raw, base64.b64encode(raw), base64.b64encode(b"sid=" + raw)]


def _with_saved_login(tmp_path, mobile_view: bool):
    """Settings whose data dir holds account 'inloggad''s login, saved as `somearkiv login` saves it."""
    s = get_settings().model_copy(update={"data_dir": tmp_path / "data", "mobile_view": mobile_view,
                                          "record_warc": True, "session_key_file": tmp_path / "keys" / "key"})
    cookie = {"name": "sid", "value": SESSION, "domain": "127.0.0.1", "path": "/", "expires": -1, "httpOnly": True,
              "secure": False, "sameSite": "Lax"}
    session_store(s, create_key=True).save("inloggad", {"cookies": [cookie], "origins": []}, role="redaktör",
                                           saved_by=None)
    return s


@pytest.mark.browser
def test_logged_in_capture_leaves_no_session_secret_anywhere(session_site, tmp_path):
    url, seen = session_site
    data_dir = tmp_path / "data"
    s = _with_saved_login(tmp_path, mobile_view=True)
    record, folder = capture_account(account(id="inloggad", url=url + "feed/"),
                                     municipality="Perstorps kommun", trigger=Trigger.manual, settings=s)

    # the session was really used: every request of the site carried it, and the page was captured
    assert record.status is CaptureStatus.captured and record.page.http_status == 200
    wanted = [(p, c) for p, c in seen if p in ("/feed/", "/style.css", "/pixel.svg")]
    assert {p for p, _ in wanted} == {"/feed/", "/style.css", "/pixel.svg"}
    assert all(f"sid={SESSION}" in c for _, c in wanted)
    assert any(f"issued={ISSUED}" in c for _, c in wanted), "the browser never sent back the cookie it was set"

    # nothing the capture left holds a secret: every file, raw and (for .gz) decompressed
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    assert (folder / "page.warc.gz") in files and (folder / "page.html") in files
    for path in files:
        contents = [path.read_bytes()]
        if path.name.endswith(".gz"):
            contents.append(gzip.decompress(contents[0]))
        for content in contents:
            for secret in SECRETS:
                for form in _forms(secret):
                    assert form not in content, f"a secret is in {path.relative_to(data_dir)}"
    # the temporary HAR is gone, no half-written folder is left, and nothing of the kind was filed
    assert not [p for p in data_dir.rglob("*") if p.suffix == ".har" or p.name.endswith(".partial")]
    assert not [f for f in record.files if f.name.endswith(".har")]
    assert all(secret not in record.model_dump_json() for secret in SECRETS)

    # the WARC still holds the exchanges, without any of the secret headers
    with open(folder / "page.warc.gz", "rb") as f:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"),
                    [n.lower() for n, _ in r.http_headers.headers] if r.http_headers else [])
                   for r in ArchiveIterator(f)]
    responses = {uri for kind, uri, _ in records if kind == "response"}
    requests = {uri for kind, uri, _ in records if kind == "request"}
    assert {url + "feed/", url + "style.css", url + "pixel.svg"} <= responses
    assert responses <= requests
    for _, _, names in records:
        assert not {"cookie", "set-cookie", "authorization", "proxy-authorization"} & set(names)
    assert any("content-type" in names for kind, _, names in records if kind == "response")

    # the record says what was left out, by name and count, never a value
    removed = [n for n in record.notes if "removed from the WARC" in n]
    assert len(removed) == 1, record.notes
    note = removed[0]
    assert note.startswith("desktop: removed from the WARC: Cookie ×")
    assert "Set-Cookie ×2" in note  # one on the page, one (lower-case) on the stylesheet
    assert int(note.split("Cookie ×")[1].split(",")[0]) >= 3  # the page, the stylesheet and the image
    assert "sid" not in note and "=" not in note
    assert note.removeprefix("desktop: ") in next(v for v in record.views if v.name == "desktop").notes


@pytest.mark.browser
def test_the_har_is_deleted_when_writing_the_warc_fails(session_site, tmp_path, monkeypatch):
    """The HAR holds the session: a failure while it is turned into the WARC must not leave it behind."""
    url, _ = session_site
    seen_har = []

    def broken(har_path, warc_path, software):
        seen_har.append(har_path.read_bytes())
        raise OSError("disk trouble while writing the WARC")

    monkeypatch.setattr("tasks.capture.account.har_to_warc", broken)
    data_dir = tmp_path / "data"
    s = _with_saved_login(tmp_path, mobile_view=False)
    with pytest.raises(OSError, match="disk trouble"):
        capture_account(account(id="inloggad", url=url + "feed/"),
                        municipality="Perstorps kommun", trigger=Trigger.manual, settings=s)
    assert seen_har and SESSION.encode() in seen_har[0]  # the HAR did hold the secret...
    left = [p for p in data_dir.rglob("*") if p.is_file()]
    assert not [p for p in left if SESSION.encode() in p.read_bytes()], left  # ...and it is gone
    assert not [p for p in data_dir.rglob("*") if p.suffix == ".har" or p.name.endswith(".partial")]


def test_har_to_warc_removes_secret_headers_whatever_their_case(tmp_path):
    secret = secrets.token_hex(24)
    page = {
        "startedDateTime": "2026-11-29T10:00:00.000+00:00",
        "request": {"method": "GET", "url": "https://kommun.example/feed?p=1", "headers": [
            {"name": ":authority", "value": "kommun.example"}, {"name": "cookie", "value": f"sid={secret}"},
            {"name": "Accept", "value": "text/html"}, {"name": "AUTHORIZATION", "value": f"Bearer {secret}"},
            {"name": "Proxy-authorization", "value": f"Basic {secret}"}],
            "cookies": [{"name": "sid", "value": secret}]},
        "response": {"status": 200, "statusText": "OK", "headers": [
            {"name": "content-type", "value": "text/html"}, {"name": "X-Kept", "value": "yes"},
            {"name": "set-cookie", "value": f"a={secret}; Path=/\nb={secret}; Path=/"},
            {"name": "SET-COOKIE", "value": f"c={secret}"}, {"name": "Content-Encoding", "value": "br"}],
            "cookies": [{"name": "a", "value": secret}], "content": {"text": "<html>hej</html>"}},
    }
    image = {
        "startedDateTime": "2026-11-29T10:00:01.000+00:00",
        "request": {"method": "GET", "url": "https://kommun.example/bild.png",
                    "headers": [{"name": "Cookie", "value": f"sid={secret}"}], "cookies": []},
        "response": {"status": 200, "statusText": "OK", "headers": [{"name": "Content-Type", "value": "image/png"}],
                     "cookies": [], "content": {"text": base64.b64encode(b"\x89PNG").decode(), "encoding": "base64"}},
    }
    refused = {"startedDateTime": "2026-11-29T10:00:02.000+00:00",
               "request": {"method": "GET", "url": "https://elsewhere.example/",
                           "headers": [{"name": "Cookie", "value": f"x={secret}"}]},
               "response": {"status": 0, "headers": [], "content": {}}}  # never answered: not written, not counted
    (tmp_path / "page.har").write_text(json.dumps({"log": {"entries": [page, image, refused]}}), encoding="utf-8")

    result = har_to_warc(tmp_path / "page.har", tmp_path / "page.warc.gz", "test")

    assert isinstance(result, WarcWritten) and result.responses == 2
    assert dict(result.removed) == {"Cookie": 2, "Set-Cookie": 3, "Authorization": 1, "Proxy-Authorization": 1}
    assert result.note() == "removed from the WARC: Cookie ×2, Set-Cookie ×3, Authorization ×1, Proxy-Authorization ×1"
    assert secret not in repr(result)
    raw = (tmp_path / "page.warc.gz").read_bytes()
    assert secret.encode() not in raw and secret.encode() not in gzip.decompress(raw)
    with open(tmp_path / "page.warc.gz", "rb") as f:
        records = [(r.rec_type, r.http_headers.headers if r.http_headers else []) for r in ArchiveIterator(f)]
    assert [kind for kind, _ in records] == ["warcinfo", "response", "request", "response", "request"]
    first_response, first_request = records[1][1], records[2][1]
    assert first_response == [("content-type", "text/html"), ("X-Kept", "yes"), ("Content-Length", "16")]
    assert first_request == [("Accept", "text/html")]


def test_nothing_removed_gives_no_note(tmp_path):
    entry = {"startedDateTime": "2026-11-29T10:00:00.000+00:00",
             "request": {"method": "GET", "url": "http://127.0.0.1/", "headers": [{"name": "Accept", "value": "*/*"}]},
             "response": {"status": 200, "statusText": "OK", "headers": [], "content": {"text": "x"}}}
    (tmp_path / "page.har").write_text(json.dumps({"log": {"entries": [entry]}}), encoding="utf-8")
    result = har_to_warc(tmp_path / "page.har", tmp_path / "page.warc.gz", "test")
    assert result.responses == 1 and dict(result.removed) == {} and result.note() is None
