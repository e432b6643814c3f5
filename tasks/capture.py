"""Capture one account's start page with Chromium, the way an archivist would want it.

A capture is a chain of small steps with one signature, ``async step(state) -> None``, over
one CaptureState: navigate, dismiss consent, detect walls, settle (scroll so lazy content
loads, bounded for infinite feeds), screenshot (in tiles for tall pages), save the DOM,
print. Adding a step is adding one item to a list; each step runs under its own timeout and
the whole capture under a hard limit, so a page that never finishes fails clearly.

The desktop view is the primary record; a mobile view (phone viewport and user agent) is
taken in a second, fresh context. Each view's traffic goes through the egress guard, and the
desktop view's traffic is kept as a WARC.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page, Response
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv import __version__
from somearkiv.fixity import sha256_file
from somearkiv.log import get_logger
from somearkiv.models import (
    Account,
    ArchivedFile,
    BlockedRequestInfo,
    BrowserInfo,
    CaptureRecord,
    CaptureStatus,
    ConsentInfo,
    FileRole,
    PageInfo,
    Trigger,
    ViewInfo,
    WallInfo,
    make_capture_id,
)
from somearkiv.settings import Settings, get_settings
from tasks.browser import find_browser, get_pool
from tasks.consent import ConsentFinding, ConsentWatcher, autoconsent_version
from tasks.egress import BlockedRequest, EgressPolicy, EgressProxy, protected_endpoints
from tasks.walls import SIGNALS_JS, PageSignals, Wall, classify
from tasks.warc import har_to_warc

__all__ = [
    "DESKTOP_STEPS",
    "MOBILE_STEPS",
    "CaptureError",
    "CaptureState",
    "PageUnavailableError",
    "View",
    "capture_account",
    "capture_start_page",
    "run_view",
]

LOCALE = "sv-SE"
TIMEZONE = "Europe/Stockholm"
MOBILE_USER_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/{major}.0.0.0 Mobile Safari/537.36")


class CaptureError(Exception):
    """The page could not be captured; worth retrying (timeouts, crashes, 5xx)."""


class PageUnavailableError(CaptureError):
    """The start page's address is refused or unusable; retrying will not help."""


class DiskFullError(PageUnavailableError):
    """The data directory is full: nothing can be captured until space is freed."""


class _Blocked(Exception):
    def __init__(self, wall: Wall):
        super().__init__(wall.reason)
        self.wall = wall


@dataclass(frozen=True)
class View:
    """How one rendering is made."""

    name: str = "desktop"
    width: int = 1366
    height: int = 900
    scale: float = 1.0
    mobile: bool = False
    navigation_timeout_s: float = 30.0
    step_timeout_s: float = 90.0
    max_page_height: int = 30000
    max_scroll_s: float = 15.0
    tile_height: int = 8192
    consent_timeout_s: float = 4.0
    consent_look_s: float = 1.0
    record_har: bool = False

    @classmethod
    def desktop(cls, s: Settings) -> View:
        return cls(width=s.viewport_width, height=s.viewport_height, navigation_timeout_s=s.navigation_timeout_s,
                   max_page_height=s.max_page_height, max_scroll_s=s.max_scroll_s, tile_height=s.tile_height,
                   consent_timeout_s=s.consent_timeout_s, record_har=s.record_warc)

    def as_mobile(self, s: Settings) -> View:
        return replace(self, name="mobile", width=s.mobile_width, height=s.mobile_height, scale=s.mobile_scale,
                       mobile=True, record_har=False)

    def file(self, stem: str, suffix: str = ".png") -> str:
        return f"{stem}{suffix}" if self.name == "desktop" else f"{stem}-{self.name}{suffix}"


