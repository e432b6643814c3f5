"""The capture engine: one account's start page, captured the way an archivist would want it.

A capture is a chain of small steps with one signature, ``async step(state) -> None``, over
one CaptureState: navigate, dismiss consent, detect walls, settle (scroll so lazy content
loads, bounded for infinite feeds), screenshot (in tiles for tall pages), save the DOM,
print. Adding a step is adding one item to a list; each step runs under its own timeout and
the whole capture under a hard limit, so a page that never finishes fails clearly.

The desktop view is the primary record; a mobile view (phone viewport and user agent) is
taken in a second, fresh context. Each view's traffic goes through the egress guard, and the
desktop view's traffic is kept as a WARC.

Modules: account (capture_account, the Prefect task), claim (the capture's id and folder),
state (View, CaptureState), steps (the steps and the two chains), views (one view in its own
context), record (the CaptureRecord), errors; and the parts the steps use: browser (the shared
Chromium), egress (the egress guard), consent (autoconsent and the fallback), walls (login,
bot-check and error pages), warc (the page load as WARC).
"""

from tasks.capture.account import capture_account, capture_start_page, warm_browser
from tasks.capture.errors import CaptureError, DiskFullError, PageUnavailableError
from tasks.capture.state import MOBILE_USER_AGENT, View
from tasks.capture.steps import navigate, print_pdf, screenshot
from tasks.capture.views import run_view

__all__ = [
    "MOBILE_USER_AGENT",
    "CaptureError",
    "DiskFullError",
    "PageUnavailableError",
    "View",
    "capture_account",
    "capture_start_page",
    "navigate",
    "print_pdf",
    "run_view",
    "screenshot",
    "warm_browser",
]
