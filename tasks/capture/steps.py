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
import re
import time
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from somearkiv.models import FileRole, SettleInfo
from tasks.capture.consent import ConsentFinding
from tasks.capture.egress import BlockedRequest
from tasks.capture.errors import Blocked, CaptureError
from tasks.capture.isolated import read
from tasks.capture.overlay import close_overlay, find_overlay
from tasks.capture.pagewatch import BROWSER_ERROR_SCHEMES
from tasks.capture.state import CaptureState, PageShape, Step
from tasks.capture.walls import SIGNALS_JS, PageSignals, Wall, classify, same_site
from tasks.watch.extract import EXTRACT_JS, rules_for

__all__ = ["DESKTOP_STEPS", "IMAGES_DONE", "MOBILE_STEPS", "clear_overlay", "detect_wall", "dismiss_consent",
           "follow_late_navigation", "land", "landed_at", "navigate", "print_pdf", "profile_elements", "read_elements",
           "read_words", "refuse_late_consent", "save_dom", "screenshot", "settle", "still_since", "unroll_pane"]


async def navigate(state: CaptureState) -> None:
    """Open the start page and follow it to where it lands (redirects, meta refresh); refuse unsafe targets."""
    v, url = state.view, str(state.account.url)
    try:
        response = await state.page.goto(url, wait_until="domcontentloaded", timeout=v.navigation_timeout_s * 1000)
    except PlaywrightTimeout as exc:
        raise CaptureError(f"the page did not load within {v.navigation_timeout_s:g} s") from exc
    except PlaywrightError as exc:
        await _refuse_unsafe_hops(state)
        if "interrupted by another navigation" not in str(exc):
            raise CaptureError(f"the page could not be opened: {str(exc).splitlines()[0]}") from exc
        response = None  # the page moved on by itself at once: follow it below
    state.response = response
    if response is not None:
        state.http_status = response.status
        hop = response.request.redirected_from
        while hop is not None:
            state.redirect_chain.insert(0, hop.url)
            hop = hop.redirected_from
    await _loaded(state)
    await _await_meta_refresh(state)
    await land(state)


async def _loaded(state: CaptureState) -> None:
    """Images and fonts, but never wait unbounded for 'load'."""
    try:
        await state.page.wait_for_load_state("load", timeout=min(10.0, state.view.navigation_timeout_s) * 1000)
    except PlaywrightTimeout:
        state.notes.append("load event not reached within 10 s; captured after DOMContentLoaded")
    except PlaywrightError:
        pass  # the page navigated meanwhile: land() takes stock of where it is


_META_REFRESH = """() => { const m = document.querySelector('meta[http-equiv="refresh" i]');
  return m ? m.getAttribute('content') : null; }"""
_META_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:[;,]\s*(?:url\s*=\s*)?(\S.*))?$", re.I)


async def _await_meta_refresh(state: CaptureState) -> None:
    """A meta refresh that leaves the page within the navigation timeout: wait for it, so its target is shot."""
    try:
        content = await read(state.page, _META_REFRESH)
    except PlaywrightError:
        return  # already navigating
    match = _META_DELAY.match(content or "")
    if not match or not match.group(2):
        return  # no refresh, or one that reloads the same page
    delay = float(match.group(1))
    if delay > state.view.navigation_timeout_s:
        return
    before = state.watch.documents
    deadline = time.monotonic() + delay + 5
    while state.watch.documents == before and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await _loaded(state)


