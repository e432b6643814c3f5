"""Cookie and consent walls: record them, then dismiss them by refusing, never by accepting.

The maintained rule set is DuckDuckGo's autoconsent (vendored in tasks/vendor/autoconsent),
run as Playwright content script with ``autoAction: None``: it tells us which consent
platform it found, we take a viewport screenshot of the popup as evidence, and only then ask
it to opt out. When it finds nothing, a fallback looks for a visible consent dialog and a
button that rejects or keeps only the necessary cookies (Swedish and English). A button that
accepts is never clicked.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Frame, Page
from playwright.async_api import Error as PlaywrightError

__all__ = ["ConsentFinding", "ConsentWatcher", "REJECT_BUTTON", "ACCEPT_BUTTON"]

_VENDOR = Path(__file__).parent.parent / "vendor" / "autoconsent"  # tasks/vendor/autoconsent (package data)

# Buttons that refuse, or keep only what is necessary. Matched against the accessible name.
REJECT_BUTTON = re.compile(
    r"^\s*(avvisa( alla)?|avböj( alla)?|neka( alla)?|(endast|bara|enbart) (nödvändiga|nödvändig)( cookies| kakor)?"
    r"|tillåt endast nödvändiga( cookies| kakor)?|använd endast nödvändiga( cookies| kakor)?"
    r"|reject( all)?( cookies)?|decline( all)?|deny( all)?|refuse( all)?|only (necessary|essential)( cookies)?"
    r"|(necessary|essential) (cookies )?only|use necessary cookies only|allow (only )?necessary( cookies)?"
    r"|continue without accepting|fortsätt utan att (acceptera|godkänna))\s*$",
    re.IGNORECASE,
)
ACCEPT_BUTTON = re.compile(r"acceptera|godkänn|tillåt alla|accept|allow all|agree|ok\b|jag förstår", re.IGNORECASE)

_CONSENT_DIALOG = (
    "[role=dialog], [role=alertdialog], [aria-modal=true], [id*=cookie i], [class*=cookie i], "
    "[id*=consent i], [class*=consent i], [id*=gdpr i], [class*=gdpr i]"
)
_CONSENT_WORDS = re.compile(r"cookie|kakor|samtycke|consent|personuppgifter|gdpr", re.IGNORECASE)

_CONFIG = {
    "enabled": True,
    "autoAction": None,  # we decide when: after the evidence screenshot
    "disabledCmps": [],
    "enablePrehide": False,  # the popup must stay visible for the evidence screenshot
    "enableCosmeticRules": True,
    "enableGeneratedRules": True,
    "enableHeuristicDetection": True,
    "heuristicMode": "tier2",
    "detectRetries": 12,
    "isMainWorld": False,
    "prehideTimeout": 2000,
    "logs": {"lifecycle": False, "rulesteps": False, "detectionsteps": False, "evals": False, "errors": False,
             "messages": False, "waits": False},
}


@cache
def _script() -> str:
    return (_VENDOR / "autoconsent.playwright.js").read_text(encoding="utf-8")


@cache
def _rules() -> dict[str, Any]:
    """The maintained rule set in its compact form (a third of the JSON rules' size: faster to hand over)."""
    compact = json.loads((_VENDOR / "compact-rules.json").read_text(encoding="utf-8"))
    return {"compact": {key: compact[key] for key in ("v", "s", "r")}}


@cache
def _init_response() -> str:
    """autoconsent's init answer (config and rules), as JSON text made once per process."""
    return json.dumps({"type": "initResp", "config": _CONFIG, "rules": _rules()}, separators=(",", ":"))


def autoconsent_version() -> str:
    return (_VENDOR / "VERSION").read_text().strip()


@dataclass
class ConsentFinding:
    """What was found and done about consent, for the capture record."""

    found: bool = False
    method: str | None = None  # "autoconsent" or "fallback"
    platform: str | None = None  # the consent platform (CMP) autoconsent named
    action: str | None = None  # what was clicked / done
    dismissed: bool = False
    evidence: str | None = None  # file name of the screenshot taken before dismissal
    errors: list[str] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], False) or k in ("found", "dismissed")}


