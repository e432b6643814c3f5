"""One Chromium per process, shared by every capture task, whatever thread it runs in.

Prefect runs tasks in worker threads, and Playwright objects belong to the event loop that
made them. So the browser lives in a private event-loop thread; a task hands it a coroutine
and waits for the answer. A semaphore bounds how many captures run at once (the machine is
CPU-bound at about two renders per two cores), and a browser that crashed is started again
for the next capture. All of the browser's traffic goes through the egress guard's proxy
(tasks.capture.egress), which runs in the same loop.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from playwright.async_api import Browser, Playwright, async_playwright

from tasks.capture.egress import EgressPolicy, EgressProxy

__all__ = ["BrowserPool", "close_pool", "find_browser", "get_pool", "LAUNCH_ARGS"]

T = TypeVar("T")

# Chromium still calls Google hosts in the background; answer those lookups locally.
LAUNCH_ARGS = [
    "--host-resolver-rules=MAP accounts.google.com ~NOTFOUND, MAP update.googleapis.com ~NOTFOUND, "
    "MAP clients2.google.com ~NOTFOUND, MAP optimizationguide-pa.googleapis.com ~NOTFOUND, "
    "MAP content-autofill.googleapis.com ~NOTFOUND",
    "--disable-component-update",
    "--no-first-run",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
]

_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser")


def find_browser(configured: str | None = None) -> str | None:
    """The Chromium binary to drive: the configured one, Debian's, or None for Playwright's own.

    Debian's /usr/bin/chromium is a wrapper script that adds flags of its own, so the real
    binary under /usr/lib is preferred.
    """
    if configured:
        if not Path(configured).exists() and not shutil.which(configured):
            raise FileNotFoundError(f"browser_path {configured!r} does not exist")
        return configured
    for candidate in _CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return None


class BrowserPool:
    def __init__(self, executable_path: str | None, max_concurrent: int = 2, policy: EgressPolicy | None = None):
        self.executable_path = executable_path
        self.max_concurrent = max_concurrent
        self.proxy = EgressProxy(policy or EgressPolicy())
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="somearkiv-browser", daemon=True)
        self._thread.start()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._launch_lock: asyncio.Lock | None = None
        self.launches = 0

    async def _ensure_browser(self) -> Browser:
        assert self._launch_lock is not None
        async with self._launch_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._playwright is None:
                self._playwright = await async_playwright().start()
                await self.proxy.start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.executable_path, headless=True, args=LAUNCH_ARGS,
                proxy=self.proxy.settings_for("browser"),
            )
            self.launches += 1
            return self._browser

    async def _guarded(self, work: Callable[[Browser], Awaitable[T]]) -> T:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrent)
            self._launch_lock = asyncio.Lock()
        async with self._semaphore:
            browser = await self._ensure_browser()
            return await work(browser)

    def run(self, work: Callable[[Browser], Awaitable[T]], timeout: float) -> T:
        """Run *work(browser)* in the browser thread; wait at most *timeout* seconds for it."""
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(self._guarded(work), timeout), self._loop)
        try:
            return future.result(timeout + 10)
        except TimeoutError:
            future.cancel()
            raise

    @property
    def browser_version(self) -> str | None:
        return self._browser.version if self._browser is not None else None

    def close(self) -> None:
        async def _close() -> None:
            if self._browser is not None:
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()
            await self.proxy.stop()

        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(_close(), self._loop).result(30)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(10)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()
        self._browser = self._playwright = None


_pool: BrowserPool | None = None
_pool_lock = threading.Lock()


def get_pool(executable_path: str | None, max_concurrent: int, policy: EgressPolicy) -> BrowserPool:
    """The process's shared pool (made on first use; the egress policy is the latest one given)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = BrowserPool(executable_path, max_concurrent, policy)
        _pool.proxy.policy = policy
        return _pool


def close_pool() -> None:
    """Close the process's pool, if one was made (end of a CLI command or test session)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None
