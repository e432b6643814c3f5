"""What the page did while we looked at it: where its main frame went, what is still loading, what the browser refused.

Playwright's events are the source: navigation requests of the main frame give the hops
(load, HTTP redirect, a later navigation by meta refresh or script), ``framenavigated`` to an
address no request asked for is a history change (pushState) or the browser's own error page,
and requests in flight say whether the network is idle. Requests the browser refuses itself
never reach the egress proxy (``file:`` and other local schemes, unsafe redirects): they are
read from failed requests and from Chromium's console message, so the record lists refusals of
every scheme.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from playwright.async_api import ConsoleMessage, Frame, Page, Request, Response

from somearkiv.models import Hop

__all__ = ["BROWSER_ERROR_SCHEMES", "PageWatch", "Refusal"]

BROWSER_ERROR_SCHEMES = ("chrome-error:", "chrome:", "about:neterror")
_LOCAL_RESOURCE = re.compile(r"Not allowed to load local resource: (\S+)")
_LONG_POLL_S = 10.0  # a request open longer than this is a stream or long poll, not loading
# Chromium's own refusals (not the network's failures): the record lists them with the egress guard's
_REFUSED = ("UNSAFE_REDIRECT", "UNSAFE_PORT", "ACCESS_DENIED", "BLOCKED_BY", "DISALLOWED_URL_SCHEME", "INVALID_URL")


@dataclass(frozen=True)
class Refusal:
    target: str
    reason: str


@dataclass
class PageWatch:
    """Listens to one page's events from before its first navigation until the shot."""

    page: Page
    hops: list[Hop] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    navigation_errors: list[str] = field(default_factory=list)
    documents: int = 0  # main-frame documents committed so far
    _in_flight: dict[Request, float] = field(default_factory=dict)
    _last_done: float = 0.0  # when the last fetch/XHR ended well (its answer may not be on the page yet)
    _pending: int | None = None  # the hop whose document is asked for but not yet shown

    @classmethod
    def attach(cls, page: Page) -> PageWatch:
        watch = cls(page)
        page.on("request", watch._on_request)
        page.on("requestfinished", watch._on_done)
        page.on("requestfailed", watch._on_failed)
        page.on("response", watch._on_response)
        page.on("framenavigated", watch._on_navigated)
        page.on("console", watch._on_console)
        return watch

    def _main(self, frame: Frame | None) -> bool:
        return frame is not None and frame == self.page.main_frame

    def _on_request(self, request: Request) -> None:
        self._in_flight[request] = time.monotonic()
        if request.is_navigation_request() and self._main(_frame(request)):
            kind = "redirect" if request.redirected_from else ("load" if not self.hops else "navigation")
            self.hops.append(Hop(url=request.url, kind=kind))
            self._pending = len(self.hops) - 1

    def _on_done(self, request: Request) -> None:
        if self._in_flight.pop(request, None) is not None and request.resource_type in ("fetch", "xhr"):
            self._last_done = time.monotonic()  # a feed's batch comes this way (not a beacon, image or font)

    def _on_failed(self, request: Request) -> None:
        self._in_flight.pop(request, None)
        failure = request.failure or "failed"
        if request.is_navigation_request() and self._main(_frame(request)):
            self.navigation_errors.append(f"{request.url}: {failure}")
        if not request.url.startswith(("http:", "https:")) or any(code in failure for code in _REFUSED):
            self._refused(request.url, f"the browser refused it ({failure})")

    def _on_response(self, response: Response) -> None:
        request = response.request
        if request.is_navigation_request() and self._main(_frame(request)):
            for i in range(len(self.hops) - 1, -1, -1):
                if self.hops[i].url == request.url and self.hops[i].http_status is None:
                    self.hops[i] = self.hops[i].model_copy(update={"http_status": response.status})
                    break

    def _on_navigated(self, frame: Frame) -> None:
        if not self._main(frame):
            return
        url = frame.url
        if url.startswith(BROWSER_ERROR_SCHEMES):
            self.hops.append(Hop(url=url, kind="error"))
            self.documents += 1
        elif self._pending is not None and self.hops[self._pending].url == url:
            self.documents += 1  # the document a navigation request asked for is now shown
        elif not self.hops or self.hops[-1].url != url:
            self.hops.append(Hop(url=url, kind="history"))  # pushState / replaceState / #fragment
        self._pending = None

    def _on_console(self, message: ConsoleMessage) -> None:
        match = _LOCAL_RESOURCE.search(message.text)
        if match:
            self._refused(match.group(1), "the browser refused a local resource")

    def _refused(self, target: str, reason: str) -> None:
        if all(r.target != target for r in self.refusals):
            self.refusals.append(Refusal(target, reason))

    def network_idle(self, grace_s: float = 0.0) -> bool:
        """No request in flight, leaving out streams and long polls; and, with *grace_s*, no fetch or
        XHR ended that recently (a feed's answer is put on the page a moment after it arrives)."""
        now = time.monotonic()
        if grace_s and now - self._last_done < grace_s:
            return False
        return not any(now - began < _LONG_POLL_S for began in self._in_flight.values())

    @property
    def current_status(self) -> int | None:
        """The HTTP status of the document now shown (None for a history change with no request)."""
        for hop in reversed(self.hops):
            if hop.kind in ("load", "redirect", "navigation"):
                return hop.http_status
        return None


def _frame(request: Request) -> Frame | None:
    try:
        return request.frame
    except Exception:  # a service worker's request has no frame
        return None
