"""Run our page-reading scripts in an isolated world, where the page's own scripts cannot reach them.

A page may overwrite the built-ins a reading script uses (``Element.prototype.setAttribute``,
``document.querySelectorAll``, ``getComputedStyle``, ...): old libraries do it by accident, a
hostile page on purpose, to break the capture or to make it read something else. Chromium's
isolated worlds share the page's DOM but not its JavaScript: the same nodes, with fresh
prototypes and globals. Playwright runs its own selectors in such a world but offers none to
``evaluate``, so one is made over the Chrome DevTools Protocol (``Page.createIsolatedWorld``),
once per document, and reused while the document stays.

Only reading goes here. What must act as the visitor's browser would (scrolling, the scroll
event a feed listens for) stays in the page's world.
"""

from __future__ import annotations

import json
from typing import Any
from weakref import WeakKeyDictionary

from playwright.async_api import CDPSession, Page
from playwright.async_api import Error as PlaywrightError

__all__ = ["read"]

_WORLD = "somearkiv-reader"
_sessions: WeakKeyDictionary[Page, _Reader] = WeakKeyDictionary()


class _Reader:
    """One page's CDP session and the isolated world made in its current document."""

    def __init__(self, session: CDPSession) -> None:
        self.session = session
        self.context_id: int | None = None

    async def world(self, fresh: bool = False) -> int:
        if self.context_id is None or fresh:
            tree = await self.session.send("Page.getFrameTree")
            made = await self.session.send("Page.createIsolatedWorld", {
                "frameId": tree["frameTree"]["frame"]["id"], "worldName": _WORLD, "grantUniveralAccess": False})
            self.context_id = made["executionContextId"]
        return self.context_id


async def read(page: Page, function: str, arg: Any = None) -> Any:
    """``function(arg)`` evaluated in the page's main frame, in the isolated world; its value (JSON).

    A promise is awaited. Raises playwright's Error when the script throws or the page is gone,
    as ``page.evaluate`` does.
    """
    reader = _sessions.get(page)
    if reader is None:
        reader = _sessions[page] = _Reader(await page.context.new_cdp_session(page))
    expression = f"({function})({json.dumps(arg, ensure_ascii=False)})"
    for fresh in (False, True):  # the world goes with its document: a new document needs a new one
        try:
            answer = await reader.session.send("Runtime.evaluate", {
                "expression": expression, "contextId": await reader.world(fresh), "returnByValue": True,
                "awaitPromise": True})
        except PlaywrightError as exc:
            if not fresh and "context" in str(exc).lower():
                continue
            raise
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            message = (details.get("exception") or {}).get("description") or details.get("text") or "script error"
            raise PlaywrightError(f"reading the page failed: {message.splitlines()[0][:300]}")
        return answer["result"].get("value")
    raise AssertionError("unreachable")
