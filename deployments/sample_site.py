"""Serves the bundled sample start pages (samples/pages) on 127.0.0.1 for the demo and the tests."""

from __future__ import annotations

import functools
import http.server
import datetime as dt
import html
import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from somearkiv.settings import PROJECT_ROOT

__all__ = ["SAMPLE_DAY", "SAMPLE_PAGES", "SampleSite", "shift_dates"]

SAMPLE_PAGES = PROJECT_ROOT / "samples" / "pages"
SAMPLE_DAY = dt.date(2026, 11, 28)  # the day the sample pages' dates were written for
_DATE = re.compile(r"(?<!\d)(20\d\d)-(\d\d)-(\d\d)(?!\d)")


def shift_dates(text: str, today: dt.date) -> str:
    """Move every YYYY-MM-DD in *text* by the days between SAMPLE_DAY and *today*."""
    delta = today - SAMPLE_DAY

    def move(match: re.Match[str]) -> str:
        try:
            return (dt.date(*map(int, match.groups())) + delta).isoformat()
        except ValueError:
            return match.group(0)

    return _DATE.sub(move, text) if delta else text


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, plus a few pages that misbehave on purpose (under /traps/), for the tests."""

    stopping: threading.Event
    directory_path: Path
    hits: list[str]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass

    def _send(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        for name, value in {"Content-Type": "text/html; charset=utf-8", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        self.hits.append(self.path)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/traps/hang":  # answers nothing, until the site stops (a page that never loads)
            self.stopping.wait(300)
            return
        if url.path == "/traps/redirect":
            return self._send(302, headers={"Location": query["to"][0]})
        if url.path == "/traps/to-login":
            return self._send(302, headers={"Location": "/accounts/login/?next=/perstorp"})
        if url.path == "/accounts/login/":
            return self._send(200, (self.directory_path / "traps" / "login.html").read_text(encoding="utf-8"))
        if url.path == "/traps/429":
            return self._send(429, "<h1>Too Many Requests</h1><p>Försök igen senare.</p>", {"Retry-After": "3600"})
        if url.path == "/traps/500":
            return self._send(500, "<h1>Internal Server Error</h1>")
        if url.path == "/traps/private-image":  # a start page whose image lives on a forbidden address
            src = html.escape(query["src"][0])
            return self._send(200, f"<!doctype html><html lang=sv><title>Bild</title><h1>Nyheter</h1>"
                                   f"<img src=\"{src}\" alt=intern width=100 height=100></html>")
        if url.path.endswith(("/", ".html")) and not url.path.startswith("/traps/"):
            page = self.directory_path / url.path.lstrip("/") / ("index.html" if url.path.endswith("/") else "")
            if page.is_file():  # the sample feeds stay current: dates move with today
                return self._send(200, shift_dates(page.read_text(encoding="utf-8"), dt.date.today()))
        if url.path == "/traps/cookie":  # shows the cookie the browser sent (stored sessions)
            cookie = html.escape(self.headers.get("Cookie", ""))
            return self._send(200, f"<!doctype html><html lang=sv><title>Inloggad</title><main><h1>Inloggad vy</h1>"
                                   f"<p id=cookie>{cookie}</p></main></html>",
                              {"Set-Cookie": "rotated=new-value; Path=/"})
        return super().do_GET()


class SampleSite:
    """A static file server in a background thread; ``with SampleSite() as site: site.url``."""

    def __init__(self, root: Path = SAMPLE_PAGES, port: int = 0, host: str = "127.0.0.1"):
        self.host = host
        self._stopping = threading.Event()
        self.hits: list[str] = []  # every path requested, in order
        handler_class = type("SampleHandler", (_Handler,), {"stopping": self._stopping, "hits": self.hits,
                                                            "directory_path": Path(root)})
        handler = functools.partial(handler_class, directory=str(root))
        self._server = http.server.ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sample-site", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> SampleSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SampleSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
