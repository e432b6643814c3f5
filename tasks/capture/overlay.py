"""Overlays that cover the page: a sign-in prompt (often shown after a scroll) and a consent dialog's veil.

Instagram, Facebook, X and LinkedIn put a "log in to see more" layer over the page for
anonymous visitors; the page is underneath. Such a layer is found by geometry (fixed or
modal, covering much of the viewport) and words (log in, sign up) or a password field, and
closed with its own close button (or Escape) — never by logging in. What cannot be closed
is a login wall.
"""

from __future__ import annotations

import re

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from tasks.capture.isolated import read

__all__ = ["CLOSE_BUTTON", "close_overlay", "find_overlay", "veil_present"]

_MARK = "data-somearkiv-overlay"

# Marks the topmost large fixed/modal layer with sign-in words or a password field; returns what it says.
_FIND = r"""(mark) => {
  const vw = window.innerWidth, vh = window.innerHeight;
  const words = /\b(logga in|log in|sign in|inloggning|registrera dig|skapa (ett )?konto|sign up|create (an )?account|sign in to see|logga in för att)\b/i;
  const visible = el => { const s = getComputedStyle(el); const r = el.getBoundingClientRect();
    return s.display !== 'none' && s.visibility !== 'hidden' && Number(s.opacity) > 0.05 && r.width > 0 && r.height > 0; };
  const layered = el => { const s = getComputedStyle(el);
    return s.position === 'fixed' || el.getAttribute('aria-modal') === 'true' || el.tagName === 'DIALOG' && el.open; };
  let best = null;
  for (const el of document.body ? document.body.querySelectorAll('*') : []) {
    if (!layered(el) || !visible(el)) continue;
    const r = el.getBoundingClientRect();
    const w = Math.max(0, Math.min(r.right, vw) - Math.max(r.left, 0));
    const h = Math.max(0, Math.min(r.bottom, vh) - Math.max(r.top, 0));
    const cover = (w * h) / (vw * vh);
    const text = (el.innerText || '').slice(0, 3000);
    const password = Array.from(el.querySelectorAll('input[type=password]')).some(visible);
    const dialog = el.getAttribute('aria-modal') === 'true' || /dialog/.test(el.getAttribute('role') || '') || el.tagName === 'DIALOG';
    if ((cover >= 0.35 || (dialog && cover >= 0.1)) && (password || words.test(text))) {
      if (!best || cover > best.cover) best = {el, cover, text: text.split('\n').find(t => words.test(t)) || 'password field'};
    }
  }
  document.querySelectorAll('[' + mark + ']').forEach(e => e.removeAttribute(mark));
  if (!best) return null;
  best.el.setAttribute(mark, '1');
  return best.text.trim().slice(0, 80);
}"""

CLOSE_BUTTON = re.compile(
    r"^\s*(stäng|close|dismiss|×|✕|✖|x|inte nu|not now|avbryt|cancel|senare|later|nej tack|no thanks|"
    r"fortsätt utan att logga in|continue without (logging|signing) in|maybe later|kanske senare)\s*$", re.I)

# A consent dialog's veil: a fixed layer over (nearly) the whole viewport that dims it or holds a frame.
_VEIL = """() => {
  const vw = window.innerWidth, vh = window.innerHeight;
  for (const el of document.body ? document.body.querySelectorAll('*') : []) {
    const s = getComputedStyle(el);
    if (s.position !== 'fixed' || s.display === 'none' || s.visibility === 'hidden' || Number(s.opacity) < 0.05) continue;
    const r = el.getBoundingClientRect();
    if (r.width < vw * 0.9 || r.height < vh * 0.9 || s.pointerEvents === 'none') continue;
    const alpha = (s.backgroundColor.match(/rgba?\\(([^)]+)\\)/) || [,'0,0,0,0'])[1].split(',').map(Number);
    const dims = alpha.length === 4 ? alpha[3] > 0.05 : alpha.length === 3;
    if (dims || el.querySelector('iframe') || s.backdropFilter !== 'none') return true;
  }
  return false;
}"""


async def find_overlay(page: Page) -> str | None:
    """What a sign-in overlay covering the page says (it is marked for close_overlay), or None."""
    try:
        return await read(page, _FIND, _MARK)
    except PlaywrightError:
        return None


async def close_overlay(page: Page) -> str | None:
    """Close the marked overlay with its own button, or Escape; how it was closed, or None when it stays."""
    overlay = page.locator(f"[{_MARK}]")
    button = overlay.get_by_role("button", name=CLOSE_BUTTON).or_(overlay.get_by_role("link", name=CLOSE_BUTTON))
    attempts: list[tuple[str, object]] = []
    try:
        if await button.count():
            label = (await button.first.get_attribute("aria-label") or await button.first.inner_text()).strip()
            attempts.append((f"its button {label!r}", button.first))
    except PlaywrightError:
        pass
    attempts.append(("the Escape key", None))
    for how, target in attempts:
        try:
            if target is None:
                await page.keyboard.press("Escape")
            else:
                await target.click(timeout=3000)  # type: ignore[attr-defined]
            await page.wait_for_timeout(400)
            if await find_overlay(page) is None:
                return how
        except PlaywrightError:
            continue
    return None


async def veil_present(page: Page) -> bool:
    try:
        return bool(await read(page, _VEIL))
    except PlaywrightError:
        return False
