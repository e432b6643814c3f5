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
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Frame, Locator, Page
from playwright.async_api import Error as PlaywrightError

from tasks.capture.overlay import veil_present

__all__ = ["ACCEPT_BUTTON", "ConsentFinding", "ConsentWatcher", "REJECT_BUTTON", "SAVE_CHOICES",
           "SETTINGS_BUTTON"]

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
    # its heuristics act only on a popup with a button that refuses: on one without, their opt-out clicks
    # "acknowledge" or "accept" (autoconsent's HEURISTIC-TIER1/-TIER2); the fallback then says it was left as it is
    "heuristicMode": "reject",
    # two passes (the rules, then the heuristics on the second): then "nothingDetected", which ends the look
    # early; more passes would only run after the look is over, and no one reads them (measured: the
    # look on a page without a dialog 1.05 -> 0.6 s, the same findings on the consent samples)
    "detectRetries": 1,
    "isMainWorld": False,
    "prehideTimeout": 2000,
    "logs": {"lifecycle": False, "rulesteps": False, "detectionsteps": False, "evals": False, "errors": False,
             "messages": False, "waits": False},
}


# One change to autoconsent, made when its script is read (the file stays as published; see its README): its
# second pass comes as soon as the page has stayed still for STILL_MS after the first (no element, attribute or
# text changed), and at the latest after its own half second, as before. A page that is still needs no half
# second to show what a second look would find; one that changes gets the whole wait. It says which it was.
STILL_MS = 250
_SECOND_PASS_WAIT = """        const waitFor2 = [this.domActions.wait(500)];
        if (this.state.findCmpAttempts > 1) {
          waitFor2.push(mutationObserver);
        }
        try {
          await Promise.all(waitFor2);"""
_STILL_OR_HALF_A_SECOND = """        const waitFor2 = [this.domActions.wait(500)];
        if (this.state.findCmpAttempts > 1) {
          waitFor2.push(mutationObserver);
        }
        try {
          if (this.state.findCmpAttempts === 1) {  // somearkiv: still for %(still)d ms, or 500 ms gone by
            const still = await new Promise((resolve) => {
              const root = document.documentElement;
              let quiet = null;
              const most = setTimeout(() => end(false), 500);
              const observer = new MutationObserver(() => {
                clearTimeout(quiet);
                quiet = setTimeout(() => end(true), %(still)d);
              });
              const end = (value) => {
                clearTimeout(quiet); clearTimeout(most); observer.disconnect(); resolve(value);
              };
              quiet = setTimeout(() => end(true), %(still)d);
              if (root) observer.observe(root, {subtree: true, childList: true, attributes: true, characterData: true});
            });
            this.sendContentMessage({ type: "somearkivSecondPass", still });
          } else
          await Promise.all(waitFor2);""" % {"still": STILL_MS}
_PATCHES = ((_SECOND_PASS_WAIT, _STILL_OR_HALF_A_SECOND),)


def patched(script: str) -> str:
    """*script* with _PATCHES made; each must be found exactly once (an update of autoconsent that moved
    the code is stopped here, not left to look differently)."""
    for old, new in _PATCHES:
        if script.count(old) != 1:
            raise RuntimeError(f"autoconsent {autoconsent_version()}: the code to change is not there once "
                               f"({old[:60]!r}...): see tasks/vendor/autoconsent/README.md")
        script = script.replace(old, new)
    return script


@cache
def _script() -> str:
    return patched((_VENDOR / "autoconsent.playwright.js").read_text(encoding="utf-8"))


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
    host: str | None = None  # the host that showed it (a consent site too)
    frame_url: str | None = None  # the frame holding it, when not the page
    veiled: bool = False  # the page was covered by a veil when the dialog was found
    errors: list[str] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], False) or k in ("found", "dismissed")}