async def land(state: CaptureState) -> None:
    """Take stock of the document now shown: its address, status and title; refuse what must not be filed.

    A browser error page is never a snapshot: refused by the egress guard or the browser, the
    capture is blocked (unsafe target); otherwise it failed (the network). Another site is a
    wall, unless it is a consent site that leads back after refusing (YouTube's in Europe).
    """
    page, watch = state.page, state.watch
    url = page.url
    if url.startswith(BROWSER_ERROR_SCHEMES) or (url == "about:blank" and watch.navigation_errors):
        await _refuse_unsafe_hops(state)
        error = watch.navigation_errors[-1] if watch.navigation_errors else "the browser's error page"
        raise CaptureError(f"the browser showed its own error page instead of the page ({error})")
    await _refuse_unsafe_hops(state)
    state.final_url = url
    state.http_status = watch.current_status or state.http_status
    state.landed = watch.documents
    try:
        state.title = await page.title()
    except PlaywrightError:
        state.title = ""
    state.landed_shape = await _shape(state)
    if state.http_status is not None and state.http_status >= 500:
        raise CaptureError(f"the server answered HTTP {state.http_status}")
    wall = classify(PageSignals(str(state.account.url), state.final_url, state.http_status))
    if wall is not None and wall.kind == "other-site" and await _consent_round_trip(state):
        return
    if wall is not None:  # an error page or another site: no need to look further
        raise Blocked(wall)


async def _refuse_unsafe_hops(state: CaptureState) -> None:
    """Blocked when the egress guard or the browser refused the page itself or a hop on the way to it."""
    documents = [h.url for h in state.watch.hops if h.kind != "history"] or [str(state.account.url)]
    for blocked in await state.proxy.blocked_so_far(state.token):
        if any(_is_document(blocked, url) for url in documents):
            raise Blocked(Wall("unsafe-target", f"the egress guard refused {blocked.target}: {blocked.reason}"))
    for refusal in state.watch.refusals:
        if refusal.target in documents:
            raise Blocked(Wall("unsafe-target", f"the page sent the browser to {refusal.target}: {refusal.reason}"))


def _is_document(blocked: BlockedRequest, url: str) -> bool:
    """Was the refused request the page at *url* itself?"""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return blocked.target.startswith(url) or blocked.target == f"{parts.hostname}:{port}"


async def _consent_round_trip(state: CaptureState) -> bool:
    """On another site: if it is a consent page, refuse there and follow the way back. True when back."""
    page, view = state.page, state.view
    host = urlsplit(page.url).hostname
    state.consent_watcher.reset()
    evidence = state.out_dir / state.view.file("consent-site-before")
    finding = await state.consent_watcher.dismiss(page, evidence, view.consent_timeout_s, view.consent_look_s,
                                                  whole_page=True, loading=lambda: not state.watch.network_idle())
    if not finding.found:
        return False
    finding.host = host
    _keep_consent(state, finding, evidence)
    if not finding.dismissed:
        raise Blocked(Wall("consent", f"the consent site {host} could not be refused "
                                      f"({finding.action or 'no button that refuses'})"))
    try:
        await page.wait_for_url(lambda u: same_site(str(state.account.url), u),
                                timeout=view.navigation_timeout_s * 1000, wait_until="domcontentloaded")
    except PlaywrightTimeout:
        raise Blocked(Wall("other-site", f"refused consent on {host}, but it did not lead back to the page")) from None
    state.notes.append(f"consent asked on {host}: refused there, and back to the page")
    state.consent_watcher.reset()
    await _loaded(state)
    await land(state)
    return True


def _keep_consent(state: CaptureState, finding: ConsentFinding, evidence: Path) -> None:
    """The first consent dialog found is the record's; a later one is noted."""
    if finding.evidence:
        state.outputs.append((evidence.name, FileRole.evidence, "image/png"))
    if state.consent is None or not state.consent.found:
        state.consent = finding
    elif finding.found:
        state.notes.append(f"another consent dialog: {finding.action or 'found'}"
                           f"{'' if finding.dismissed else ' (not dismissed)'}")


async def dismiss_consent(state: CaptureState) -> None:
    """Screenshot a consent popup (on the page or in any frame) as evidence, then refuse it (tasks.capture.consent)."""
    evidence = state.out_dir / state.view.file("consent-before" if state.consent is None else "consent-before-2")
    finding = await state.consent_watcher.dismiss(state.page, evidence, state.view.consent_timeout_s,
                                                  state.view.consent_look_s,
                                                  loading=lambda: not state.watch.network_idle())
    if finding.found:
        finding.host = urlsplit(state.page.url).hostname
    _keep_consent(state, finding, evidence)
    if finding.found and not finding.dismissed:
        state.notes.append(f"consent popup could not be dismissed ({finding.action or 'no reject button'})")


