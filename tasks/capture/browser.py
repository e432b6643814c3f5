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
import os
import re
import secrets
import shutil
import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import playwright
from playwright.async_api import Browser, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from somearkiv.log import get_logger
from tasks.capture.egress import EgressPolicy, EgressProxy

if TYPE_CHECKING:
    from somearkiv.settings import Settings

__all__ = ["BrowserPool", "browser_slot", "close_pool", "find_browser", "get_pool", "launch_args"]

T = TypeVar("T")

# Chromium still calls Google hosts in the background; answer those lookups locally.
_RESOLVER_RULES = (
    "--host-resolver-rules=MAP accounts.google.com ~NOTFOUND, MAP update.googleapis.com ~NOTFOUND, "
    "MAP clients2.google.com ~NOTFOUND, MAP optimizationguide-pa.googleapis.com ~NOTFOUND, "
    "MAP content-autofill.googleapis.com ~NOTFOUND"
)
# Features turned off beside the ones Playwright turns off itself (see launch_args).
# The WebUI omnibox popups: headless Chromium (the full browser, not Playwright's headless shell)
# preloads a page of browser UI for the address bar's popup in every window, in a renderer of its
# own. No one types in that address bar. Measured on Chromium 156, 12 captures at c=1: renderers
# 2.99 -> 0.96 CPU-s per capture, the whole pipeline 7.4 -> 4.8 CPU-s and 5.3 -> 4.1 s per
# capture; at four captures at once four renderers fewer. Names Chromium does not know are ignored.
_OMNIBOX_WEBUI = ("WebUIOmniboxPopup", "WebUIOmniboxFullPopup", "WebUIOmniboxAimPopup")
OWN_DISABLED_FEATURES = ("Translate", "MediaRouter", "OptimizationHints", "AutofillServerCommunication",
                         *_OMNIBOX_WEBUI)
# Playwright 1.65's own list, for a driver whose list cannot be read (see playwright_disabled_features).
_PLAYWRIGHT_1_65_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding", "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin", "OptimizationHints", "NetworkTimeServiceQuerying",
    "AimEnabled", "PreconnectToSearch",
)
_DRIVER_PACKAGE = Path(playwright.__file__).parent / "driver" / "package"
_DRIVER_SOURCES = ("lib/coreBundle.js", "lib/server/chromium/chromiumSwitches.js")  # 1.65; older drivers


@cache
def playwright_disabled_features() -> tuple[str, ...]:
    """The Chromium features the installed Playwright driver turns off, read from its source.

    Playwright does not export the list, and it changes between releases (it keeps http://
    pages on HTTP, turns off paint holding and third-party storage partitioning, and stops
    Chromium's calls to Google at start-up)."""
    for name in _DRIVER_SOURCES:
        try:
            source = (_DRIVER_PACKAGE / name).read_text(encoding="utf-8")
        except OSError:
            continue
        found = re.search(r"\bdisabledFeatures = (?:\w+ => |\([^)]*\) => )?\[(.*?)\]", source, re.S)
        names = re.findall(r'"(\w+)"', re.sub(r"//[^\n]*", "", found.group(1))) if found else []
        if names:
            return tuple(names)
    return _PLAYWRIGHT_1_65_DISABLED_FEATURES


@cache
def launch_args() -> tuple[str, ...]:
    """Chromium's arguments beside Playwright's own; our ``--disable-features`` carries Playwright's list too.

    Chromium keeps only the last ``--disable-features`` on its command line, and Playwright puts
    its own before the caller's arguments: a list of ours alone would silently turn Playwright's
    features back on (measured on Chromium 156: of two switches, only the second took effect)."""
    features = dict.fromkeys((*playwright_disabled_features(), *OWN_DISABLED_FEATURES))
    return (_RESOLVER_RULES, "--disable-component-update", "--no-first-run",
            "--disable-features=" + ",".join(features))


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


