"""The steps of one view, in the order they run; each is ``async step(state) -> None``.

Like structlog's processors: every step is one small function over one CaptureState, and a
view is a list of them (DESKTOP_STEPS, MOBILE_STEPS), so adding a step is adding one item and
each step can be run alone (see run_view). A step fills in the state, raises Blocked when the
page is a wall, or CaptureError when it could not be captured. Each runs under its own
timeout; its duration is recorded as '<view>.<step name>'.
"""

from __future__ import annotations

import asyncio
import json
import time
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from somearkiv.models import FileRole
from tasks.capture.egress import BlockedRequest
from tasks.capture.errors import Blocked, CaptureError
from tasks.capture.state import CaptureState, Step
from tasks.capture.walls import SIGNALS_JS, PageSignals, Wall, classify

__all__ = ["DESKTOP_STEPS", "MOBILE_STEPS", "detect_wall", "dismiss_consent", "navigate", "print_pdf",
           "read_words", "save_dom", "screenshot", "settle"]


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
            raise Blocked(Wall("unsafe-target", f"the egress guard refused {refused[0].target}: "
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
        raise Blocked(Wall("unsafe-target", f"the egress guard refused {refused[0].target}: {refused[0].reason}"))
    if state.http_status is not None and state.http_status >= 500:
        raise CaptureError(f"the server answered HTTP {state.http_status}")
    wall = classify(PageSignals(str(state.account.url), state.final_url, state.http_status))
    if wall is not None:  # an error page or another site: no need to look further
        raise Blocked(wall)
    try:  # images and fonts, but never wait unbounded for 'load'
        await state.page.wait_for_load_state("load", timeout=min(10.0, v.navigation_timeout_s) * 1000)
    except PlaywrightTimeout:
        state.notes.append("load event not reached within 10 s; captured after DOMContentLoaded")


def _is_document(blocked: BlockedRequest, final_url: str) -> bool:
    """Was the refused request the page itself (or a hop of its redirects)?"""
    host = urlsplit(final_url).hostname or ""
    return blocked.target.startswith((final_url, f"{host}:")) or final_url in ("", "about:blank")


async def dismiss_consent(state: CaptureState) -> None:
    """Screenshot a consent popup as evidence, then refuse it (see tasks.capture.consent)."""
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
        raise Blocked(wall)


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
    state.output(f"words-{state.view.name}.json", FileRole.words, "application/json").write_text(
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
