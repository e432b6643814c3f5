"""Promotion: the last watch before an unannounced major change becomes a permanent capture.

Nothing is rewritten: the watch's objects stay under watch/ as filed (locked, short-lived). Its
screenshot, DOM and words are read back by their version ids (each checked against the SHA-256 it
was filed with) into a new capture, ``captures/<account>/<time of the watch>-change-detected/``,
whose record says where it came from. That capture then goes through the same stages as any
other — PDF/A, filing with the account's retention class (its legal hold for *bevaras*),
manifest, timestamp, custody ledger — and an audit event says why:
*senaste tillstånd före oanmäld större ändring*.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from somearkiv.models import (
    ArchivedFile,
    Captured,
    CaptureRecord,
    ChangeReport,
    FileRole,
    Trigger,
    ViewFile,
    ViewInfo,
    WatchRecord,
    make_capture_id,
)
from storage import Archive

__all__ = ["PROMOTION_REASON", "promoted_capture"]

PROMOTION_REASON = "senaste tillstånd före oanmäld större ändring"
# the watch's files a capture keeps, with their role there
_KEPT = {"startpage.png": FileRole.screenshot, "page.html": FileRole.dom, "words-desktop.json": FileRole.words,
         "elements.json": FileRole.elements}


def promoted_capture(archive: Archive, watch: WatchRecord, report: ChangeReport, data_dir: Path) -> Captured:
    """The capture made of *watch* (not filed yet): its files read back from the archive, its record."""
    capture_id = make_capture_id(watch.account.id, watch.started_at, Trigger.change_detected)
    folder = data_dir / "captures" / capture_id
    partial = folder.with_name(folder.name + ".promoting")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    files = []
    for filed in watch.files:
        if filed.name not in _KEPT or filed.key is None:
            continue
        archive.download(filed.key, partial / filed.name, filed.version_id)  # checked against its SHA-256
        files.append(ArchivedFile(name=filed.name, role=_KEPT[filed.name], media_type=filed.media_type,
                                  size=filed.size, sha256=filed.sha256))
    if folder.exists():
        shutil.rmtree(folder)  # an earlier attempt's copy, never filed (the archive refuses other bytes anyway)
    partial.rename(folder)
    changed = ", ".join(f"{c.element} ({c.detail})" for c in report.changes) or "—"
    watch_json = next((f for f in (watch.record_key,) if f), None)
    record = CaptureRecord(
        capture_id=capture_id, municipality=watch.municipality, account=watch.account,
        trigger=Trigger.change_detected,
        reason=f"{PROMOTION_REASON} (bevakningen {watch.watch_id}; ändrat: {changed}; poäng {report.score})",
        requested_by=None, status=watch.status, started_at=watch.started_at, finished_at=watch.finished_at,
        page=watch.page, browser=watch.browser, timings=watch.timings,
        views=(ViewInfo(name="desktop", user_agent=watch.browser.user_agent,
                        viewport_width=watch.browser.viewport_width, viewport_height=watch.browser.viewport_height,
                        device_scale_factor=watch.browser.device_scale_factor, is_mobile=False,
                        page_height=watch.browser.page_height, screenshot="startpage.png",
                        files=tuple(ViewFile(name=f.name, size=f.size) for f in files)),),
        consent=watch.consent, wall=watch.wall, blocked_requests=watch.blocked_requests,
        notes=(*watch.notes,
               f"promoted from the watch {watch.watch_id}: {watch_json} (filed {watch.filed_at:%Y-%m-%d %H:%M:%S}Z, "
               f"class {watch.retention_class}); the watch's files read back by version id and checked against "
               "their SHA-256; a light capture: desktop view only, the top of the page, no print PDF, no WARC",
               f"compared with {report.baseline} {report.compared_with}: {report.classification}, score "
               f"{report.score}"),
        files=tuple(files), metrics=watch.metrics, retention_class=watch.account.retention_class,
        software=watch.software, flow_run_id=watch.flow_run_id,
    )
    return Captured(record, folder)
