"""`somearkiv login ACCOUNT`: the people who own an account log in once; captures use the saved session.

With a display, a Chromium window opens at the account's page and the communicator logs in
there. On a server without one, a local page shows the remote browser's screen and forwards
clicks, keys and scrolling to it (as Browsertrix does for its browser profiles): open it
through an SSH tunnel. Either way the browser goes through the same egress guard as a
capture, and what is saved is the browser's storage state, encrypted (somearkiv.sessions).

The screen page listens on 127.0.0.1 only and answers only with the token printed in its
address; input is taken only from a request that carries the token in a header, from the
page's own origin (no other site can click for you), and the Host header must name a
loopback address (no DNS rebinding; any port, so an SSH tunnel's local port works).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from playwright.async_api import Page, async_playwright

from somearkiv.models import Account
from somearkiv.sessions import session_store
from somearkiv.settings import Settings
from tasks.capture.browser import find_browser, launch_args
from tasks.capture.egress import EgressPolicy, EgressProxy, protected_endpoints
from tasks.capture.state import LOCALE, TIMEZONE
from tasks.capture.walls import SIGNALS_JS, PageSignals, classify

__all__ = ["LoginOutcome", "log_in"]

_KEYS = {"Enter", "Tab", "Backspace", "Delete", "Escape", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown",
         "Home", "End", "PageUp", "PageDown"}


@dataclass
class LoginOutcome:
    saved: Path | None  # None: cancelled
    final_url: str = ""
    wall: str | None = None  # the page still showed a wall after logging in


@dataclass
class _Screen:
    """What the screen page and the browser share."""

    page: Page
    token: str
    port: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False


async def log_in(account: Account, settings: Settings, role: str, saved_by: str | None, *, remote: bool,
                 port: int = 0, on_ready: Callable[[str], None] = print,
                 wait_for_person: Callable[[], Any] | None = None) -> LoginOutcome:
    """Open the account's page for a person to log in; save the session when they say they are done.

    remote: show the screen on a local page (else a browser window, which needs a display).
    on_ready: gets the address of the screen page (remote) or the instruction (window).
    wait_for_person: blocks until the person is done in the window (default: Enter in the terminal).
    """
    store = session_store(settings, create_key=True)  # fails before any browser starts when the key is wrong
    policy = EgressPolicy(tuple(settings.allowed_hosts), protected=protected_endpoints(settings))
    decision = policy.check_url(str(account.url))
    if not decision.allowed:
        raise ValueError(f"the account's address is refused by the egress guard: {decision.reason}")
    proxy = EgressProxy(policy)
    await proxy.start()
    token = secrets.token_hex(16)
    proxy.admit(token)
    await proxy.sync()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=find_browser(settings.browser_path), headless=remote, args=launch_args(),
                proxy=proxy.settings_for("browser"))
            context = await browser.new_context(
                viewport={"width": settings.viewport_width, "height": settings.viewport_height},
                locale=LOCALE, timezone_id=TIMEZONE, service_workers="block", proxy=proxy.settings_for(token))
            page = await context.new_page()
            await page.goto(str(account.url), wait_until="domcontentloaded",
                            timeout=settings.navigation_timeout_s * 1000)
            if remote:
                cancelled = await _remote_screen(page, port, on_ready)
            else:
                on_ready("Logga in i webbläsarfönstret som öppnades. Tryck Enter här när du är inloggad "
                         "(Ctrl-C avbryter).")
                await asyncio.get_running_loop().run_in_executor(None, wait_for_person or input)
                cancelled = False
            if cancelled:
                return LoginOutcome(saved=None, final_url=page.url)
            state = await context.storage_state()
            wall = await _wall_after_login(page, account)
            saved = store.save(account.id, state, role=role, saved_by=saved_by)
            await browser.close()
            return LoginOutcome(saved=saved, final_url=page.url, wall=wall)
    finally:
        await proxy.stop()


async def _wall_after_login(page: Page, account: Account) -> str | None:
    """Open the account's page once more with the new login: does it still show a wall?"""
    try:
        response = await page.goto(str(account.url), wait_until="domcontentloaded", timeout=30000)
        raw = await page.evaluate(SIGNALS_JS)
    except Exception as exc:  # the check is advice; the session is saved anyway
        return f"could not open the page to check ({type(exc).__name__})"
    wall = classify(PageSignals(str(account.url), page.url, response.status if response else None, **raw))
    return f"{wall.kind}: {wall.reason}" if wall else None