class ConsentWatcher:
    """Listens to autoconsent's messages for one browser context."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        """Forget what was seen: a new document (a consent site, the page after it) is looked at afresh."""
        self.cmps: list[str] = []
        self.popup: tuple[str, Frame] | None = None
        self.results: list[dict[str, Any]] = []
        self.main_lifecycle: str | None = None
        self.second_pass_still: bool | None = None  # autoconsent's second pass came early, the page being still

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
        elif kind == "somearkivSecondPass" and frame.parent_frame is None:
            self.second_pass_still = bool(message.get("still"))
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
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.05))  # "loading" ends unannounced
            except TimeoutError:
                pass
        return True

    async def dismiss(self, page: Page, evidence_path: Path, detect_timeout: float = 4.0,
                      look_s: float = 1.0, whole_page: bool = False,
                      loading: Callable[[], bool] = lambda: False) -> ConsentFinding:
        """Find a consent popup, screenshot it, refuse it. Bounded in time.

        look_s: how long at most to look for a consent platform after load (its markup is normally
        there by then; measured: detection takes 0.4-0.6 s). The look ends sooner when autoconsent
        has made its passes and found nothing, unless the page is still *loading* (a consent
        platform's script may be on its way). detect_timeout: how long to wait for a detected
        platform's popup to show. whole_page: the page itself may be the dialog (a consent site
        such as consent.youtube.com).
        """
        finding = ConsentFinding()
        if look_s > 0:
            await self._wait(lambda: self.popup is not None or bool(self.cmps)
                             or (self.main_lifecycle == "nothingDetected" and not loading()),
                             min(detect_timeout, look_s))
        if self.cmps and self.popup is None:
            await self._wait(lambda: self.popup is not None, detect_timeout)
        if self.popup is not None and not self.popup[1].is_detached():  # not a frame (or document) gone since
            platform, frame = self.popup
            finding.found, finding.method, finding.platform = True, "autoconsent", platform
            await page.screenshot(path=evidence_path, type="png")
            finding.evidence = evidence_path.name
            finding.veiled = await veil_present(page)
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
                if frame != page.main_frame:
                    finding.frame_url = frame.url
                await _veil_gone(page, finding)
                return finding
        finding = await _fallback(page, evidence_path, finding, detect_timeout, whole_page)
        if finding.dismissed:
            await _veil_gone(page, finding)
        return finding


# Frames whose address or name says they hold a consent dialog (Sourcepoint, TCF CMPs, ...).
_CONSENT_FRAME = re.compile(r"consent|cmp|privacy|sp_message|gdpr|cookie|samtycke", re.IGNORECASE)
# A first layer without "reject": the button that opens the choices, and the one that saves them.
SETTINGS_BUTTON = re.compile(
    r"^\s*(inställningar|cookie-?inställningar|hantera( (cookies|kakor|val|inställningar))?|anpassa|"
    r"fler (val|alternativ)|visa (val|detaljer)|(cookie )?settings|manage( (cookies|options|preferences|settings))?|"
    r"customi[sz]e|more options|preferences|set preferences)\s*$", re.IGNORECASE)
SAVE_CHOICES = re.compile(
    r"^\s*(spara( mina)? (val|inställningar)|bekräfta( mina)? val|spara och stäng|"
    r"save( my)? (choices|preferences|settings)|confirm( my)? choices|save and (close|exit))\s*$", re.IGNORECASE)


async def _fallback(page: Page, evidence_path: Path, finding: ConsentFinding, wait_s: float,
                    whole_page: bool) -> ConsentFinding:
    """A visible consent dialog autoconsent does not know, on the page or in any frame: refuse it.

    Frames count (the dialog of a TCF/Sourcepoint platform sits in a cross-origin iframe over
    a veil); one that is still loading, announced by its address or name, is waited for.
    """
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        for frame, dialog in await _dialogs(page, whole_page):
            await _refuse(page, frame, dialog, evidence_path, finding)
            if finding.dismissed:
                return finding
        if finding.found or asyncio.get_running_loop().time() > deadline or not await _consent_frame_pending(page):
            return finding
        await page.wait_for_timeout(250)


async def _dialogs(page: Page, whole_page: bool) -> list[tuple[Frame, Locator]]:
    """Visible consent dialogs: elements that look like one, and frames (or a consent site) that are one."""
    found: list[tuple[Frame, Locator]] = []
    for frame in page.frames:
        main = frame == page.main_frame
        if not main and not await _frame_shown(frame):
            continue
        dialogs = frame.locator(_CONSENT_DIALOG)
        for i in range(min(await _count(dialogs), 20)):
            if await _consent_text(dialogs.nth(i)):
                found.append((frame, dialogs.nth(i)))
        if (whole_page or not main) and not found and await _consent_text(frame.locator("body")):
            found.append((frame, frame.locator("body")))
    return found


async def _count(locator: Locator) -> int:
    try:
        return await locator.count()
    except PlaywrightError:
        return 0


async def _frame_shown(frame: Frame) -> bool:
    try:
        element = await frame.frame_element()
        return await element.is_visible()
    except PlaywrightError:
        return False


async def _consent_text(element: Locator) -> bool:
    try:
        return await element.is_visible() and bool(_CONSENT_WORDS.search(await element.inner_text(timeout=1000)))
    except PlaywrightError:
        return False


async def _consent_frame_pending(page: Page) -> bool:
    """Is an iframe that announces a consent dialog on the page, without one found in it yet?"""
    for frame in page.frames[1:]:
        if _CONSENT_FRAME.search(frame.url) or _CONSENT_FRAME.search(frame.name or ""):
            return True
    try:
        return await page.locator("iframe").evaluate_all(
            "(els, re) => els.some(e => new RegExp(re, 'i').test((e.id || '') + ' ' + (e.title || '') + ' ' + "
            "(e.src || '')))", _CONSENT_FRAME.pattern)
    except PlaywrightError:
        return False


async def _refuse(page: Page, frame: Frame, dialog: Locator, evidence_path: Path, finding: ConsentFinding) -> None:
    """Click the dialog's button that refuses (or open its choices and save them with nothing chosen)."""
    finding.found = True
    finding.method = finding.method or "fallback"
    if frame != page.main_frame:
        finding.frame_url = frame.url
    if finding.evidence is None:
        await page.screenshot(path=evidence_path, type="png")
        finding.evidence = evidence_path.name
        finding.veiled = await veil_present(page)
    button = _button(dialog, REJECT_BUTTON)
    if not await _count(button):
        settings = _button(dialog, SETTINGS_BUTTON)
        if not await _count(settings):
            finding.action = "consent dialog found, but no button that refuses; left as it is"
            return
        opened = (await settings.first.inner_text(timeout=1000)).strip()
        await settings.first.click(timeout=3000)
        await page.wait_for_timeout(400)
        scope = frame.locator("body")
        await _untick(scope)
        button = _button(scope, REJECT_BUTTON).or_(_button(scope, SAVE_CHOICES))
        if not await _count(button):
            finding.action = f"opened {opened!r}, but found no button that refuses or saves the choices"
            return
        finding.action = f"opened {opened!r}, then "
    target = button.first
    label = (await target.inner_text(timeout=1000)).strip()
    if ACCEPT_BUTTON.search(label) and not (REJECT_BUTTON.search(label) or SAVE_CHOICES.search(label)):
        return
    before = frame.url
    await target.click(timeout=3000)
    await page.wait_for_timeout(300)
    finding.method = "fallback"
    finding.action = f"{finding.action or ''}clicked {label!r}"
    finding.dismissed = frame.url != before or not await _still_shown(frame, dialog)  # gone, or its page left