async def refuse_late_consent(state: CaptureState) -> None:
    """A consent dialog that came after the look (shown by a timer, or on scrolling): refused before the shot.

    The look ends once autoconsent's second pass found nothing, which comes early on a page that stays
    still (tasks.capture.consent); a dialog that comes later is found here, by what autoconsent saw
    since or by the fallback, without waiting again, and the page is settled afresh after refusing it.
    Nothing when a dialog was found already, or when the page moved on (follow_late_navigation looks there).
    """
    if (state.consent is not None and state.consent.found) or state.watch.documents != state.landed:
        return
    evidence = state.out_dir / state.view.file("consent-late-before")
    finding = await state.consent_watcher.dismiss(state.page, evidence, detect_timeout=0.0, look_s=0.0)
    if not finding.found:
        return
    finding.host = urlsplit(state.page.url).hostname
    _keep_consent(state, finding, evidence)
    outcome = "refused" if finding.dismissed else f"not dismissed ({finding.action or 'no button that refuses'})"
    state.notes.append(f"a consent dialog came after the page was first looked at: {outcome}, before the shot")
    if finding.dismissed:
        await settle(state)  # what the dialog held back (a page it kept from scrolling) comes now


async def detect_wall(state: CaptureState) -> None:
    """Stop here if the page is a login, bot-check, rate-limit or error page, or another site."""
    raw = await read(state.page, SIGNALS_JS)
    wall = classify(PageSignals(requested_url=str(state.account.url), final_url=state.final_url,
                                http_status=state.http_status, **raw))
    if wall is not None:
        raise Blocked(wall)


# A page that does not scroll itself but inside an element (an app whose feed is a pane, a body of the window's
# height that scrolls): the largest such element at least half the window high (a feed's column may be narrow).
# Settling scrolls it and measures it; it is kept in the reading world's window, not in the page's DOM.
_FIND_SCROLLER = """() => {
  const label = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '');
  const kept = window.__somearkivScroller;
  if (kept && kept.isConnected) return label(kept);
  window.__somearkivScroller = null;
  const doc = document.documentElement;
  if (doc.scrollHeight > window.innerHeight + 2) return null;
  let best = null, bestArea = 0;
  const all = document.querySelectorAll('body, body *');
  for (let i = 0; i < all.length && i < 20000; i++) {
    const e = all[i];
    if (e.scrollHeight <= e.clientHeight + 50) continue;
    if (!['auto', 'scroll', 'overlay'].includes(getComputedStyle(e).overflowY)) continue;
    const dialog = 'dialog, [role=dialog], [role=alertdialog], [aria-modal=true]';
    if (e.closest(dialog) || e.querySelector(dialog)) continue;  // a dialog over the page (or its veil) is not it
    const r = e.getBoundingClientRect();
    const w = Math.min(r.right, innerWidth) - Math.max(r.left, 0);
    const h = Math.min(r.bottom, innerHeight) - Math.max(r.top, 0);
    if (h >= innerHeight / 2 && w >= 150 && w * h > bestArea) { best = e; bestArea = w * h; }
  }
  window.__somearkivScroller = best;
  return best && label(best);
}"""
_SCROLLED = "((s) => s && s.isConnected ? s : window)(window.__somearkivScroller)"  # what settling scrolls
_PAGE_STATE = """() => {
  const s = window.__somearkivScroller, items = document.getElementsByTagName('*').length;
  return s && s.isConnected ? [s.scrollTop + s.clientHeight, s.scrollHeight, items]
                            : [window.scrollY + window.innerHeight, document.documentElement.scrollHeight, items];
}"""
# For the shot, the element and everything around it is laid out at its whole height (styles kept, to be put back);
# what they hid to the side (a drawer, a carousel's other slides) stays hidden
_UNROLL = """() => {
  const s = window.__somearkivScroller;
  if (!s || !s.isConnected || document.documentElement.scrollHeight > window.innerHeight + 2) return false;
  const kept = [];
  for (let e = s; e; e = e.parentElement) {
    const position = getComputedStyle(e).position;
    kept.push([e, e.getAttribute('style')]);
    e.style.setProperty('height', 'auto', 'important');
    e.style.setProperty('max-height', 'none', 'important');
    e.style.setProperty('overflow-y', 'visible', 'important');
    e.style.setProperty('overflow-x', 'clip', 'important');
    if (position === 'fixed') e.style.setProperty('position', 'absolute', 'important');
    if (position === 'fixed' || position === 'absolute') e.style.setProperty('bottom', 'auto', 'important');
  }
  window.__somearkivUnrolled = kept;
  return true;
}"""
_ROLL_BACK = """() => {
  const kept = window.__somearkivUnrolled || [];
  for (const [e, style] of kept) {
    if (style === null) e.removeAttribute('style'); else e.setAttribute('style', style);
  }
  window.__somearkivUnrolled = undefined;
  return kept.length > 0;
}"""
IMAGES_DONE = """(ms) => Promise.race([
  Promise.all(Array.from(document.images).filter(i => !i.complete)
    .map(i => new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); }))),
  new Promise(r => setTimeout(r, ms))])"""