# Works (captures, renderings) one browser and its Playwright driver serve before both are
# started afresh. Measured: over 110 captures the driver grew by 72 MB and the browser's own
# processes by 53 MB; a worker's round can be thousands of captures long. (Within the first
# 100 the growth stays: the peak over a 120-account round was the same with and without.)
RECYCLE_AFTER = 100
# Playwright's driver is a node process; V8's young generation (up to 16 MB per semi-space by
# default) is most of what it holds between captures. Measured at 4 captures at once: the
# driver's PSS 198 -> 130 MB with 2 MB semi-spaces, its CPU the same. Its old generation is kept
# level by driver_gc.js (why: there): over a 50-account round at 2 captures at once the driver's
# PSS rose from 120 to 200 MB before V8 collected, and stayed at 121-127 MB with it. A NODE_OPTIONS
# of the operator's own is left as it is.
DRIVER_GC = Path(__file__).with_name("driver_gc.js")  # package data


def _node_quoted(text: str) -> str:
    """*text* as one argument in NODE_OPTIONS: in double quotes, its backslashes and quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# (without the file, as in a copy that lost its package data, node would refuse to start: then without it)
DRIVER_NODE_OPTIONS = "--max-semi-space-size=2" + (f" --require {_node_quoted(str(DRIVER_GC))}"
                                                   if DRIVER_GC.is_file() else "")


def default_pages() -> int:
    """Pages open at once in the browser: two per core (a page waits about half its time)."""
    return max(2, 2 * (os.cpu_count() or 1))


async def _start_driver() -> Playwright:
    """Start Playwright's driver with DRIVER_NODE_OPTIONS in its environment (only in its: the
    environment is put back once the driver has started)."""
    if "NODE_OPTIONS" in os.environ:
        return await async_playwright().start()
    os.environ["NODE_OPTIONS"] = DRIVER_NODE_OPTIONS
    try:
        return await async_playwright().start()
    finally:
        os.environ.pop("NODE_OPTIONS", None)


class BrowserPool:
    """One browser (and its Playwright driver) for the process, in a thread of its own.

    At most *max_concurrent* works (captures) at once, and at most *pages* pages open at once
    across them: a capture's views run side by side while pages are free, one after the other
    when they are not. More pages than the cores can keep busy only cost memory (measured: 8
    pages at 4 captures on 2 cores gave no more captures per minute than 4, and 0.4 GB more).
    """

    def __init__(self, executable_path: str | None, max_concurrent: int = 2, policy: EgressPolicy | None = None,
                 recycle_after: int = RECYCLE_AFTER, pages: int = 0):
        self.executable_path = executable_path
        self.max_concurrent = max_concurrent
        self.pages = pages or default_pages()
        self.page_slots: asyncio.Semaphore | None = None
        self.recycle_after = recycle_after
        self.proxy = EgressProxy(policy or EgressPolicy())
        # the browser's own proxy token, for a context made without one of its own (the views all have theirs)
        self._browser_token = secrets.token_hex(16)
        self.proxy.admit(self._browser_token)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="somearkiv-browser", daemon=True)
        self._thread.start()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._launch_lock: asyncio.Lock | None = None
        self._idle: asyncio.Event | None = None
        self._running = 0
        self._served = 0  # works given the current browser
        self.launches = 0
        self._version: str | None = None

    def _primitives(self) -> None:
        """The pool's asyncio primitives, made in its own loop on first use."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrent)
            self.page_slots = asyncio.Semaphore(self.pages)
            self._launch_lock = asyncio.Lock()
            self._idle = asyncio.Event()
            self._idle.set()

    async def _ensure_browser(self) -> Browser:
        assert self._launch_lock is not None and self._idle is not None
        async with self._launch_lock:
            await self.proxy.start()  # in step with the latest policy; started (again, if it ended)
            if self._browser is not None and self._served >= self.recycle_after:
                await self._idle.wait()  # new works wait here while the last ones on the old browser end
                await self._stop_browser()
            if self._browser is None or not self._browser.is_connected():
                await self._launch()
            self._served += 1
            return self._browser

    async def _launch(self) -> None:
        """A browser (and, if none runs, its driver) started; it has served no work yet."""
        if self._playwright is None:
            self._playwright = await _start_driver()
        self._browser = await self._playwright.chromium.launch(
            executable_path=self.executable_path, headless=True, args=launch_args(),
            proxy=self.proxy.settings_for(self._browser_token),
        )
        self._version = self._browser.version
        self._served = 0
        self.launches += 1  # last: a reader that sees the launch sees its version

    def warm(self) -> None:
        """Start the egress proxy, the driver and the browser now if none runs, and return at once.

        A round calls this as it begins, so the browser's start (about a second: Playwright's
        driver and Chromium) overlaps the round's own set-up instead of coming after it, in its
        first capture. A start that fails is left to that capture, which tries again and reports
        why; a work that comes meanwhile finds the start under way and waits for it. A browser
        that is due to be started afresh (RECYCLE_AFTER) is left to the next work. Never raises.
        """
        warming = self._warm()
        try:
            asyncio.run_coroutine_threadsafe(warming, self._loop)
        except RuntimeError:  # closed meanwhile: nothing to warm
            warming.close()

    async def _warm(self) -> None:
        self._primitives()
        assert self._launch_lock is not None
        async with self._launch_lock:
            try:
                await self.proxy.start()
                if self._browser is None or not self._browser.is_connected():
                    await self._launch()
            except Exception as exc:  # noqa: BLE001 - the first capture meets it again and reports it
                get_logger().debug("browser.warm_failed", error=type(exc).__name__)

    async def _stop_browser(self) -> None:
        """Close the browser and stop its driver (the next work starts both afresh)."""
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        try:
            if browser is not None:
                await browser.close()
        except PlaywrightError:
            pass  # it had died already (a crash): it is being let go either way
        finally:
            if playwright is not None:
                await playwright.stop()

    async def _guarded(self, work: Callable[[Browser], Awaitable[T]]) -> T:
        self._primitives()
        assert self._semaphore is not None
        async with self._semaphore:
            browser = await self._ensure_browser()
            self._running += 1
            self._idle.clear()
            try:
                return await work(browser)
            finally:
                self._running -= 1
                if not self._running:
                    self._idle.set()

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
        """The version of the browser launched last (kept while it is started afresh)."""
        return self._version

    def close(self) -> None:
        async def _close() -> None:
            try:
                if self._launch_lock is None:
                    await self._stop_browser()
                else:
                    async with self._launch_lock:  # a start under way (warm) ends first, then is stopped
                        await self._stop_browser()
            finally:
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


