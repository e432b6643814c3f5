"""The watch of one account as Prefect tasks: take it, compare it, file it, and act on a major change."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv.fixity import sha256_file
from somearkiv.log import get_logger
from somearkiv.models import (
    Account,
    ArchivedFile,
    CaptureRecord,
    CaptureStatus,
    ChangeReport,
    FileRole,
    RetentionClass,
    Trigger,
    WatchElement,
    WatchRecord,
)
from somearkiv.settings import Settings, get_settings
from storage import Archive
from tasks.capture.browser import browser_slot, shared_pool
from tasks.capture.egress import EgressPolicy, protected_endpoints
from tasks.capture.steps import ELEMENTS_NAME
from tasks.watch.capture import light_capture
from tasks.watch.compare import Side, compare
from tasks.watch.config import WatchConfig
from tasks.watch.extract import EXTRACT_JS, rules_for
from tasks.watch.review import REVIEW_NAME, review_image

__all__ = ["CHANGE_NAME", "announcement", "compare_watch", "file_watch", "last_snapshot", "take_watch"]

CHANGE_NAME = "change.json"


@task(name="watch-page", retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def take_watch(account: Account, municipality: str, config: WatchConfig, retention_class: str) -> tuple[WatchRecord, Path]:
    """Task: the light capture of one account (tasks.watch.capture)."""
    from prefect.runtime import flow_run

    with browser_slot(get_settings()):  # the same bound across workers as the captures
        return light_capture(account, municipality=municipality, config=config, retention_class=retention_class,
                             flow_run_id=flow_run.id)


def _fetch(archive: Archive, files, names: tuple[str, ...], dest: Path) -> Path:
    """The named files of a filed watch or capture, in *dest* (read by version id, checked by SHA-256)."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        if f.name in names and f.key:
            target = dest / f.name
            if not (target.exists() and sha256_file(target) == f.sha256):
                archive.download(f.key, target, f.version_id)
    return dest


def previous_side(archive: Archive, previous: WatchRecord, settings: Settings) -> Side:
    folder = _fetch(archive, previous.files, ("startpage.png", "elements.json"),
                    settings.data_dir / "watch" / previous.watch_id)
    return Side.of_watch(previous, folder)


def last_snapshot(archive: Archive, account_id: str) -> CaptureRecord | None:
    """The account's newest filed capture (captured, with a DOM), whatever its trigger."""
    records = [r for r in archive.list_captures(account_id) if any(f.role is FileRole.dom for f in r.files)]
    return records[-1] if records else None


def snapshot_side(archive: Archive, record: CaptureRecord, settings: Settings, *, screenshot: bool = True,
                  rendered: bool = False) -> Side:
    """A filed snapshot as a side: texts and numbers only, its layout is not comparable.

    Its elements are the ones the capture read on the live page (elements.json); a capture from
    before those were kept, or any when *rendered*, has them read from its DOM rendered offline
    (no request leaves the browser, no script runs). screenshot: fetch its screenshot too.
    """
    live = not rendered and any(f.name == ELEMENTS_NAME and f.key for f in record.files)
    names = (ELEMENTS_NAME if live else "page.html",) + (("startpage.png",) if screenshot else ())
    folder = _fetch(archive, record.files, names, settings.data_dir / "watch-baselines" / record.capture_id)
    if live:
        found = json.loads((folder / ELEMENTS_NAME).read_text(encoding="utf-8"))["elements"]
    else:
        found = _rendered_elements(folder / "page.html", record, settings)
    elements = {}
    for name, item in found.items():
        elements[name] = WatchElement(element=name, found=bool(item), text=(item or {}).get("text") or None,
                                      href=(item or {}).get("href"), rule=(item or {}).get("rule"))
    shot = folder / "startpage.png"
    return Side(id=record.capture_id, kind="snapshot", at=record.started_at, elements=elements,
                metrics=record.metrics, screenshot=shot if screenshot and shot.exists() else None)


