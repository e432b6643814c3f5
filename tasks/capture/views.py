"""One view (desktop or mobile) in a fresh browser context, and the views of one capture side by side."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from playwright.async_api import Browser, Page
from playwright.async_api import Error as PlaywrightError

from somearkiv.models import Account, FileRole
from somearkiv.sessions import StoredSession
from tasks.capture.consent import ConsentWatcher
from tasks.capture.egress import BlockedRequest, EgressProxy
from tasks.capture.errors import Blocked, CaptureError
from tasks.capture.pagewatch import BROWSER_ERROR_SCHEMES, PageWatch
from tasks.capture.state import LOCALE, MOBILE_USER_AGENT, TIMEZONE, CaptureState, Step, View
from tasks.capture.steps import dismiss_consent
from tasks.capture.walls import Wall

__all__ = ["capture_views", "run_view"]


async def run_view(browser: Browser, account: Account, view: View, out_dir: Path, proxy: EgressProxy,
                   steps: Sequence[Step], session: StoredSession | None = None) -> CaptureState:
    """Run *steps* for one view in a fresh context, which is always closed afterwards.

    session: a logged-in view's storage state, given to the context and never written back.
    """
    token = secrets.token_hex(16)
    proxy.admit(token)
    try:
        await proxy.sync()
        options = _context_options(browser, view, out_dir, proxy, token, session)
        context = await browser.new_context(**options)
    except BaseException:
        proxy.retire(token)
        raise
    state: CaptureState | None = None
    try:
        # autoconsent only where a step looks for consent: it reads its rules and makes its passes in every
        # frame, work the browser need not do for a view that does not (a consent site on the way is
        # still refused by the fallback)
        watcher = await ConsentWatcher.attach(context) if dismiss_consent in steps else ConsentWatcher()
        page = await context.new_page()
        state = CaptureState(account=account, view=view, out_dir=out_dir, context=context, page=page, proxy=proxy,
                             token=token, consent_watcher=watcher, watch=PageWatch.attach(page),
                             session=session.info if session else None)
        context.on("page", lambda popup: _refuse_popup(state, popup))
        state.user_agent = options.get("user_agent") or await _default_user_agent(browser, page)
        for step in steps:
            if not await _run_step(state, step):
                break
        return state
    finally:
        await context.close()  # writes the HAR
        refused = await proxy.take_blocked(token)
        if state is not None:
            state.blocked = refused + [BlockedRequest(r.target, r.reason) for r in state.watch.refusals]


_DEFAULT_USER_AGENTS: WeakKeyDictionary[Browser, str] = WeakKeyDictionary()


async def _default_user_agent(browser: Browser, page: Page) -> str:
    """The User-Agent this browser sends when a context is given none: read once per browser, from a page
    that has loaded nothing yet (so as sent, whatever a page says)."""
    agent = _DEFAULT_USER_AGENTS.get(browser)
    if agent is None:
        agent = _DEFAULT_USER_AGENTS[browser] = await page.evaluate("() => navigator.userAgent")
    return agent


def _context_options(browser: Browser, view: View, out_dir: Path, proxy: EgressProxy, token: str,
                     session: StoredSession | None) -> dict[str, Any]:
    """The browser context of one view: its viewport, locale, proxy token, HAR and stored session."""
    options: dict[str, Any] = dict(
        viewport={"width": view.width, "height": view.height}, device_scale_factor=view.scale,
        is_mobile=view.mobile, has_touch=view.mobile, locale=LOCALE, timezone_id=TIMEZONE,
        service_workers="block", accept_downloads=False, color_scheme="light", proxy=proxy.settings_for(token),
    )
    if view.mobile:
        options["user_agent"] = MOBILE_USER_AGENT.format(major=browser.version.split(".")[0])
    if view.record_har:
        options.update(record_har_path=str(out_dir / f".{view.name}.har"), record_har_content="embed")
    if session is not None:
        options["storage_state"] = session.storage_state  # in memory, read only: never written back
    return options


async def _run_step(state: CaptureState, step: Step) -> bool:
    """Run one step under the view's step timeout and time it; False when the page is a wall."""
    view = state.view
    began = time.monotonic()
    try:
        await asyncio.wait_for(step(state), view.step_timeout_s)
    except TimeoutError as exc:
        raise CaptureError(f"step {step.__name__!r} took longer than {view.step_timeout_s:g} s") from exc
    except Blocked as blocked:
        state.wall = _expired_session(state, blocked.wall)
        await _wall_page(state)
        await _wall_evidence(state)
        return False
    finally:
        state.timings[f"{view.name}.{step.__name__}"] = round(time.monotonic() - began, 3)
    return True


