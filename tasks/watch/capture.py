"""The light capture of a watch: the capture engine's own steps, fewer of them, on a shorter page.

What the watch takes: the desktop view only (no mobile view), the top of the page
(config ``shot_height``, scrolled over once so its lazy images load, no settling of the feed),
the profile's elements (tasks.watch.extract), the page's text, the words, the DOM, and the
avatar and banner cut from the screenshot. No print PDF, no WARC, no PDF/A. The egress guard,
consent handling, walls, sign-in overlays, late navigation and saved logins are the capture
engine's, unchanged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
from dataclasses import replace
from pathlib import Path

from PIL import Image

from somearkiv.fixity import sha256_file
from somearkiv.log import get_logger
from somearkiv.models import (
    Account,
    ArchivedFile,
    CaptureStatus,
    FileRole,
    SettleInfo,
    Trigger,
    WatchElement,
    WatchRecord,
)
from somearkiv.settings import Settings, get_settings
from tasks.capture.account import _session  # the saved login, exactly as a capture uses it
from tasks.capture.browser import shared_pool
from tasks.capture.claim import Claim
from tasks.capture.egress import EgressPolicy, protected_endpoints
from tasks.capture.errors import CaptureError, PageUnavailableError
from tasks.capture.isolated import read
from tasks.capture.record import build_record
from tasks.capture.state import CaptureState, Step, View
from tasks.capture.steps import (
    ELEMENTS_NAME,
    IMAGES_DONE,
    clear_overlay,
    detect_wall,
    dismiss_consent,
    follow_late_navigation,
    landed_at,
    navigate,
    profile_elements,
    read_words,
    refuse_late_consent,
    save_dom,
    screenshot,
)
from tasks.capture.views import capture_views
from tasks.metrics import Window
from tasks.metrics.page import read_page_metrics
from tasks.watch.config import WatchConfig
from tasks.watch.images import dhash, mean_colour, phash

__all__ = ["ELEMENTS_NAME", "TEXT_NAME", "WATCH_STEPS", "light_capture", "watch_view"]

TEXT_NAME = "page-text.txt"  # the page's text (innerText)
IMAGE_ELEMENTS = ("avatar", "banner")

async def glance(state: CaptureState) -> None:
    """Scroll once over the top of the page the watch keeps (so its lazy images load), and back up.

    No waiting for a feed to settle: the watch looks at the profile, not at the feed."""
    v, page = state.view, state.page
    started = time.monotonic()
    await page.mouse.move(v.width / 2, v.height / 2)
    height = await read(page, "() => document.documentElement.scrollHeight")
    target, y, rounds = min(height, v.max_page_height), 0, 0
    while y + v.height < target:
        step = int(v.height * 0.9)
        await page.mouse.wheel(0, step)
        await page.wait_for_timeout(80)
        y, rounds = y + step, rounds + 1
    await read(page, IMAGES_DONE, 3000)
    await read(page, "() => window.scrollTo(0, 0)")
    await asyncio.sleep(max(0.0, landed_at(state, started) + v.dwell_s - time.monotonic()))  # as settle: its dwell
    deadline = time.monotonic() + 2.0
    while not state.watch.network_idle() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    state.page_height = await read(page, "() => document.documentElement.scrollHeight")
    state.shot_height = min(state.page_height, v.max_page_height)
    items = await read(page, "() => document.getElementsByTagName('*').length")
    state.settled = SettleInfo(outcome="complete" if state.page_height <= v.max_page_height else "height-limit",
                               seconds=round(time.monotonic() - started, 2), rounds=rounds,
                               height=state.page_height, items=items)
    if state.page_height > state.shot_height:
        state.notes.append(f"watch: the top {state.shot_height} px of {state.page_height} px kept")
    state.title = await page.title()


async def extract_elements(state: CaptureState) -> None:
    """The profile's elements by the platform's rules and the generic ones, the noise, and the page's text."""
    found = await profile_elements(state)
    text = found.pop("text", "")
    state.output(TEXT_NAME, FileRole.evidence, "text/plain; charset=utf-8").write_text(text, encoding="utf-8")
    state.output(ELEMENTS_NAME, FileRole.evidence, "application/json").write_text(
        json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8")


WATCH_STEPS: tuple[Step, ...] = (navigate, dismiss_consent, detect_wall, glance, clear_overlay, refuse_late_consent,
                                 follow_late_navigation, extract_elements, read_words, screenshot, save_dom)


def watch_view(settings: Settings, config: WatchConfig) -> View:
    """The desktop view, bounded to the watch's height, without a HAR."""
    return replace(View.desktop(settings), record_har=False, max_page_height=config.shot_height,
                   max_whole_page_height=config.shot_height, max_scroll_s=min(settings.max_scroll_s, 10.0))


def make_watch_id(account_id: str, started: dt.datetime) -> str:
    return f"{account_id}/{started.astimezone(dt.UTC):%Y-%m-%dT%H%M%SZ}-watch"


def _claim(watch_dir: Path, account_id: str, started: dt.datetime) -> Claim:
    """The watch's id and working folder: the first free second from *started* (an exclusive mkdir)."""
    while True:
        watch_id = make_watch_id(account_id, started)
        folder = watch_dir / watch_id
        partial = folder.with_name(folder.name + ".partial")
        partial.parent.mkdir(parents=True, exist_ok=True)
        if not folder.exists():
            try:
                partial.mkdir()
                return Claim(capture_id=watch_id, started=started, folder=folder)
            except FileExistsError:
                pass
        started += dt.timedelta(seconds=1)


def light_capture(account: Account, *, municipality: str, config: WatchConfig, retention_class: str,
                  flow_run_id: str | None = None, settings: Settings | None = None) -> tuple[WatchRecord, Path]:
    """Watch *account* now: its record (not filed yet) and the local folder holding its files."""
    settings = settings or get_settings()
    log = get_logger(account=account.id)
    policy = EgressPolicy(tuple(settings.allowed_hosts), protected=protected_endpoints(settings))
    decision = policy.check_url(str(account.url))
    if not decision.allowed:
        raise PageUnavailableError(f"the start page's address is refused by the egress guard: {decision.reason}")
    claim = _claim(settings.data_dir / "watch", account.id, dt.datetime.now(dt.UTC).replace(microsecond=0))
    try:
        pool = shared_pool(settings, policy)
        session = _session(account, settings)
        view = watch_view(settings, config)
        states = pool.run(lambda browser: capture_views(browser, account, [(view, WATCH_STEPS)], claim.partial,
                                                        pool.proxy, session, pool.page_slots),
                          settings.capture_timeout_s)
        folder = claim.complete()
    except TimeoutError as exc:
        claim.abandon()
        raise CaptureError(f"the watch took longer than the limit of {settings.capture_timeout_s:g} s") from exc
    except BaseException:
        claim.abandon()
        raise
    finished = dt.datetime.now(dt.UTC)
    record = build_record(states, folder, capture_id=claim.capture_id, account=account, municipality=municipality,
                          trigger=Trigger.manual, reason=None, requested_by=None, started=claim.started,
                          finished=finished, browser_version=pool.browser_version, outbound_ip=settings.outbound_ip,
                          flow_run_id=flow_run_id)
    elements, extra = _elements(folder) if record.status is CaptureStatus.captured else ((), ())
    metrics = None
    html = folder / "page.html"
    if html.exists():
        metrics = read_page_metrics(html.read_text(encoding="utf-8"), account.platform, finished,
                                    Window.last_30_days(claim.started))
    watch = WatchRecord(
        watch_id=claim.capture_id, municipality=municipality, account=account, status=record.status,
        started_at=record.started_at, finished_at=record.finished_at, page=record.page, browser=record.browser,
        timings=record.timings, consent=record.consent, wall=record.wall, blocked_requests=record.blocked_requests,
        notes=record.notes, files=(*record.files, *extra), elements=elements, metrics=metrics,
        retention_class=retention_class, software=record.software, flow_run_id=flow_run_id)
    log.info("watch.captured", watch_id=watch.watch_id, status=watch.status.value,
             found=[e.element for e in elements if e.found], seconds=round((finished - claim.started).total_seconds(), 1))
    os.chmod(folder, 0o700)  # the comparison's input; the flow removes it after filing unless keep_local
    return watch, folder


def _elements(folder: Path) -> tuple[tuple[WatchElement, ...], tuple[ArchivedFile, ...]]:
    """The elements the page gave, with the avatar and banner cut from the screenshot and hashed."""
    raw = json.loads((folder / ELEMENTS_NAME).read_text(encoding="utf-8"))["elements"]
    shot = folder / "startpage.png"
    image = Image.open(shot).convert("RGB") if shot.exists() else None
    elements, files = [], []
    for name in ("name", "handle", "bio", "link", "avatar", "banner", "pinned"):
        item = raw.get(name)
        if not item:
            elements.append(WatchElement(element=name))
            continue
        fields: dict = {"element": name, "found": True, "text": item.get("text") or None, "href": item.get("href"),
                        "box": tuple(item["box"]) if item.get("box") else None, "rule": item.get("rule")}
        if name in IMAGE_ELEMENTS and image is not None and fields["box"]:
            crop = _crop(image, fields["box"])
            if crop is not None:
                out = folder / f"{name}.png"
                crop.save(out, format="PNG")
                fields.update(image=out.name, dhash=dhash(crop), phash=phash(crop), colour=mean_colour(crop))
                files.append(ArchivedFile(name=out.name, role=FileRole.evidence, media_type="image/png",
                                          size=out.stat().st_size, sha256=sha256_file(out)))
        elements.append(WatchElement(**fields))
    return tuple(elements), tuple(files)


def _crop(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image | None:
    x, y, w, h = (round(v) for v in box)
    left, top = max(0, x), max(0, y)
    right, bottom = min(image.width, x + w), min(image.height, y + h)
    if right - left < 4 or bottom - top < 4:
        return None
    return image.crop((left, top, right, bottom))