def _rendered_elements(page: Path, record: CaptureRecord, settings: Settings) -> dict:
    """The profile's elements of a saved DOM, rendered offline in the shared browser."""
    html = re.sub(r"<script\b.*?</script\s*>", "", page.read_text(encoding="utf-8"), flags=re.S | re.I)
    policy = EgressPolicy(tuple(settings.allowed_hosts), protected=protected_endpoints(settings))
    pool = shared_pool(settings, policy)

    async def render(browser):
        context = await browser.new_context(java_script_enabled=False, service_workers="block",
                                            viewport={"width": record.browser.viewport_width, "height": 900})
        try:
            await context.route("**/*", lambda route: route.abort())
            tab = await context.new_page()
            await tab.set_content(html, wait_until="domcontentloaded", timeout=15000)
            return await tab.evaluate(EXTRACT_JS, {"rules": rules_for(record.account.platform), "maxY": 100000})
        finally:
            await context.close()

    return pool.run(render, 60)["elements"]


@task(name="compare-watch", cache_policy=NO_CACHE)
def compare_watch(watch: WatchRecord, folder: Path, config: WatchConfig) -> tuple[WatchRecord, list[ChangeReport],
                                                                                   dict[str, Side]]:
    """Task: compare the new watch with the previous one and, when newer than that, the last snapshot.

    Writes change.json and, when something changed, review.png into the watch's folder and adds them
    to its record (not filed yet). Returns the record, the reports and the sides compared."""
    settings = get_settings()
    archive = Archive.connected(settings)
    log = get_logger(account=watch.account.id, watch_id=watch.watch_id)
    after = Side.of_watch(watch, folder)
    reports: list[ChangeReport] = []
    sides: dict[str, Side] = {"after": after}
    if watch.status is not CaptureStatus.captured:
        return watch, reports, sides
    previous = archive.latest_watch(watch.account.id, before=watch.watch_id)
    previous = previous if previous is None or previous.status is CaptureStatus.captured else None
    if previous is not None:
        sides["watch"] = before = previous_side(archive, previous, settings)
        reports.append(compare(before, after, config, watch_id=watch.watch_id))
    snapshot = last_snapshot(archive, watch.account.id)
    if snapshot is not None and (previous is None or snapshot.started_at > previous.started_at):
        sides["snapshot"] = before = snapshot_side(archive, snapshot, settings)
        reports.append(compare(before, after, config, watch_id=watch.watch_id, images=False))
    extra = []
    if reports:
        (folder / CHANGE_NAME).write_text(json.dumps([r.model_dump(mode="json") for r in reports],
                                                     ensure_ascii=False, indent=1), encoding="utf-8")
        extra.append((CHANGE_NAME, "application/json"))
        worst = max(reports, key=lambda r: r.score)
        if worst.classification != "ingen ändring" and review_image(sides[worst.baseline], after, worst,
                                                                    folder / REVIEW_NAME):
            extra.append((REVIEW_NAME, "image/png"))
        log.info("watch.compared", **{r.baseline: f"{r.classification} ({r.score})" for r in reports})
    files = [*watch.files, *(ArchivedFile(name=n, role=FileRole.evidence, media_type=m,
                                          size=(folder / n).stat().st_size, sha256=sha256_file(folder / n))
                             for n, m in extra)]
    return watch.model_copy(update={"files": tuple(files), "changes": tuple(reports)}), reports, sides


@task(name="file-watch", retries=3, retry_delay_seconds=[2, 10, 30], cache_policy=NO_CACHE)
def file_watch(watch: WatchRecord, folder: Path, retention: RetentionClass) -> WatchRecord:
    """Task: file the watch under watch/ with its short-lived class's lock (COMPLIANCE: nobody shortens it)."""
    settings = get_settings()
    filed = Archive.connected(settings).file_watch(watch, folder, retention.lock_for(watch.started_at))
    (folder / "watch.json").write_text(filed.model_dump_json(indent=2), encoding="utf-8")
    return filed


def announcement(archive: Archive, account_id: str, since: dt.datetime, config: WatchConfig) -> str | None:
    """The before-change capture that announced a change since *since* (less the configured days), if any."""
    start = since - dt.timedelta(days=config.announced_within_days)
    for record in reversed(archive.list_captures(account_id)):
        if record.trigger is Trigger.before_change and record.started_at >= start:
            return record.capture_id
    return None


def drop_local(folder: Path, settings: Settings) -> None:
    if not settings.keep_local:
        shutil.rmtree(folder, ignore_errors=True)
