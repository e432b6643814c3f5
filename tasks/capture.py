"""Capture one account's start page with Chromium: full-page PNG, DOM, print PDF, provenance.

A capture is a chain of small steps with one signature, ``async step(state) -> None``, over
one CaptureState (navigate, settle, screenshot, save the DOM, print). Adding a step is adding
one item to CAPTURE_STEPS; each step runs under its own timeout and the whole capture under a
hard limit, so a page that never finishes loading fails clearly instead of hanging.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, Response
from playwright.async_api import TimeoutError as PlaywrightTimeout
from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv import __version__
from somearkiv.fixity import sha256_file
from somearkiv.log import get_logger
from somearkiv.models import (
    Account,
    ArchivedFile,
    BrowserInfo,
    CaptureRecord,
    CaptureStatus,
    FileRole,
    PageInfo,
    Trigger,
    make_capture_id,
)
from somearkiv.settings import Settings, get_settings
from tasks.browser import find_browser, get_pool

__all__ = [
    "CAPTURE_STEPS",
    "CaptureError",
    "CaptureOptions",
    "CaptureState",
    "PageUnavailableError",
    "capture_account",
    "capture_start_page",
    "run_capture",
]

LOCALE = "sv-SE"
TIMEZONE = "Europe/Stockholm"


class CaptureError(Exception):
    """The page could not be captured; worth retrying (timeouts, crashes, 5xx)."""


class PageUnavailableError(CaptureError):
    """The page answered, but not with the start page (4xx); retrying will not help."""


@dataclass(frozen=True)
class CaptureOptions:
    viewport_width: int = 1366
    viewport_height: int = 900
    navigation_timeout_s: float = 30.0
    step_timeout_s: float = 90.0
    max_page_height: int = 30000
    max_scroll_s: float = 15.0

    @classmethod
    def from_settings(cls, s: Settings) -> CaptureOptions:
        return cls(
            viewport_width=s.viewport_width,
            viewport_height=s.viewport_height,
            navigation_timeout_s=s.navigation_timeout_s,
            max_page_height=s.max_page_height,
            max_scroll_s=s.max_scroll_s,
        )


@dataclass
class CaptureState:
    """What the steps share and fill in."""

    account: Account
    options: CaptureOptions
    out_dir: Path
    context: BrowserContext
    page: Page
    user_agent: str = ""
    response: Response | None = None
    http_status: int | None = None
    final_url: str = ""
    redirect_chain: list[str] = field(default_factory=list)
    title: str = ""
    page_height: int = 0
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    outputs: list[tuple[str, FileRole, str]] = field(default_factory=list)

    def output(self, name: str, role: FileRole, media_type: str) -> Path:
        self.outputs.append((name, role, media_type))
        return self.out_dir / name


Step = Callable[[CaptureState], Awaitable[None]]


async def navigate(state: CaptureState) -> None:
    """Open the start page; record the HTTP status, final URL and redirects."""
    o = state.options
    try:
        response = await state.page.goto(
            str(state.account.url), wait_until="domcontentloaded", timeout=o.navigation_timeout_s * 1000
        )
    except PlaywrightTimeout as exc:
        raise CaptureError(f"the page did not load within {o.navigation_timeout_s:g} s") from exc
    state.response = response
    state.final_url = state.page.url
    if response is not None:
        state.http_status = response.status
        hop = response.request.redirected_from
        while hop is not None:
            state.redirect_chain.insert(0, hop.url)
            hop = hop.redirected_from
    if state.http_status is not None and state.http_status >= 500:
        raise CaptureError(f"the server answered HTTP {state.http_status}")
    if state.http_status is not None and state.http_status >= 400:
        raise PageUnavailableError(f"the server answered HTTP {state.http_status}")
    try:  # images and fonts, but never wait unbounded for 'load'
        await state.page.wait_for_load_state("load", timeout=min(10.0, o.navigation_timeout_s) * 1000)
    except PlaywrightTimeout:
        state.notes.append("load event not reached within 10 s; captured after DOMContentLoaded")


_AT_BOTTOM = "() => [window.scrollY + window.innerHeight, document.documentElement.scrollHeight]"
_IMAGES_DONE = """(ms) => Promise.race([
  Promise.all(Array.from(document.images).filter(i => !i.complete)
    .map(i => new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); }))),
  new Promise(r => setTimeout(r, ms))])"""


async def settle(state: CaptureState) -> None:
    """Scroll down in steps so lazy content loads, within the height and time bounds; back to top."""
    o, page = state.options, state.page
    started = time.monotonic()
    step = int(o.viewport_height * 0.9)
    await page.mouse.move(o.viewport_width / 2, o.viewport_height / 2)
    stuck, last = 0, -1
    while True:
        bottom, height = await page.evaluate(_AT_BOTTOM)
        if bottom >= height - 2:
            break
        if height > o.max_page_height:
            state.notes.append(f"feed bounded at {o.max_page_height} px (page kept growing)")
            break
        if time.monotonic() - started > o.max_scroll_s:
            state.notes.append(f"scrolling stopped after {o.max_scroll_s:g} s")
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


async def screenshot(state: CaptureState) -> None:
    """The full-page PNG (RGB, lossless): the source of the archival PDF/A."""
    await state.page.screenshot(
        path=state.output("startpage.png", FileRole.screenshot, "image/png"),
        full_page=True,
        type="png",
        animations="disabled",
        caret="hide",
        timeout=state.options.step_timeout_s * 1000,
    )


async def save_dom(state: CaptureState) -> None:
    """The page's HTML as the browser holds it after load and settling."""
    html = await state.page.content()
    state.output("page.html", FileRole.dom, "text/html; charset=utf-8").write_text(html, encoding="utf-8")