async def _remote_screen(page: Page, port: int, on_ready: Callable[[str], None]) -> bool:
    """Serve the screen page until the person is done; True when they cancelled."""
    import uvicorn

    screen = _Screen(page=page, token=secrets.token_urlsafe(24))
    config = uvicorn.Config(_app(screen), host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # the port was taken: say so
        await asyncio.sleep(0.05)
    screen.port = server.servers[0].sockets[0].getsockname()[1]
    on_ready(f"http://127.0.0.1:{screen.port}/?t={screen.token}")
    await screen.finished.wait()
    server.should_exit = True
    await serving
    return screen.cancelled


def _app(screen: _Screen) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    def allowed(request: Request, *, writes: bool) -> None:
        host = request.headers.get("host", "")
        if host.rpartition(":")[0] not in ("127.0.0.1", "localhost", "[::1]"):  # any port: an SSH tunnel's too
            raise HTTPException(403, "wrong host")
        given = request.headers.get("x-somearkiv-token") or ("" if writes else request.query_params.get("t", ""))
        if not secrets.compare_digest(given, screen.token):
            raise HTTPException(403, "token required")
        origin = request.headers.get("origin")
        if writes and origin is not None and origin not in (f"http://{host}",):
            raise HTTPException(403, "wrong origin")

    @app.get("/")
    async def index(request: Request) -> HTMLResponse:
        allowed(request, writes=False)
        return HTMLResponse(_PAGE, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                            "X-Frame-Options": "DENY"})

    @app.get("/screen.jpg")
    async def shot(request: Request) -> Response:
        allowed(request, writes=False)
        image = await screen.page.screenshot(type="jpeg", quality=70)
        return Response(image, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/status")
    async def status(request: Request) -> dict[str, str]:
        allowed(request, writes=False)
        return {"url": screen.page.url, "title": await screen.page.title()}

    @app.post("/input")
    async def forward(request: Request) -> dict[str, bool]:
        allowed(request, writes=True)
        event = await request.json()
        kind = event.get("type")
        page = screen.page
        if kind == "click":
            await page.mouse.click(float(event["x"]), float(event["y"]))
        elif kind == "text":
            await page.keyboard.type(str(event["text"])[:1000])
        elif kind == "key" and event.get("key") in _KEYS:
            await page.keyboard.press(event["key"])
        elif kind == "scroll":
            await page.mouse.wheel(0, max(-5000.0, min(5000.0, float(event["dy"]))))
        else:
            raise HTTPException(400, "unknown input")
        return {"ok": True}

    @app.post("/done")
    async def done(request: Request) -> dict[str, bool]:
        allowed(request, writes=True)
        screen.finished.set()
        return {"ok": True}

    @app.post("/cancel")
    async def cancel(request: Request) -> dict[str, bool]:
        allowed(request, writes=True)
        screen.cancelled = True
        screen.finished.set()
        return {"ok": True}

    return app


_PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>somearkiv – logga in för arkivets räkning</title>
<style>
  body { font-family: sans-serif; margin: 16px; background: #f4f4f4; }
  #screen { border: 1px solid #888; cursor: pointer; max-width: 100%; background: #fff; }
  #bar { margin: 8px 0; } button { padding: 8px 14px; margin-right: 8px; }
  #where { color: #444; font-size: 14px; }
</style></head>
<body>
<h1>Logga in för arkivets räkning</h1>
<p>Det här är en webbläsare på arkivservern. Klicka och skriv i bilden som på en vanlig sida och logga in
på kontot. Tryck sedan <b>Klar</b>: inloggningen sparas krypterad och används bara för att läsa kontots
startsida vid ögonblicksbilder. Lösenordet sparas inte.</p>
<div id="bar"><button id="done">Klar – spara inloggningen</button><button id="cancel">Avbryt</button>
<span id="where"></span></div>
<img id="screen" alt="Webbläsarens skärm" tabindex="0">
<script>
  const token = new URLSearchParams(location.search).get('t');
  history.replaceState(null, '', '/');  // the token is not left in the address bar or history
  const headers = {'X-Somearkiv-Token': token, 'Content-Type': 'application/json'};
  const img = document.getElementById('screen');
  const send = (path, body) => fetch(path, {method: 'POST', headers, body: JSON.stringify(body || {})});
  let busy = false;
  const refresh = async () => {
    if (busy) return; busy = true;
    try {
      const r = await fetch('/screen.jpg', {headers});
      if (r.ok) { const old = img.src; img.src = URL.createObjectURL(await r.blob()); if (old) URL.revokeObjectURL(old); }
      const s = await (await fetch('/status', {headers})).json();
      document.getElementById('where').textContent = s.title + ' – ' + s.url;
    } finally { busy = false; }
  };
  setInterval(refresh, 400); refresh();
  img.addEventListener('click', (e) => {
    const r = img.getBoundingClientRect();
    send('/input', {type: 'click', x: (e.clientX - r.left) * img.naturalWidth / r.width,
                    y: (e.clientY - r.top) * img.naturalHeight / r.height});
    img.focus();
  });
  img.addEventListener('wheel', (e) => { e.preventDefault(); send('/input', {type: 'scroll', dy: e.deltaY}); },
                       {passive: false});
  img.addEventListener('keydown', (e) => {
    e.preventDefault();
    if (e.key.length === 1) send('/input', {type: 'text', text: e.key});
    else send('/input', {type: 'key', key: e.key});
  });
  document.getElementById('done').onclick = () => send('/done').then(() => document.body.innerHTML =
    '<h1>Sparat</h1><p>Inloggningen är sparad. Du kan stänga fliken.</p>');
  document.getElementById('cancel').onclick = () => send('/cancel').then(() => document.body.innerHTML =
    '<h1>Avbrutet</h1><p>Ingenting sparades.</p>');
</script>
</body></html>
"""
