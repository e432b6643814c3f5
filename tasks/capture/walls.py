"""Walls: pages that are not the account's start page although the server said 200.

Login walls, "are you a robot" checks, rate-limit pages, errors and redirects to another site
must never be filed as the account's ögonblicksbild. The browser reads a few signals from the
page (SIGNALS_JS); the decision is a pure function of them (classify), testable without one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["PageSignals", "Wall", "SIGNALS_JS", "classify", "same_site"]

SIGNALS_JS = """() => {
  const visible = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const text = (document.body ? document.body.innerText : '') || '';
  return {
    title: document.title || '',
    text: text.slice(0, 5000),
    text_length: text.length,
    password_fields: Array.from(document.querySelectorAll('input[type=password]')).filter(visible).length,
    captcha: Array.from(document.querySelectorAll(
      'iframe[src*="recaptcha"], iframe[src*="hcaptcha"], iframe[src*="challenges.cloudflare.com"], ' +
      '.g-recaptcha, .h-captcha, .cf-turnstile, #challenge-form, #cf-challenge-running, [data-sitekey]'
    )).filter(visible).length,
  };
}"""

_LOGIN_PATH = re.compile(r"/(login|log-in|signin|sign-in|accounts/login|checkpoint|auth(entication)?|i/flow/login)"
                         r"(\b|/|\?|$)", re.I)
_LOGIN_TEXT = re.compile(r"\b(logga in|log in|sign in|inloggning)\b", re.I)
_BOT_TEXT = re.compile(
    r"are you a (robot|human)|verify (that )?you are (a )?human|confirm you.re not a (robot|bot)|"
    r"unusual traffic|bekräfta att du (är en människa|inte är en robot)|checking your browser|"
    r"jag är inte en robot|i.m not a robot|security check|säkerhetskontroll", re.I)
_RATE_TEXT = re.compile(r"too many requests|rate limit(ed)?|för många (förfrågningar|anrop)|"
                        r"try again later|försök igen (senare|om en stund)", re.I)


@dataclass(frozen=True)
class PageSignals:
    requested_url: str
    final_url: str
    http_status: int | None
    title: str = ""
    text: str = ""
    text_length: int = 0
    password_fields: int = 0
    captcha: int = 0


@dataclass(frozen=True)
class Wall:
    kind: str  # login, bot-check, rate-limit, http-error, other-site
    reason: str


def _site(host: str) -> str:
    """A rough registrable domain: the last two labels (IP addresses as they are)."""
    host = host.lower().rstrip(".")
    if re.fullmatch(r"[\d.]+|[0-9a-f:]+", host):
        return host
    labels = host.split(".")
    return ".".join(labels[-3:] if len(labels) > 2 and labels[-2] in ("co", "com", "org", "gov") else labels[-2:])


def same_site(a: str, b: str) -> bool:
    return _site(urlsplit(a).hostname or "") == _site(urlsplit(b).hostname or "")


def classify(s: PageSignals) -> Wall | None:
    """The wall this page is, or None when it looks like the start page itself."""
    if s.http_status == 429:
        return Wall("rate-limit", "HTTP 429 Too Many Requests")
    if s.http_status is not None and s.http_status >= 400:
        return Wall("http-error", f"HTTP {s.http_status}")
    if not same_site(s.requested_url, s.final_url):
        return Wall("other-site", f"redirected to another site: {urlsplit(s.final_url).hostname}")
    if s.captcha or _BOT_TEXT.search(s.title) or (_BOT_TEXT.search(s.text) and s.text_length < 3000):
        return Wall("bot-check", "a 'are you a robot' check or captcha is shown instead of the page")
    if _RATE_TEXT.search(s.title) or (_RATE_TEXT.search(s.text) and s.text_length < 2000):
        return Wall("rate-limit", "the platform says there were too many requests")
    moved_to_login = _LOGIN_PATH.search(urlsplit(s.final_url).path or "") and not _LOGIN_PATH.search(
        urlsplit(s.requested_url).path or "")
    if moved_to_login:
        return Wall("login", f"redirected to a login page: {urlsplit(s.final_url).path}")
    if s.password_fields and (s.text_length < 1500 or _LOGIN_TEXT.search(s.title)):
        return Wall("login", "a login form is shown instead of the page")
    return None
