"""Serves the bundled sample start pages (samples/pages) on 127.0.0.1 for the demo and the tests."""

from __future__ import annotations

import datetime as dt
import functools
import html
import http.cookies
import http.server
import json
import re
import secrets
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from somearkiv.settings import PROJECT_ROOT

__all__ = ["SAMPLE_DAY", "SAMPLE_PAGES", "SampleSite", "SampleSiteProcess", "shift_dates"]

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
    member_tokens: set[str]

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
        if url.path.startswith("/watch/") and url.path.endswith("/"):  # the weekly watch's pages, by version
            watched = self._watch_page(url.path, query)
            if watched is not None:
                return self._send(200, watched)
        if url.path.endswith(("/", ".html")) and not url.path.startswith("/traps/"):
            page = self.directory_path / url.path.lstrip("/") / ("index.html" if url.path.endswith("/") else "")
            if page.is_file():  # the sample feeds stay current: dates move with today
                return self._send(200, shift_dates(page.read_text(encoding="utf-8"), dt.date.today()))
        routed = self._hard_pages(url.path, query)
        if routed is not None:
            return routed
        if url.path == "/traps/cookie":  # shows the cookie the browser sent (stored sessions)
            cookie = html.escape(self.headers.get("Cookie", ""))
            return self._send(200, f"<!doctype html><html lang=sv><title>Inloggad</title><main><h1>Inloggad vy</h1>"
                                   f"<p id=cookie>{cookie}</p></main></html>",
                              {"Set-Cookie": "rotated=new-value; Path=/"})
        return super().do_GET()


    def _watch_page(self, path: str, query: dict[str, list[str]]) -> str | None:
        """/watch/<account>/ in the version ?v= names, else the one SampleSite.set_watch_version chose (v1)."""
        account = path.strip("/").split("/")[-1]
        version = query.get("v", [getattr(self.server, "watch_versions", {}).get(account, "v1")])[0]
        page = self.directory_path / "watch" / account / f"{version}.html"
        if not account.replace("-", "").isalnum() or not version.replace("-", "").isalnum() or not page.is_file():
            return None
        return page.read_text(encoding="utf-8")

    def _page(self, name: str) -> str:
        return (self.directory_path / "traps" / name).read_text(encoding="utf-8")

    def _cookie(self, name: str) -> str | None:
        cookies = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
        return cookies[name].value if name in cookies else None

    def _other_host(self) -> str:
        """The same server under its other name (127.0.0.1 ↔ localhost): another site, same port."""
        host = (self.headers.get("Host") or "127.0.0.1").rsplit(":", 1)[0]
        return f"{'127.0.0.1' if host == 'localhost' else 'localhost'}:{self.server.server_address[1]}"

    def _hard_pages(self, path: str, query: dict[str, list[str]]) -> None | bool:
        """Pages built like the hard cases of real platforms (consent sites, slow feeds, logins). None: not one."""
        if path == "/traps/consent-choice":  # what a consent dialog chose (the test reads hits)
            return self._send(204)
        if path == "/traps/feed-batch":  # a slow feed's next ten posts
            n, delay = int(query.get("n", ["0"])[0]), min(int(query.get("delay", ["1200"])[0]), 10000)
            self.stopping.wait(delay / 1000)
            posts = [f"Inlägg {n * 10 + i + 1} i det långsamma flödet" for i in range(10)]
            return self._send(200, json.dumps(posts, ensure_ascii=False), {"Content-Type": "application/json"})
        if path == "/traps/roundtrip/":  # YouTube in Europe: consent is asked on another host first
            choice = query.get("consent", [None])[0] or self._cookie("consent")
            if choice is None:
                back = f"http://{self.headers.get('Host')}{path}"
                return self._send(302, headers={"Location": f"http://{self._other_host()}/traps/consent-site?"
                                                            f"continue={quote(back, safe='')}"})
            return self._send(200, "<!doctype html><html lang=sv><head><meta charset=utf-8><title>Perstorps kommun "
                                   "- YouTube</title></head><body><h1>Perstorps kommun</h1><p>Kanalens videor.</p>"
                                   f"<p id=choice>{html.escape(choice)}</p></body></html>",
                              {"Set-Cookie": f"consent={choice}; Path=/"})
        if path == "/traps/consent-site":
            back = html.escape(query.get("continue", ["/"])[0])
            return self._send(200, "<!doctype html><html lang=sv><head><meta charset=utf-8><title>Innan du fortsätter"
                                   "</title></head><body><main><h1>Innan du fortsätter till YouTube</h1><p>Vi använder "
                                   "cookies och data för att leverera och underhålla våra tjänster.</p>"
                                   "<form action=/traps/consent-site/save>"
                                   f"<input type=hidden name=continue value=\"{back}\">"
                                   "<button name=choice value=reject>Avvisa alla</button>"
                                   "<button name=choice value=accept>Godkänn alla</button></form></main></body></html>")
        if path == "/traps/consent-site/save":
            back = query.get("continue", ["/"])[0]
            choice = "refused" if query.get("choice") == ["reject"] else "accepted"
            return self._send(302, headers={"Location": back + ("&" if "?" in back else "?") + f"consent={choice}"})
        if path == "/members/":  # a page that needs a login (somearkiv login)
            if self._cookie("members") in self.member_tokens:
                return self._send(200, "<!doctype html><html lang=sv><head><meta charset=utf-8><title>Medlemssidan"
                                       "</title></head><body><main><h1>Inloggad vy</h1><p id=members>Bara för "
                                       "inloggade: kommunens sida som redaktören ser den.</p></main></body></html>")
            return self._send(302, headers={"Location": "/members/login"})
        if path == "/members/login":
            return self._send(200, self._page("members-login.html"))
        if path == "/members/expire":  # every login given so far expires (a test's hook)
            self.member_tokens.clear()
            return self._send(204)
        comment = re.fullmatch(r"/comments/(\d{1,6})(/remove|/hide)?", path)
        if comment:  # a post with a visitor's comment, until the comment is removed (somearkiv evidence)
            return self._comment_page(comment.group(1), comment.group(2))
        return None

    def _comment_page(self, n: str, action: str | None) -> bool:
        """/comments/<n>: the post and its comment; after /remove the page is gone (404), after /hide the post
        is shown without the comment."""
        removed = self.server.__dict__.setdefault("removed_comments", {})
        if action:
            removed[n] = action
            return self._send(204)
        if removed.get(n) == "/remove":
            return self._send(404, "<!doctype html><html lang=sv><title>Hittades inte</title><h1>Sidan finns inte"
                                   "</h1></html>")
        shown = "" if removed.get(n) == "/hide" else (
            f"<article class=comment id=c{n}><h2>Kommentar från Besökare {n}</h2><p>Kalle Kränkande på "
            "Storgatan 3 är en idiot, ring honom på 070-999 88 77!</p></article>")
        return self._send(200, "<!doctype html><html lang=sv><head><meta charset=utf-8><title>Inlägg "
                               f"{n} - Perstorps kommun</title></head><body><main><h1>Perstorps kommun</h1><article>"
                               "<p>Nu öppnar den nya skolan. Välkomna!</p></article>"
                               f"<section><h2>Kommentarer</h2>{shown}</section></main></body></html>")

    def do_POST(self) -> None:  # noqa: N802 - stdlib's name
        self.hits.append("POST " + self.path)
        length = min(int(self.headers.get("Content-Length") or 0), 65536)
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        if urlsplit(self.path).path == "/members/login" and form.get("user") == ["redaktor"] \
                and form.get("password") == ["hemligt"]:
            token = secrets.token_hex(16)
            self.member_tokens.add(token)
            return self._send(303, headers={"Location": form.get("next", ["/members/"])[0],
                                            "Set-Cookie": f"members={token}; Path=/; HttpOnly"})
        return self._send(200, self._page("members-login.html").replace("<h1>Logga in</h1>",
                                                                         "<h1>Fel användarnamn eller lösenord</h1>"))