def _expired_session(state: CaptureState, wall: Wall) -> Wall:
    """A login wall in spite of a saved login: the session expired, and the people who own the account can renew it."""
    if state.session is None or wall.kind != "login":
        return wall
    return Wall("session-expired", f"session expired: run `somearkiv login {state.account.id}` "
                                   f"(saved {state.session.saved_at:%Y-%m-%d} as {state.session.role}; {wall.reason})")


async def _wall_page(state: CaptureState) -> None:
    """Where the wall stood and what it called itself, for the record (bounded, best effort)."""
    url = state.page.url
    refused = state.wall is not None and state.wall.kind == "unsafe-target"  # where it was sent, never reached
    if refused or url.startswith(BROWSER_ERROR_SCHEMES) or url == "about:blank":  # the browser's page: not the wall's
        state.final_url = state.final_url or next((h.url for h in reversed(state.watch.hops) if h.kind != "error"), "")
        return
    state.final_url = url
    try:
        state.title = await asyncio.wait_for(state.page.title(), 5) or state.title
    except (TimeoutError, PlaywrightError):
        pass


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


def _refuse_popup(state: CaptureState, popup: Page) -> None:
    if popup is state.page:
        return
    state.popups += 1
    state.notes.append("a popup window was opened by the page and closed unseen")
    asyncio.ensure_future(popup.close())


async def capture_views(browser: Browser, account: Account, views: Sequence[tuple[View, Sequence[Step]]],
                        out_dir: Path, proxy: EgressProxy, session: StoredSession | None = None,
                        pages: asyncio.Semaphore | None = None) -> list[CaptureState]:
    """The views side by side, each in its own context, the desktop (primary) one first in the list.

    A capture takes about as long as its slowest view instead of their sum: most of a view's time
    is waiting (for a consent dialog that may come, for the page to stay still). *pages* bounds
    the pages open at once across captures (BrowserPool.page_slots): a view waits for a free one.
    A wall in the primary view ends the capture: the other views are stopped and their files
    removed; a view that fails fails the capture, and the others are stopped.
    """
    async def run(view: View, steps: Sequence[Step]) -> CaptureState:
        async with pages or contextlib.nullcontext():
            return await run_view(browser, account, view, out_dir, proxy, steps, session)

    runs = [asyncio.ensure_future(run(view, steps)) for view, steps in views]
    try:
        primary = await runs[0]
        if primary.wall is not None:  # nothing more to see
            await _stopped(runs[1:])
            _keep_only(out_dir, primary)
            return [primary]
        return [primary, *[await run for run in runs[1:]]]
    except BaseException:
        await _stopped(runs)
        raise


async def _stopped(runs: list[asyncio.Future]) -> None:
    """Cancel *runs* and wait until each has closed its context."""
    for run in runs:
        run.cancel()
    await asyncio.gather(*runs, return_exceptions=True)


def _keep_only(out_dir: Path, primary: CaptureState) -> None:
    """Remove what stopped views wrote: only the primary view's files stay (and the hidden HAR, for later)."""
    kept = {name for name, _role, _type in primary.outputs}
    for path in out_dir.iterdir():
        if path.is_file() and not path.name.startswith(".") and path.name not in kept:
            path.unlink()