async def print_pdf(state: CaptureState) -> None:
    """Chromium's print rendering: real text and links, a supporting file."""
    await state.page.pdf(path=state.output("page.pdf", FileRole.print_pdf, "application/pdf"),
                         format="A4", print_background=True)


CAPTURE_STEPS: tuple[Step, ...] = (navigate, settle, screenshot, save_dom, print_pdf)


async def run_capture(
    browser: Browser,
    account: Account,
    options: CaptureOptions,
    out_dir: Path,
    steps: Sequence[Step] = CAPTURE_STEPS,
) -> CaptureState:
    """Run *steps* in a fresh browser context; the context is always closed afterwards."""
    context = await browser.new_context(
        viewport={"width": options.viewport_width, "height": options.viewport_height},
        device_scale_factor=1,
        locale=LOCALE,
        timezone_id=TIMEZONE,
        service_workers="block",
        accept_downloads=False,
        color_scheme="light",
    )
    try:
        page = await context.new_page()
        state = CaptureState(account=account, options=options, out_dir=out_dir, context=context, page=page)
        state.user_agent = await page.evaluate("() => navigator.userAgent")
        for step in steps:
            began = time.monotonic()
            try:
                await asyncio.wait_for(step(state), options.step_timeout_s)
            except TimeoutError as exc:
                raise CaptureError(f"step {step.__name__!r} took longer than {options.step_timeout_s:g} s") from exc
            state.timings[step.__name__] = round(time.monotonic() - began, 3)
        return state
    finally:
        await context.close()


def _software_versions(browser_version: str | None) -> dict[str, str]:
    from importlib.metadata import version

    versions = {"somearkiv": __version__, "chromium": browser_version or "unknown"}
    for dist in ("playwright", "prefect", "pikepdf", "img2pdf", "pypdf", "boto3"):
        versions[dist] = version(dist)
    return versions


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
    complete, so a half-written capture is never mistaken for a whole one.
    """
    settings = settings or get_settings()
    log = get_logger(account=account.id, trigger=str(trigger))
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    capture_id = make_capture_id(account.id, started, trigger)
    folder = settings.data_dir / "captures" / capture_id
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    options = CaptureOptions.from_settings(settings)
    pool = get_pool(find_browser(settings.browser_path), settings.capture_concurrency)
    log.info("capture.start", url=str(account.url), capture_id=capture_id)
    try:
        state = pool.run(lambda browser: run_capture(browser, account, options, partial), settings.capture_timeout_s)
    except TimeoutError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise CaptureError(f"capture took longer than the limit of {settings.capture_timeout_s:g} s") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(folder)
    finished = dt.datetime.now(dt.UTC)
    files = tuple(
        ArchivedFile(name=name, role=role, media_type=media_type, size=(folder / name).stat().st_size,
                     sha256=sha256_file(folder / name))
        for name, role, media_type in state.outputs
    )
    record = CaptureRecord(
        capture_id=capture_id,
        municipality=municipality,
        account=account,
        trigger=trigger,
        reason=reason,
        requested_by=requested_by,
        status=CaptureStatus.captured,
        started_at=started,
        finished_at=finished,
        page=PageInfo(requested_url=str(account.url), final_url=state.final_url, http_status=state.http_status,
                      title=state.title, redirect_chain=tuple(state.redirect_chain)),
        browser=BrowserInfo(name="chromium", version=pool.browser_version or "unknown", user_agent=state.user_agent,
                            viewport_width=options.viewport_width, viewport_height=options.viewport_height,
                            device_scale_factor=1.0, locale=LOCALE, timezone=TIMEZONE,
                            page_height=state.page_height),
        timings=state.timings,
        notes=tuple(state.notes),
        files=files,
        retention_class=account.retention_class,
        software=_software_versions(pool.browser_version),
        flow_run_id=flow_run_id,
    )
    log.info("capture.done", capture_id=capture_id, http_status=state.http_status, page_height=state.page_height,
             seconds=round((finished - started).total_seconds(), 1))
    return record, folder


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
    from prefect.runtime import flow_run

    return capture_account(account, municipality=municipality, trigger=trigger, reason=reason,
                           requested_by=requested_by, flow_run_id=flow_run.id)