class ConsentWatcher:
    """Listens to autoconsent's messages for one browser context."""

    def __init__(self) -> None:
        self.cmps: list[str] = []
        self.popup: tuple[str, Frame] | None = None
        self.results: list[dict[str, Any]] = []
        self.main_lifecycle: str | None = None
        self.changed = asyncio.Event()

    @classmethod
    async def attach(cls, context: BrowserContext) -> ConsentWatcher:
        watcher = cls()
        await context.expose_binding("autoconsentSendMessage", watcher._on_message)
        await context.add_init_script(script=_script())
        return watcher

    async def _send(self, frame: Frame, message: dict[str, Any] | str) -> None:
        """Hand *message* (an object, or the same as JSON text) to autoconsent in *frame*.

        Large messages go as text: Playwright serialises an object argument value by value, and
        the rule set (250 KB) took ~0.7 s per page that way (measured); JSON.parse takes ms.
        """
        code = ("m => window.autoconsentReceiveMessage && window.autoconsentReceiveMessage("
                + ("JSON.parse(m))" if isinstance(message, str) else "m)"))
        try:
            await frame.evaluate(code, message)
        except PlaywrightError:
            pass  # the frame navigated away

    async def _on_message(self, source: dict[str, Any], message: Any) -> None:
        if not isinstance(message, dict):
            return
        frame: Frame = source["frame"]
        kind = message.get("type")
        if kind == "init":
            if frame.url in ("", "about:blank"):
                return  # the empty page a new tab starts with: nothing to look at, and it costs time
            await self._send(frame, _init_response())
        elif kind == "eval":
            try:
                result = await frame.evaluate(message["code"])
            except PlaywrightError:
                result = False
            await self._send(frame, {"type": "evalResp", "id": message["id"], "result": result})
        elif kind == "cmpDetected":
            self.cmps.append(message.get("cmp", "?"))
        elif kind == "popupFound" and self.popup is None:
            self.popup = (message.get("cmp", "?"), frame)
        elif kind in ("optOutResult", "autoconsentDone", "autoconsentError"):
            self.results.append(message)
        elif kind == "report" and message.get("mainFrame"):
            self.main_lifecycle = (message.get("state") or {}).get("lifecycle")
        self.changed.set()

    async def _wait(self, predicate, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.25))
            except TimeoutError:
                pass
        return True

    async def dismiss(self, page: Page, evidence_path: Path, detect_timeout: float = 4.0,
                      look_s: float = 1.0) -> ConsentFinding:
        """Find a consent popup, screenshot it, refuse it. Bounded in time.

        look_s: how long to look for a consent platform after load (its markup is normally there
        by then; measured: detection takes 0.4-0.6 s). detect_timeout: how long to wait for a
        detected platform's popup to show.
        """
        finding = ConsentFinding()
        await self._wait(lambda: self.popup is not None or bool(self.cmps) or self.main_lifecycle == "nothingDetected",
                         min(detect_timeout, look_s))
        if self.cmps and self.popup is None:
            await self._wait(lambda: self.popup is not None, detect_timeout)
        if self.popup is not None:
            platform, frame = self.popup
            finding.found, finding.method, finding.platform = True, "autoconsent", platform
            await page.screenshot(path=evidence_path, type="png")
            finding.evidence = evidence_path.name
            await self._send(frame, {"type": "optOut"})
            await self._wait(lambda: any(r["type"] in ("autoconsentDone", "optOutResult", "autoconsentError")
                                         for r in self.results), 8.0)
            for result in self.results:
                if result["type"] == "optOutResult":
                    finding.dismissed = bool(result.get("result"))
                    finding.action = "opt-out (reject / necessary only) by the platform's rule"
                elif result["type"] == "autoconsentError":
                    finding.errors.append(str(result.get("details"))[:300])
            if finding.dismissed:
                await page.wait_for_timeout(300)  # let the dialog's closing transition end
                return finding
        return await _fallback(page, evidence_path, finding)


async def _fallback(page: Page, evidence_path: Path, finding: ConsentFinding) -> ConsentFinding:
    """A visible consent dialog autoconsent does not know: click its reject button, if it has one."""
    dialogs = page.locator(_CONSENT_DIALOG)
    for i in range(min(await dialogs.count(), 20)):
        dialog = dialogs.nth(i)
        try:
            if not await dialog.is_visible() or not _CONSENT_WORDS.search(await dialog.inner_text(timeout=1000)):
                continue
        except PlaywrightError:
            continue
        finding.found = True
        finding.method = finding.method or "fallback"
        button = dialog.get_by_role("button", name=REJECT_BUTTON).or_(dialog.get_by_role("link", name=REJECT_BUTTON))
        if not await button.count():
            finding.action = "consent dialog found, but no button that refuses; left as it is"
            continue
        if finding.evidence is None:
            await page.screenshot(path=evidence_path, type="png")
            finding.evidence = evidence_path.name
        target = button.first
        label = (await target.inner_text(timeout=1000)).strip()
        if ACCEPT_BUTTON.search(label) and not REJECT_BUTTON.search(label):
            continue
        await target.click(timeout=3000)
        await page.wait_for_timeout(300)
        finding.method, finding.action = "fallback", f"clicked {label!r}"
        finding.dismissed = not await dialog.is_visible()
        if finding.dismissed:
            break
    return finding