_RENDER_GRACE_S = 0.4  # after a request ends, the time its answer gets to change the page before "done"


async def settle(state: CaptureState) -> None:
    """Scroll down until the page is done, within the bounds; back to the top.

    Done (``complete``) means: at the bottom, the page's height and number of elements stayed
    the same for ``settle_quiet_s``, no request is in flight and no fetch/XHR ended in the last
    ``_RENDER_GRACE_S`` (that last until it has been still, with nothing seen loading, for three
    quiet periods): a feed that loads its next batch slowly gets it (the request in flight keeps
    the page unsettled however long it takes, and its answer gets time to be drawn). A page
    that grows when its bottom comes near is a feed: it is cut at ``max_page_height``
    (``height-limit``); a long page that does not grow is taken whole up to
    ``max_whole_page_height``. ``time-limit`` when ``max_scroll_s`` ran out first.
    The quiet is counted from when the page landed if it has not changed since (the consent
    look's wait is time the page stayed the same too), but the page always gets one nudge at the
    bottom before it is done, and is never done sooner than ``dwell_s`` after it landed (a page that
    moves on by itself in that time is followed to where it goes: follow_late_navigation).
    """
    v, page = state.view, state.page
    started = time.monotonic()
    await page.mouse.move(v.width / 2, v.height / 2)
    # the height the page sees, in its own pixels: on a phone a page without <meta name=viewport> is laid out
    # 980 px wide, so its window is 2.5 screens high (844 -> 2121 px), and "near the bottom" is measured in it
    window = await read(page, "() => window.innerHeight") or v.height
    scroller = await read(page, _FIND_SCROLLER)
    rounds = grew = stuck = nudged = 0
    last: tuple[int, int, int] | None = None
    quiet_since = busy_at = started
    landed = landed_at(state, started)
    while True:
        rounds += 1
        bottom, height, items = await read(page, _PAGE_STATE)
        now = time.monotonic()
        if last is None:
            quiet_since = still_since(state, height, items, started)
            still_before = started - quiet_since
        else:
            if height > last[1] and last[0] >= last[1] - 1.5 * window:
                grew += 1  # it grew as its bottom came near: a feed
            if (height, items) != last[1:]:
                quiet_since = now
            stuck = stuck + 1 if bottom == last[0] and bottom < height - 2 else 0
        if not state.watch.network_idle():
            busy_at = now
        last = (bottom, height, items)
        limit = v.max_page_height if grew else v.max_whole_page_height
        outcome = None
        dwell_left = 0.0
        if bottom >= height - 2:
            # the grace waits for an answer to be drawn, but never keeps a page that is still, with nothing
            # seen loading, for three quiet periods from being done (one that pings on every scroll event)
            grace = _RENDER_GRACE_S if now - max(quiet_since, busy_at) < 3 * v.settle_quiet_s else 0.0
            if nudged and now - quiet_since >= v.settle_quiet_s and state.watch.network_idle(grace_s=grace):
                dwell_left = landed + v.dwell_s - now
                if dwell_left <= 0:
                    outcome = "complete"
        elif bottom >= limit:
            outcome = "height-limit"
        elif stuck >= 6:
            outcome = "complete"
            state.notes.append(f"the page would not scroll past {bottom} px of {height} px")
        if outcome is None and now - started > v.max_scroll_s:
            outcome = "time-limit"
        if outcome is not None:
            break
        if bottom >= height - 2 and not scroller and (scroller := await read(page, _FIND_SCROLLER)):
            last = None  # an app whose pane was filled late (or drawn again): measured there from now on
            continue
        if dwell_left > 0:  # done but for the time it gets to move on by itself: that time, then look again
            await asyncio.sleep(dwell_left)
        elif bottom >= height - 2:  # a scroll event, as a visitor's nudge at the bottom would give
            await read(page, f"() => {_SCROLLED}.dispatchEvent(new Event('scroll'))")  # the page's listeners get it
            await page.wait_for_timeout(200)
            nudged += 1
        elif stuck >= 3:  # the wheel went to another element that scrolls itself: scroll the page (or its pane)
            await read(page, f"(dy) => {_SCROLLED}.scrollBy(0, dy)", int(window * 0.9))
            await page.wait_for_timeout(120)
        else:
            await page.mouse.wheel(0, int(v.height * 0.9))
            await page.wait_for_timeout(120)
    await read(page, IMAGES_DONE, 5000)
    await read(page, f"() => {{ window.scrollTo(0, 0); {_SCROLLED}.scrollTo(0, 0); }}")
    await _network_quiet(state, 3.0)
    state.pane = scroller
    # a page without <meta name=viewport> is laid out 980 px wide on a phone, and one with content wider than its
    # layout is shown that wide: the phone shows all of it zoomed out, and so does the shot
    shown, laid_out = await read(page, "() => [window.innerWidth, document.documentElement.clientWidth]")
    state.shot_width = max(v.width, shown or 0)
    if state.shot_width > v.width:
        why = (f"the page has no layout for a {v.width} px wide screen: laid out {laid_out} px wide"
               if laid_out > v.width else f"the page is wider than a {v.width} px wide screen: {state.shot_width} px")
        state.notes.append(f"{why}, shown zoomed out, and shot whole at one pixel per page pixel")
    state.settled = SettleInfo(outcome=outcome, seconds=round(time.monotonic() - started, 2), rounds=rounds,
                               height=height, items=items, grew=grew,
                               still_before_s=round(still_before, 2))
    await _measure_height(state)
    if outcome == "height-limit":
        state.notes.append(f"feed bounded at {limit} px (the page kept growing)" if grew
                           else f"page cut at the safety limit of {limit} px")
    elif outcome == "time-limit":
        state.notes.append(f"scrolling stopped after {v.max_scroll_s:g} s at {bottom} px of {height} px")
    state.title = await page.title()


