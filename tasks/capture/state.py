"""What one rendering is (View) and what the steps of one view share and fill in (CaptureState)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from playwright.async_api import BrowserContext, Page, Response

from somearkiv.models import Account, FileRole, SessionInfo, SettleInfo
from somearkiv.settings import Settings
from tasks.capture.consent import ConsentFinding, ConsentWatcher
from tasks.capture.egress import BlockedRequest, EgressProxy
from tasks.capture.pagewatch import PageWatch
from tasks.capture.walls import Wall

__all__ = ["LOCALE", "MOBILE_USER_AGENT", "TIMEZONE", "CaptureState", "PageShape", "Step", "View"]

LOCALE = "sv-SE"
TIMEZONE = "Europe/Stockholm"
MOBILE_USER_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/{major}.0.0.0 Mobile Safari/537.36")


@dataclass(frozen=True)
class View:
    """How one rendering is made."""

    name: str = "desktop"
    width: int = 1366
    height: int = 900
    scale: float = 1.0
    mobile: bool = False
    navigation_timeout_s: float = 30.0
    step_timeout_s: float = 90.0
    max_page_height: int = 30000  # a feed that keeps growing stops here
    max_whole_page_height: int = 100000  # a long page that does not grow is taken whole up to here
    max_scroll_s: float = 30.0
    settle_quiet_s: float = 0.75  # at the bottom: nothing new for this long, and the network idle
    dwell_s: float = 1.0  # never done sooner than this after the page landed (it may move on by itself)
    tile_height: int = 8192
    consent_timeout_s: float = 4.0
    consent_look_s: float = 1.0
    record_har: bool = False

    @classmethod
    def desktop(cls, s: Settings) -> View:
        return cls(width=s.viewport_width, height=s.viewport_height, navigation_timeout_s=s.navigation_timeout_s,
                   max_page_height=s.max_page_height, max_whole_page_height=s.max_whole_page_height,
                   max_scroll_s=s.max_scroll_s, settle_quiet_s=s.settle_quiet_s, dwell_s=s.page_dwell_s,
                   tile_height=s.tile_height,
                   consent_timeout_s=s.consent_timeout_s, consent_look_s=s.consent_look_s, record_har=s.record_warc)

    def as_mobile(self, s: Settings) -> View:
        return replace(self, name="mobile", width=s.mobile_width, height=s.mobile_height, scale=s.mobile_scale,
                       mobile=True, record_har=False)

    def file(self, stem: str, suffix: str = ".png") -> str:
        return f"{stem}{suffix}" if self.name == "desktop" else f"{stem}-{self.name}{suffix}"


class PageShape(NamedTuple):
    """The page's height and number of elements at a moment (time.monotonic()), in one document."""

    document: int  # PageWatch.documents then
    height: int
    items: int
    at: float


@dataclass
class CaptureState:
    """What the steps of one view share and fill in."""

    account: Account
    view: View
    out_dir: Path
    context: BrowserContext
    page: Page
    proxy: EgressProxy
    token: str
    consent_watcher: ConsentWatcher
    watch: PageWatch
    session: SessionInfo | None = None
    user_agent: str = ""
    response: Response | None = None
    http_status: int | None = None
    final_url: str = ""
    redirect_chain: list[str] = field(default_factory=list)
    title: str = ""
    page_height: int = 0
    shot_height: int = 0  # how much of the page the shot takes (page_height within the bounds)
    pane: str | None = None  # the element the page scrolls in when it does not scroll itself (see steps.settle)
    shot_width: int = 0  # the page's width as laid out: the screen's, or wider when the page has no layout for it
    landed: int = -1  # PageWatch.documents when the shown document was taken stock of
    landed_shape: PageShape | None = None  # the page as it landed: settle counts its quiet from then if unchanged
    settled: SettleInfo | None = None
    tiles: int = 1
    consent: ConsentFinding | None = None
    wall: Wall | None = None
    popups: int = 0
    blocked: list[BlockedRequest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    outputs: list[tuple[str, FileRole, str]] = field(default_factory=list)

    @property
    def shot_scale(self) -> float:
        """Image pixels per page pixel: the screen's, or one for a page laid out wider than the screen (a phone
        shows it zoomed out, all of it; at the screen's two it would be a 1960 px wide image of a 390 px screen)."""
        return 1.0 if self.shot_width > self.view.width else self.view.scale

    def output(self, name: str, role: FileRole, media_type: str) -> Path:
        self.outputs.append((name, role, media_type))
        return self.out_dir / name


Step = Callable[[CaptureState], Awaitable[None]]
"""One step of a view: ``async step(state) -> None``; it fills in *state*, or raises Blocked or CaptureError."""