def get_pool(executable_path: str | None, max_concurrent: int, policy: EgressPolicy, pages: int = 0) -> BrowserPool:
    """The process's shared pool (made on first use; the egress policy is the latest one given)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = BrowserPool(executable_path, max_concurrent, policy, pages=pages)
        _pool.proxy.policy = policy
        return _pool


def shared_pool(settings: Settings, policy: EgressPolicy) -> BrowserPool:
    """The process's shared pool, made with *settings*' browser, concurrency and page budget."""
    return get_pool(find_browser(settings.browser_path), settings.capture_concurrency, policy, settings.browser_pages)


def close_pool() -> None:
    """Close the process's pool, if one was made (end of a CLI command or test session)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None


def browser_slot(settings: Settings) -> AbstractContextManager[object]:
    """A slot of the Prefect global concurrency limit that bounds browsers across workers
    (SOMEARKIV_BROWSER_CONCURRENCY_LIMIT), held for a capture or a watch; nothing when it is unset.

    The browser tasks carry no tag for this: a tagged task run asks Prefect's server for a slot
    of a tag limit on every run, even when no such limit exists, and on the local SQLite server
    that request at times waited about 2 s before the capture could start (measured: 5 of 18
    first captures of a round; none of 15 without the tag).
    """
    if not settings.browser_concurrency_limit:
        return nullcontext()
    from prefect.concurrency.sync import concurrency

    return concurrency(settings.browser_concurrency_limit, occupy=1, strict=True)
