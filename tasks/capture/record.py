"""The capture record: what was captured, how, with what, and what stood in the way.

The record is the single source of truth about a capture; everything else (S3 metadata, XMP,
artifacts, METS) is derived from it. It is built from the views' states once the capture's
folder is complete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from somearkiv import __version__
from somearkiv.fixity import sha256_file
from somearkiv.models import (
    Account,
    ArchivedFile,
    BlockedRequestInfo,
    BrowserInfo,
    CaptureRecord,
    CaptureStatus,
    ConsentInfo,
    PageInfo,
    Trigger,
    ViewFile,
    ViewInfo,
    WallInfo,
)
from tasks.capture.consent import ConsentFinding, autoconsent_version
from tasks.capture.state import LOCALE, TIMEZONE, CaptureState

__all__ = ["build_record"]


def build_record(
    states: Sequence[CaptureState],
    folder: Path,
    *,
    capture_id: str,
    account: Account,
    municipality: str,
    trigger: Trigger,
    reason: str | None,
    requested_by: str | None,
    started: dt.datetime,
    finished: dt.datetime,
    browser_version: str | None,
    outbound_ip: str | None,
    flow_run_id: str | None,
) -> CaptureRecord:
    """The record of a capture whose views ran as *states* and whose files are in *folder*.

    states: the views in the order they ran, the primary (desktop) one first.
    browser_version: Chromium's version as the pool reports it (None if it never started).
    """
    primary = states[0]
    return CaptureRecord(
        capture_id=capture_id,
        municipality=municipality,
        account=account,
        trigger=trigger,
        reason=reason,
        requested_by=requested_by,
        status=CaptureStatus.blocked if primary.wall else CaptureStatus.captured,
        started_at=started,
        finished_at=finished,
        page=_page_info(primary),
        browser=_browser_info(primary, browser_version),
        timings={k: v for s in states for k, v in s.timings.items()},
        views=tuple(_view_info(s, folder) for s in states),
        consent=_consent_info(primary.consent) if primary.consent else None,
        wall=_wall_info(primary, folder) if primary.wall else None,
        session=primary.session,
        blocked_requests=tuple(BlockedRequestInfo(target=b.target, reason=b.reason) for s in states for b in s.blocked),
        outbound_ip=outbound_ip,
        notes=tuple(n for s in states for n in (f"{s.view.name}: {note}" for note in s.notes)),
        files=_files(states, folder),
        retention_class=account.retention_class,
        software=_software_versions(browser_version),
        flow_run_id=flow_run_id,
    )


def _page_info(primary: CaptureState) -> PageInfo:
    return PageInfo(requested_url=str(primary.account.url), final_url=primary.final_url,
                    http_status=primary.http_status, title=primary.title,
                    redirect_chain=tuple(primary.redirect_chain), hops=tuple(primary.watch.hops))


def _browser_info(primary: CaptureState, browser_version: str | None) -> BrowserInfo:
    view = primary.view
    return BrowserInfo(name="chromium", version=browser_version or "unknown", user_agent=primary.user_agent,
                       viewport_width=view.width, viewport_height=view.height, device_scale_factor=view.scale,
                       locale=LOCALE, timezone=TIMEZONE, page_height=primary.page_height)


def _view_info(state: CaptureState, folder: Path) -> ViewInfo:
    """One view; its files are looked up in the completed *folder* (the state knows the partial one)."""
    shot = state.view.file("startpage")
    files = tuple(ViewFile(name=name, size=(folder / name).stat().st_size) for name, _, _ in state.outputs)
    return ViewInfo(name=state.view.name, user_agent=state.user_agent, viewport_width=state.view.width,
                    viewport_height=state.view.height, device_scale_factor=state.view.scale,
                    is_mobile=state.view.mobile, page_height=state.page_height,
                    screenshot=shot if (folder / shot).exists() else None, tiles=state.tiles,
                    settle=state.settled, files=files, notes=tuple(state.notes))


def _consent_info(consent: ConsentFinding) -> ConsentInfo:
    return ConsentInfo(found=consent.found, dismissed=consent.dismissed, method=consent.method,
                       platform=consent.platform, action=consent.action, evidence=consent.evidence,
                       host=consent.host, frame_url=consent.frame_url,
                       errors=tuple(consent.errors), rules=f"autoconsent {autoconsent_version()}")


def _wall_info(primary: CaptureState, folder: Path) -> WallInfo:
    assert primary.wall is not None
    evidence = primary.view.file("wall")
    return WallInfo(kind=primary.wall.kind, reason=primary.wall.reason,
                    evidence=evidence if (folder / evidence).exists() else None)


def _files(states: Sequence[CaptureState], folder: Path) -> tuple[ArchivedFile, ...]:
    """Every file the views wrote, in the order they wrote them, with size and SHA-256."""
    return tuple(
        ArchivedFile(name=name, role=role, media_type=media_type, size=(folder / name).stat().st_size,
                     sha256=sha256_file(folder / name))
        for s in states for name, role, media_type in s.outputs
    )


def _software_versions(browser_version: str | None) -> dict[str, str]:
    from importlib.metadata import version

    versions = {"somearkiv": __version__, "chromium": browser_version or "unknown",
                "autoconsent": autoconsent_version()}
    for dist in ("playwright", "prefect", "pikepdf", "img2pdf", "pypdf", "boto3", "warcio"):
        versions[dist] = version(dist)
    return versions