async def _measure_height(state: CaptureState) -> None:
    """The page's height now, and how much of it the shot takes: all of it, up to the feed's bound or the safety
    limit (settled, and again when a pane is laid out whole or an overlay that locked the page is closed)."""
    v, settled = state.view, state.settled
    state.page_height = await read(state.page, "() => document.documentElement.scrollHeight")
    feed = settled is not None and settled.outcome == "height-limit" and settled.grew > 0
    state.shot_height = min(state.page_height, v.max_page_height if feed else v.max_whole_page_height)


async def unroll_pane(state: CaptureState) -> None:
    """A page that scrolls in a pane, not itself (see settle), laid out at the pane's whole height for what is read
    and shot next. After the sign-in overlay was closed: a dialog is never the pane, and the page is then as shown."""
    if not state.pane or not await read(state.page, _UNROLL):
        return
    state.notes.append(f"the page scrolls inside an element ({state.pane}), not itself: scrolled there, and laid out "
                       "at its whole height for the shot")
    await _network_quiet(state, 3.0)
    await _measure_height(state)


async def _shape(state: CaptureState) -> PageShape | None:
    """The page's height and number of elements now (None when it cannot be read: settling then counts its quiet
    itself)."""
    try:
        _bottom, height, items = await read(state.page, _PAGE_STATE)
    except PlaywrightError:
        return None
    return PageShape(state.watch.documents, height, items, time.monotonic())