def _button(scope: Locator, name: re.Pattern[str]) -> Locator:
    return scope.get_by_role("button", name=name).or_(scope.get_by_role("link", name=name))


async def _untick(scope: Locator) -> None:
    """Choices pre-ticked in a second layer (other than the necessary, disabled ones) are unticked first."""
    boxes = scope.locator("input[type=checkbox]:checked:not([disabled]), [role=switch][aria-checked=true]")
    for i in range(min(await _count(boxes), 50)):
        try:
            await boxes.nth(i).click(timeout=1000)
        except PlaywrightError:
            pass


async def _still_shown(frame: Frame, dialog: Locator) -> bool:
    try:
        if frame != frame.page.main_frame and not await _frame_shown(frame):
            return False
        return await _consent_text(dialog)
    except PlaywrightError:
        return False  # the frame or the page went away: so did the dialog


async def _veil_gone(page: Page, finding: ConsentFinding, wait_s: float = 3.0) -> None:
    """After refusing, the page's veil must go too (the page removes it when the frame tells it to)."""
    if not finding.veiled:
        await page.wait_for_timeout(300)  # let the dialog's closing transition end
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    await page.wait_for_timeout(300)  # let the dialog's closing transition end
    while await veil_present(page):
        if loop.time() > deadline:
            finding.dismissed = False
            finding.action = f"{finding.action or 'refused'}; but the page is still covered by the dialog's veil"
            return
        await page.wait_for_timeout(250)