@dataclass
class CaptureState:
    """What the steps of one view share and fill in."""

    account: Account
    view: View
    out_dir: Path
    context: BrowserContext
    page: Page
    proxy: EgressProxy
    token: str
    consent_watcher: ConsentWatcher
    user_agent: str = ""
    response: Response | None = None
    http_status: int | None = None
    final_url: str = ""
    redirect_chain: list[str] = field(default_factory=list)
    title: str = ""
    page_height: int = 0
    tiles: int = 1
    consent: ConsentFinding | None = None
    wall: Wall | None = None
    popups: int = 0
    blocked: list[BlockedRequest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    outputs: list[tuple[str, FileRole, str]] = field(default_factory=list)

    def output(self, name: str, role: FileRole, media_type: str) -> Path:
        self.outputs.append((name, role, media_type))
        return self.out_dir / name


Step = Callable[[CaptureState], Awaitable[None]]


# -- steps ------------------------------------------------------------------------------------


async def navigate(state: CaptureState) -> None:
    """Open the start page; record status, final URL and redirects; refuse unsafe targets."""
    v, url = state.view, str(state.account.url)
    try:
        response = await state.page.goto(url, wait_until="domcontentloaded", timeout=v.navigation_timeout_s * 1000)
    except PlaywrightTimeout as exc:
        raise CaptureError(f"the page did not load within {v.navigation_timeout_s:g} s") from exc
    except PlaywrightError as exc:
        refused = state.proxy.blocked_so_far(state.token)
        if refused:
            raise _Blocked(Wall("unsafe-target", f"the egress guard refused {refused[0].target}: "
                                                 f"{refused[0].reason}")) from exc
        raise CaptureError(f"the page could not be opened: {str(exc).splitlines()[0]}") from exc
    state.response = response
    state.final_url = state.page.url
    if response is not None:
        state.http_status = response.status
        hop = response.request.redirected_from
        while hop is not None:
            state.redirect_chain.insert(0, hop.url)
            hop = hop.redirected_from
    refused = [b for b in state.proxy.blocked_so_far(state.token) if _is_document(b, state.final_url)]
    if refused:
        raise _Blocked(Wall("unsafe-target", f"the egress guard refused {refused[0].target}: {refused[0].reason}"))
    if state.http_status is not None and state.http_status >= 500:
        raise CaptureError(f"the server answered HTTP {state.http_status}")
    wall = classify(PageSignals(str(state.account.url), state.final_url, state.http_status))
    if wall is not None:  # an error page or another site: no need to look further
        raise _Blocked(wall)
    try:  # images and fonts, but never wait unbounded for 'load'
        await state.page.wait_for_load_state("load", timeout=min(10.0, v.navigation_timeout_s) * 1000)
    except PlaywrightTimeout:
        state.notes.append("load event not reached within 10 s; captured after DOMContentLoaded")


def _is_document(blocked: BlockedRequest, final_url: str) -> bool:
    """Was the refused request the page itself (or a hop of its redirects)?"""
    host = urlsplit(final_url).hostname or ""
    return blocked.target.startswith((final_url, f"{host}:")) or final_url in ("", "about:blank")


async def dismiss_consent(state: CaptureState) -> None:
    """Screenshot a consent popup as evidence, then refuse it (see tasks.consent)."""
    evidence = state.out_dir / state.view.file("consent-before")
    state.consent = await state.consent_watcher.dismiss(state.page, evidence, state.view.consent_timeout_s,
                                                        state.view.consent_look_s)
    if state.consent.evidence:
        state.outputs.append((evidence.name, FileRole.evidence, "image/png"))
    if state.consent.found and not state.consent.dismissed:
        state.notes.append(f"consent popup could not be dismissed ({state.consent.action or 'no reject button'})")


async def detect_wall(state: CaptureState) -> None:
    """Stop here if the page is a login, bot-check, rate-limit or error page, or another site."""
    raw = await state.page.evaluate(SIGNALS_JS)
    wall = classify(PageSignals(requested_url=str(state.account.url), final_url=state.final_url,
                                http_status=state.http_status, **raw))
    if wall is not None:
        raise _Blocked(wall)


_AT_BOTTOM = "() => [window.scrollY + window.innerHeight, document.documentElement.scrollHeight]"
_IMAGES_DONE = """(ms) => Promise.race([
  Promise.all(Array.from(document.images).filter(i => !i.complete)
    .map(i => new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); }))),
  new Promise(r => setTimeout(r, ms))])"""


async def settle(state: CaptureState) -> None:
    """Scroll down in steps so lazy content loads, within the height and time bounds; back to top."""
    v, page = state.view, state.page
    started = time.monotonic()
    step = int(v.height * 0.9)
    await page.mouse.move(v.width / 2, v.height / 2)
    stuck, last = 0, -1
    while True:
        bottom, height = await page.evaluate(_AT_BOTTOM)
        if bottom >= height - 2:
            break
        if bottom >= v.max_page_height:
            state.notes.append(f"feed bounded at {v.max_page_height} px (the page kept growing)")
            break
        if time.monotonic() - started > v.max_scroll_s:
            state.notes.append(f"scrolling stopped after {v.max_scroll_s:g} s")
            break
        stuck = stuck + 1 if bottom == last else 0
        if stuck >= 3:
            break
        last = bottom
        await page.mouse.wheel(0, step)
        await page.wait_for_timeout(120)
    await page.evaluate(_IMAGES_DONE, 5000)
    await page.evaluate("() => window.scrollTo(0, 0)")
    try:
        await page.wait_for_load_state("networkidle", timeout=3000)
    except PlaywrightTimeout:
        state.notes.append("network not idle after settling; captured anyway")
    state.page_height = await page.evaluate("() => document.documentElement.scrollHeight")
    state.title = await page.title()


_WORD_BOXES = """(maxY) => {
  const out = [];
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || /^(SCRIPT|STYLE|NOSCRIPT|TEMPLATE)$/.test(el.tagName)) continue;
    const style = getComputedStyle(el);
    if (style.visibility !== 'visible' || style.opacity === '0') continue;
    for (const m of node.data.matchAll(/\\S+/g)) {
      range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
      const r = range.getBoundingClientRect();
      const y = r.top + window.scrollY;
      if (r.width < 1 || r.height < 1 || y > maxY) continue;
      out.push([m[0], Math.round((r.left + window.scrollX) * 10) / 10, Math.round(y * 10) / 10,
                Math.round(r.width * 10) / 10, Math.round(r.height * 10) / 10]);
      if (out.length >= 50000) return out;
    }
  }
  return out;
}"""


async def read_words(state: CaptureState) -> None:
    """Where every word is drawn: the text layer that makes the archival PDF searchable."""
    height = min(state.page_height or state.view.height, state.view.max_page_height)
    words = await state.page.evaluate(_WORD_BOXES, height)
    (state.out_dir / f".words-{state.view.name}.json").write_text(
        json.dumps({"scale": state.view.scale, "words": words}, ensure_ascii=False), encoding="utf-8")


async def screenshot(state: CaptureState) -> None:
    """The full-page PNG (RGB, lossless), in tiles stitched without gaps when the page is tall."""
    v, page = state.view, state.page
    height = min(state.page_height or v.height, v.max_page_height)
    if state.page_height > v.max_page_height:
        state.notes.append(f"screenshot cut at {v.max_page_height} px of {state.page_height} px")
    out = state.output(v.file("startpage"), FileRole.screenshot if v.name == "desktop"
                       else FileRole.screenshot_mobile, "image/png")
    timeout = v.step_timeout_s * 1000
    if height <= 2 * v.tile_height:
        await page.screenshot(path=out, full_page=True, type="png", animations="disabled", caret="hide",
                              clip={"x": 0, "y": 0, "width": v.width, "height": height}, timeout=timeout)
        return
    tiles = []
    for top in range(0, height, v.tile_height):
        clip = {"x": 0, "y": top, "width": v.width, "height": min(v.tile_height, height - top)}
        tiles.append(await page.screenshot(full_page=True, type="png", animations="disabled", caret="hide",
                                           clip=clip, timeout=timeout))
    state.tiles = len(tiles)
    await asyncio.get_running_loop().run_in_executor(None, _stitch, tiles, out)


def _stitch(tiles: list[bytes], out: Path) -> None:
    from io import BytesIO

    images = [Image.open(BytesIO(t)).convert("RGB") for t in tiles]
    sheet = Image.new("RGB", (images[0].width, sum(i.height for i in images)))
    top = 0
    for image in images:
        sheet.paste(image, (0, top))
        top += image.height
    sheet.save(out, format="PNG", compress_level=6)


async def save_dom(state: CaptureState) -> None:
    """The page's HTML as the browser holds it after load and settling."""
    html = await state.page.content()
    state.output(state.view.file("page", ".html"), FileRole.dom, "text/html; charset=utf-8").write_text(
        html, encoding="utf-8")


async def print_pdf(state: CaptureState) -> None:
    """Chromium's print rendering: real text and links, a supporting file."""
    await state.page.pdf(path=state.output("page.pdf", FileRole.print_pdf, "application/pdf"),
                         format="A4", print_background=True)


DESKTOP_STEPS: tuple[Step, ...] = (navigate, dismiss_consent, detect_wall, settle, read_words, screenshot, save_dom,
                                   print_pdf)
MOBILE_STEPS: tuple[Step, ...] = (navigate, dismiss_consent, detect_wall, settle, read_words, screenshot)


# -- one view ---------------------------------------------------------------------------------


async def _wall_evidence(state: CaptureState) -> None:
    """A screenshot and the HTML of whatever stood in the way, bounded and best effort."""
    try:
        await asyncio.wait_for(state.page.screenshot(path=state.output(state.view.file("wall"), FileRole.evidence,
                                                                        "image/png"), type="png"), 15)
        html = await asyncio.wait_for(state.page.content(), 5)
        state.output(state.view.file("wall", ".html"), FileRole.evidence, "text/html; charset=utf-8").write_text(
            html, encoding="utf-8")
    except (TimeoutError, PlaywrightError) as exc:
        state.outputs = [o for o in state.outputs if (state.out_dir / o[0]).exists()]
        state.notes.append(f"no evidence of the wall could be saved: {type(exc).__name__}")


async def run_view(browser: Browser, account: Account, view: View, out_dir: Path, proxy: EgressProxy,
                   steps: Sequence[Step]) -> CaptureState:
    """Run *steps* for one view in a fresh context, which is always closed afterwards."""
    token = secrets.token_hex(8)
    har = out_dir / f".{view.name}.har"
    options: dict = dict(
        viewport={"width": view.width, "height": view.height}, device_scale_factor=view.scale,
        is_mobile=view.mobile, has_touch=view.mobile, locale=LOCALE, timezone_id=TIMEZONE,
        service_workers="block", accept_downloads=False, color_scheme="light", proxy=proxy.settings_for(token),
    )
    if view.mobile:
        options["user_agent"] = MOBILE_USER_AGENT.format(major=browser.version.split(".")[0])
    if view.record_har:
        options.update(record_har_path=str(har), record_har_content="embed")
    if account.session_file is not None:
        if not Path(account.session_file).is_file():
            raise PageUnavailableError(f"the stored session of account {account.id} cannot be read")
        options["storage_state"] = str(account.session_file)  # read only: never written back
    context = await browser.new_context(**options)
    state: CaptureState | None = None
    try:
        watcher = await ConsentWatcher.attach(context)
        page = await context.new_page()
        state = CaptureState(account=account, view=view, out_dir=out_dir, context=context, page=page, proxy=proxy,
                             token=token, consent_watcher=watcher)
        context.on("page", lambda popup: _refuse_popup(state, popup))
        state.user_agent = await page.evaluate("() => navigator.userAgent")
        for step in steps:
            began = time.monotonic()
            try:
                await asyncio.wait_for(step(state), view.step_timeout_s)
            except TimeoutError as exc:
                raise CaptureError(f"step {step.__name__!r} took longer than {view.step_timeout_s:g} s") from exc
            except _Blocked as blocked:
                state.wall = blocked.wall
                await _wall_evidence(state)
                break
            finally:
                state.timings[f"{view.name}.{step.__name__}"] = round(time.monotonic() - began, 3)
        return state
    finally:
        await context.close()  # writes the HAR
        refused = proxy.take_blocked(token)
        if state is not None:
            state.blocked = refused


def _refuse_popup(state: CaptureState, popup: Page) -> None:
    if popup is state.page:
        return
    state.popups += 1
    state.notes.append("a popup window was opened by the page and closed unseen")
    asyncio.ensure_future(popup.close())


async def _capture_views(browser: Browser, account: Account, views: Sequence[tuple[View, Sequence[Step]]],
                         out_dir: Path, proxy: EgressProxy) -> list[CaptureState]:
    states = []
    for view, steps in views:
        if states and states[0].consent is not None and not states[0].consent.found:
            view = replace(view, consent_look_s=0.3)  # the desktop page had no consent platform at all
        state = await run_view(browser, account, view, out_dir, proxy, steps)
        states.append(state)
        if state.wall is not None:
            break  # the primary view is blocked: nothing more to see
    return states


# -- the capture ------------------------------------------------------------------------------


def _software_versions(browser_version: str | None) -> dict[str, str]:
    from importlib.metadata import version

    versions = {"somearkiv": __version__, "chromium": browser_version or "unknown",
                "autoconsent": autoconsent_version()}
    for dist in ("playwright", "prefect", "pikepdf", "img2pdf", "pypdf", "boto3", "warcio"):
        versions[dist] = version(dist)
    return versions


def _view_info(state: CaptureState) -> ViewInfo:
    shot = state.view.file("startpage")
    return ViewInfo(name=state.view.name, user_agent=state.user_agent, viewport_width=state.view.width,
                    viewport_height=state.view.height, device_scale_factor=state.view.scale,
                    is_mobile=state.view.mobile, page_height=state.page_height,
                    screenshot=shot if (state.out_dir / shot).exists() else None, tiles=state.tiles,
                    notes=tuple(state.notes))


def capture_account(
    account: Account,
    *,
    municipality: str,
    trigger: Trigger,
    reason: str | None = None,
    requested_by: str | None = None,
    flow_run_id: str | None = None,
    settings: Settings | None = None,
) -> tuple[CaptureRecord, Path]:
    """Capture *account* now; return its record and the local folder holding the files.

    Files are written to '<folder>.partial' and the folder is renamed when the capture is
    complete, so a half-written capture is never mistaken for a whole one. A wall (login,
    bot check, ...) gives a record with status ``blocked`` and the evidence, not a capture.
    """
    settings = settings or get_settings()
    log = get_logger(account=account.id, trigger=str(trigger))
    policy = EgressPolicy(tuple(settings.allowed_hosts), protected=protected_endpoints(settings))
    decision = policy.check_url(str(account.url))
    if not decision.allowed:
        raise PageUnavailableError(f"the start page's address is refused by the egress guard: {decision.reason}")
    _clean_stale_partials(settings.data_dir / "captures" / account.id, settings.capture_timeout_s)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    while True:  # capture ids are per second: a second capture in the same second takes the next one
        capture_id = make_capture_id(account.id, started, trigger)
        folder = settings.data_dir / "captures" / capture_id
        partial = folder.with_name(folder.name + ".partial")
        if not folder.exists():
            break
        started += dt.timedelta(seconds=1)
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir(parents=True)
    except OSError as exc:
        raise _disk_error(exc, settings) or exc from None
    desktop = View.desktop(settings)
    views: list[tuple[View, Sequence[Step]]] = [(desktop, DESKTOP_STEPS)]
    if settings.mobile_view:
        views.append((desktop.as_mobile(settings), MOBILE_STEPS))
    pool = get_pool(find_browser(settings.browser_path), settings.capture_concurrency, policy)
    log.info("capture.start", url=str(account.url), capture_id=capture_id)
    try:
        states = pool.run(lambda browser: _capture_views(browser, account, views, partial, pool.proxy),
                          settings.capture_timeout_s)
        primary = states[0]
        try:
            if settings.record_warc and primary.wall is None and (partial / ".desktop.har").exists():
                warc = har_to_warc(partial / ".desktop.har", primary.output("page.warc.gz", FileRole.warc,
                                                                            "application/warc"),
                                   f"somearkiv/{__version__}")
                if warc.note():
                    primary.notes.append(warc.note())  # header names and counts, never a value
        finally:  # the HAR holds the session's cookies: deleted whatever happened, never filed
            for leftover in partial.glob(".*.har"):
                leftover.unlink(missing_ok=True)
    except TimeoutError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise CaptureError(f"capture took longer than the limit of {settings.capture_timeout_s:g} s") from exc
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        full = _disk_error(exc, settings)
        if full is not None:
            raise full from None
        raise
    partial.rename(folder)
    finished = dt.datetime.now(dt.UTC)
    outputs = [o for s in states for o in s.outputs]
    files = tuple(
        ArchivedFile(name=name, role=role, media_type=media_type, size=(folder / name).stat().st_size,
                     sha256=sha256_file(folder / name))
        for name, role, media_type in outputs
    )
    consent = primary.consent
    blocked = [b for s in states for b in s.blocked]
    record = CaptureRecord(
        capture_id=capture_id,
        municipality=municipality,
        account=account,
        trigger=trigger,
        reason=reason,
        requested_by=requested_by,
        status=CaptureStatus.blocked if primary.wall else CaptureStatus.captured,
        started_at=started,
        finished_at=finished,
        page=PageInfo(requested_url=str(account.url), final_url=primary.final_url, http_status=primary.http_status,
                      title=primary.title, redirect_chain=tuple(primary.redirect_chain)),
        browser=BrowserInfo(name="chromium", version=pool.browser_version or "unknown",
                            user_agent=primary.user_agent, viewport_width=desktop.width,
                            viewport_height=desktop.height, device_scale_factor=desktop.scale, locale=LOCALE,
                            timezone=TIMEZONE, page_height=primary.page_height),
        timings={k: v for s in states for k, v in s.timings.items()},
        views=tuple(_view_info(s) for s in states),
        consent=ConsentInfo(found=consent.found, dismissed=consent.dismissed, method=consent.method,
                            platform=consent.platform, action=consent.action, evidence=consent.evidence,
                            errors=tuple(consent.errors), rules=f"autoconsent {autoconsent_version()}")
        if consent else None,
        wall=WallInfo(kind=primary.wall.kind, reason=primary.wall.reason,
                      evidence=primary.view.file("wall") if (folder / primary.view.file("wall")).exists() else None)
        if primary.wall else None,
        blocked_requests=tuple(BlockedRequestInfo(target=b.target, reason=b.reason) for b in blocked),
        outbound_ip=settings.outbound_ip,
        notes=tuple(n for s in states for n in (f"{s.view.name}: {note}" for note in s.notes)),
        files=files,
        retention_class=account.retention_class,
        software=_software_versions(pool.browser_version),
        flow_run_id=flow_run_id,
    )
    if record.status is CaptureStatus.blocked:
        log.warning("capture.blocked", capture_id=capture_id, wall=record.wall.kind, reason=record.wall.reason)
    else:
        log.info("capture.done", capture_id=capture_id, http_status=primary.http_status,
                 page_height=primary.page_height, consent=consent.platform if consent else None,
                 blocked_requests=len(blocked), seconds=round((finished - started).total_seconds(), 1))
    return record, folder


def _disk_error(exc: BaseException, settings: Settings) -> DiskFullError | None:
    """A full disk shows as OSError(ENOSPC) here and as a Playwright error from the browser's side."""
    import errno

    text = str(exc)
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "ENOSPC" in text or "No space left" in text:
        return DiskFullError(f"no space left on the device of the data directory {settings.data_dir.resolve()}: "
                             "free some space (or set SOMEARKIV_DATA_DIR) and run again")
    return None


def _clean_stale_partials(account_dir: Path, older_than_s: float) -> None:
    """Half-written captures of a process that died: nothing in them was filed, so they go."""
    if not account_dir.is_dir():
        return
    limit = time.time() - older_than_s - 60
    for partial in account_dir.glob("*.partial"):
        if partial.stat().st_mtime < limit:
            shutil.rmtree(partial, ignore_errors=True)
            get_logger(account=account_dir.name).warning("capture.partial_removed", folder=partial.name)


def _worth_retrying(_task: object, _task_run: object, state: object) -> bool:
    try:
        state.result()  # type: ignore[attr-defined]
    except PageUnavailableError:
        return False
    except Exception:
        return True
    return False


@task(name="capture-start-page", retries=2, retry_delay_seconds=[5, 20], retry_condition_fn=_worth_retrying,
      cache_policy=NO_CACHE, tags=["browser"])
def capture_start_page(
    account: Account,
    municipality: str,
    trigger: Trigger,
    reason: str | None = None,
    requested_by: str | None = None,
) -> tuple[CaptureRecord, Path]:
    """Task: capture one account's start page (see capture_account)."""
    from contextlib import nullcontext

    from prefect.concurrency.sync import concurrency
    from prefect.runtime import flow_run

    limit = get_settings().browser_concurrency_limit
    with concurrency(limit, occupy=1, strict=True) if limit else nullcontext():
        return capture_account(account, municipality=municipality, trigger=trigger, reason=reason,
                               requested_by=requested_by, flow_run_id=flow_run.id)
