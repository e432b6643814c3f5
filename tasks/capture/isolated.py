"""Run our page-reading scripts in an isolated world, where the page's own scripts cannot reach them.

A page may overwrite the built-ins a reading script uses (``Element.prototype.setAttribute``,
``document.querySelectorAll``, ``getComputedStyle``, ...): old libraries do it by accident, a
hostile page on purpose, to break the capture or to make it read something else. Chromium's
isolated worlds share the page's DOM but not its JavaScript: the same nodes, with fresh
prototypes and globals. Playwright runs its own selectors in such a world but offers none to
``evaluate``, so one is made over the Chrome DevTools Protocol (``Page.createIsolatedWorld``),
once per document, and reused while the document stays.

A world's execution-context id is only unique within one renderer process: after a navigation
to another process the same number may name some other context there (the page's own world,
a frame's). So each world is marked with a random token when it is made, and every script
first checks it is in the world with that token; when not, a fresh world is made.

What must act as the visitor's browser would does so from here too: a scroll, or a scroll event
dispatched from this world, reaches the page's listeners like any other.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any
from weakref import WeakKeyDictionary

from playwright.async_api import CDPSession, Page
from playwright.async_api import Error as PlaywrightError

__all__ = ["read"]

_WORLD = "somearkiv-reader"
_MARK = "__somearkivReader"
_STALE = "somearkiv: not our world"
_GONE = ("Cannot find context", "Execution context was destroyed", _STALE)
_readers: WeakKeyDictionary[Page, _Reader] = WeakKeyDictionary()


class _Reader:
    """One page's CDP session and the isolated world made in its current document."""

    def __init__(self) -> None:
        self.session: CDPSession | None = None
        self.context_id: int | None = None
        self.token = secrets.token_hex(16)
        self.lock = asyncio.Lock()  # one read at a time per page: one session, one world

    async def world(self, page: Page, fresh: bool) -> tuple[int, bool]:
        """The world's context id, and whether it was made just now (not yet marked)."""
        if self.session is None:
            self.session = await page.context.new_cdp_session(page)
        if self.context_id is None or fresh:
            tree = await self.session.send("Page.getFrameTree")
            made = await self.session.send("Page.createIsolatedWorld", {
                "frameId": tree["frameTree"]["frame"]["id"], "worldName": _WORLD, "grantUniveralAccess": False})
            self.context_id = made["executionContextId"]
            return self.context_id, True
        return self.context_id, False


async def read(page: Page, function: str, arg: Any = None) -> Any:
    """``function(arg)`` evaluated in the page's main frame, in the isolated world; its value (JSON).

    A promise is awaited. Raises playwright's Error when the script throws or the page is gone,
    as ``page.evaluate`` does. A world made just now is marked by this same evaluation.
    """
    reader = _readers.get(page)
    if reader is None:
        reader = _readers[page] = _Reader()
        # the reader's CDP session leads back to the page (session -> context -> pages), so the weak key
        # alone never let go: every page read so far, with its context, stayed in memory (~1 MB per capture)
        page.once("close", lambda closed: _readers.pop(closed, None))
    mark, token, stale = f"globalThis[{json.dumps(_MARK)}]", json.dumps(reader.token), json.dumps(_STALE)
    call = f"return ({function})({json.dumps(arg, ensure_ascii=False)});"
    async with reader.lock:
        for fresh in (False, True):  # the world goes with its document: a new document needs a new one
            try:
                context_id, made = await reader.world(page, fresh)
                check = f"{mark} = {token};" if made else f"if ({mark} !== {token}) throw new Error({stale});"
                assert reader.session is not None
                answer = await reader.session.send("Runtime.evaluate", {
                    "expression": f"(() => {{ {check} {call} }})()", "contextId": context_id, "returnByValue": True,
                    "awaitPromise": True})
            except PlaywrightError as exc:
                if not fresh and any(m in str(exc) for m in _GONE):
                    continue
                raise
            if "exceptionDetails" in answer:
                details = answer["exceptionDetails"]
                message = (details.get("exception") or {}).get("description") or details.get("text") or "script error"
                if not fresh and _STALE in message:
                    continue
                raise PlaywrightError(f"reading the page failed: {message.splitlines()[0][:300]}")
            return answer["result"].get("value")
    raise PlaywrightError("reading the page failed: no world of ours could be made in it")