def still_since(state: CaptureState, height: int, items: int, default: float) -> float:
    """Since when the page has stayed the same, as settling begins with it *height* px high and *items* elements.

    Since it landed, when it is the same document with the same height and number of elements as
    then, and no consent dialog was found on the way (refusing one changes the page, and what the
    page loads after it); otherwise *default* (now: settling counts the quiet itself).
    """
    landed = state.landed_shape
    if (landed is None or landed.document != state.watch.documents or (landed.height, landed.items) != (height, items)
            or (state.consent is not None and state.consent.found)):
        return default
    return landed.at


def landed_at(state: CaptureState, default: float) -> float:
    """When the document now shown landed (monotonic); *default* when it was not taken stock of."""
    return state.landed_shape.at if state.landed_shape is not None else default


async def _network_quiet(state: CaptureState, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not state.watch.network_idle():
        if time.monotonic() > deadline:
            state.notes.append("network not idle after settling; captured anyway")
            return
        await asyncio.sleep(0.1)


async def clear_overlay(state: CaptureState) -> None:
    """A sign-in overlay that covers the page (often after a scroll): close it if it can be, else a login wall."""
    found = await find_overlay(state.page)
    if found is None:
        return
    evidence = state.output(state.view.file("overlay-before"), FileRole.evidence, "image/png")
    await state.page.screenshot(path=evidence, type="png")
    closed = await close_overlay(state.page)
    if closed is None:
        raise Blocked(Wall("login", f"a sign-in overlay covers the page ({found}) and has no way to close it"))
    state.notes.append(f"a sign-in overlay covered the page ({found}); closed with {closed}, evidence in "
                       f"{evidence.name}")
    await _measure_height(state)  # a page the overlay had locked at the window's height is its whole height again


_MAX_LATE_NAVIGATIONS = 3


def _same_origin(a: str, b: str) -> bool:
    one, other = urlsplit(a), urlsplit(b)
    return (one.scheme, one.netloc) == (other.scheme, other.netloc)


async def follow_late_navigation(state: CaptureState) -> None:
    """The page moved on after it loaded (script, meta refresh, history): the shot is of where it went.

    A new document is taken stock of (land) and made ready like the first one; a history
    change only moves the final URL (and is checked by the wall rules).
    """
    for _ in range(_MAX_LATE_NAVIGATIONS):
        if state.watch.documents == state.landed:
            url = state.page.url
            if url == state.final_url or url.startswith(BROWSER_ERROR_SCHEMES):
                return
            if not _same_origin(url, state.final_url):
                # history.pushState cannot change the origin: a navigation is under way, its document
                # not yet in (a refused one ends on the browser's error page): wait for it, then look again
                await _loaded(state)
                if state.watch.documents == state.landed:
                    return  # no new document came in: the page that is in is the one to take
                continue
            state.final_url = url  # history change (pushState): same document
            wall = classify(PageSignals(str(state.account.url), state.final_url, state.http_status))
            if wall is not None:
                raise Blocked(wall)
            return
        state.notes.append(f"the page navigated after it loaded: to {state.page.url}")
        state.consent_watcher.reset()  # what autoconsent said was of the document before
        await _loaded(state)
        await land(state)
        for step in (dismiss_consent, detect_wall, settle, clear_overlay, refuse_late_consent):
            await step(state)
    raise CaptureError(f"the page kept navigating (more than {_MAX_LATE_NAVIGATIONS} times after it loaded)")


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
    height = state.shot_height or state.view.height
    words = await read(state.page, _WORD_BOXES, height)
    state.output(f"words-{state.view.name}.json", FileRole.words, "application/json").write_text(
        json.dumps({"scale": state.shot_scale, "words": words}, ensure_ascii=False), encoding="utf-8")


ELEMENTS_NAME = "elements.json"


async def profile_elements(state: CaptureState) -> dict:
    """tasks.watch.extract's reading of the page as shown (down to what the screenshot holds): the
    profile's elements by the platform's rules and the generic ones, the noise, and the page's text."""
    return await read(state.page, EXTRACT_JS, {"rules": rules_for(state.account.platform),
                                               "maxY": state.shot_height or state.view.height})


async def read_elements(state: CaptureState) -> None:
    """The profile's elements as the page shows them (name, handle, bio, link, pinned post; tasks.watch.extract).

    What the next snapshot and the weekly watch compare this one with: read here, on the live
    page, they need no second rendering of the page later (and are what a visitor saw).
    """
    try:
        found = await profile_elements(state)
    except PlaywrightError as exc:  # a page whose scripts break the reading: still captured, compared from its DOM
        state.notes.append(f"the profile's elements could not be read on the page: {str(exc).splitlines()[0][:200]}")
        return
    found.pop("text", None)  # the page's text is in the DOM and the words already
    state.output(ELEMENTS_NAME, FileRole.elements, "application/json").write_text(
        json.dumps(found, ensure_ascii=False), encoding="utf-8")


async def screenshot(state: CaptureState) -> None:
    """The full-page PNG (RGB, lossless), in tiles stitched without gaps when the page is tall."""
    v, page = state.view, state.page
    height, width = state.shot_height or v.height, state.shot_width or v.width
    scale = "css" if state.shot_scale == 1.0 and v.scale != 1.0 else "device"
    if state.page_height > height:
        state.notes.append(f"screenshot cut at {height} px of {state.page_height} px")
    out = state.output(v.file("startpage"), FileRole.screenshot if v.name == "desktop"
                       else FileRole.screenshot_mobile, "image/png")
    timeout = v.step_timeout_s * 1000
    if height <= 2 * v.tile_height:
        await page.screenshot(path=out, full_page=True, type="png", animations="disabled", caret="hide", scale=scale,
                              clip={"x": 0, "y": 0, "width": width, "height": height}, timeout=timeout)
        _still_landed(state)
        return
    tiles = []
    for top in range(0, height, v.tile_height):
        clip = {"x": 0, "y": top, "width": width, "height": min(v.tile_height, height - top)}
        tiles.append(await page.screenshot(full_page=True, type="png", animations="disabled", caret="hide",
                                           scale=scale, clip=clip, timeout=timeout))
    state.tiles = len(tiles)
    _still_landed(state)
    await asyncio.get_running_loop().run_in_executor(None, _stitch, tiles, out)


def _still_landed(state: CaptureState) -> None:
    if state.watch.documents != state.landed:
        raise CaptureError("the page navigated while it was being shot")


def _stitch(tiles: list[bytes], out: Path) -> None:
    images = [Image.open(BytesIO(t)).convert("RGB") for t in tiles]
    sheet = Image.new("RGB", (images[0].width, sum(i.height for i in images)))
    top = 0
    for image in images:
        sheet.paste(image, (0, top))
        top += image.height
    sheet.save(out, format="PNG", compress_level=6)


async def save_dom(state: CaptureState) -> None:
    """The page's HTML as the browser holds it after load and settling (a pane laid out whole for the shot as the
    page had it: see settle)."""
    rolled_back = await read(state.page, _ROLL_BACK)
    html = await state.page.content()
    if rolled_back:  # and laid out whole again, for the print
        await read(state.page, _UNROLL)
    state.output(state.view.file("page", ".html"), FileRole.dom, "text/html; charset=utf-8").write_text(
        html, encoding="utf-8")


async def print_pdf(state: CaptureState) -> None:
    """Chromium's print rendering: real text and links, a supporting file."""
    await state.page.pdf(path=state.output("page.pdf", FileRole.print_pdf, "application/pdf"),
                         format="A4", print_background=True)


DESKTOP_STEPS: tuple[Step, ...] = (navigate, dismiss_consent, detect_wall, settle, clear_overlay,
                                   refuse_late_consent, follow_late_navigation, unroll_pane, read_elements,
                                   read_words, screenshot, save_dom, print_pdf)
MOBILE_STEPS: tuple[Step, ...] = (navigate, dismiss_consent, detect_wall, settle, clear_overlay,
                                  refuse_late_consent, follow_late_navigation, unroll_pane, read_words, screenshot)