class SampleSite:
    """A static file server in a background thread; ``with SampleSite() as site: site.url``."""

    def __init__(self, root: Path = SAMPLE_PAGES, port: int = 0, host: str = "127.0.0.1"):
        self.host = host
        self._stopping = threading.Event()
        self.hits: list[str] = []  # every path requested, in order
        self.member_tokens: set[str] = set()  # the logins of /members/ given so far
        handler_class = type("SampleHandler", (_Handler,), {"stopping": self._stopping, "hits": self.hits,
                                                            "directory_path": Path(root),
                                                            "member_tokens": self.member_tokens})
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

    def set_watch_version(self, account: str, version: str) -> None:
        """Serve /watch/<account>/ as samples/pages/watch/<account>/<version>.html from now on."""
        if not hasattr(self._server, "watch_versions"):
            self._server.watch_versions = {}  # type: ignore[attr-defined]
        self._server.watch_versions[account] = version  # type: ignore[attr-defined]


class SampleSiteProcess:
    """The sample site in a process of its own: ``with SampleSiteProcess() as site: site.url, site.pid``.

    For the benchmarks. A page server in a thread of the measured process shares that process's
    interpreter lock: the busier the process, the slower its pages come. The full pipeline's process
    is busy (filing, Prefect) while bare Playwright's is idle, so the same pages were served slower to
    the pipeline than to its baseline (measured: README, Benchmarks). A platform's servers are never
    in somearkiv's process; here they are not either, and their CPU is theirs (see bench.run's
    NOT_MEASURED).
    """

    def __init__(self, root: Path = SAMPLE_PAGES, port: int = 0) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "deployments.sample_site", str(root), str(port)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, cwd=str(PROJECT_ROOT), text=True)
        line = self._process.stdout.readline().strip()  # its address, once it listens
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"the sample site's process did not start (it said {line!r})")
        self.url = line

    @property
    def pid(self) -> int:
        return self._process.pid

    def stop(self) -> None:
        """Its input closes: it stops (and it would with this process killed, as its input closes then too)."""
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> SampleSiteProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve_until_input_closes(root: str, port: int) -> None:
    with SampleSite(Path(root), port) as site:
        print(site.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    _serve_until_input_closes(sys.argv[1] if len(sys.argv) > 1 else str(SAMPLE_PAGES),
                              int(sys.argv[2]) if len(sys.argv) > 2 else 0)
