"""Capture one account's start page: claim an id, run the views, keep the page load, record it.

capture_account is the whole capture as a short sequence of named steps; capture_start_page
is the Prefect task around it (retries only what is worth retrying).
"""

from __future__ import annotations

import datetime as dt
import errno
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from structlog.typing import FilteringBoundLogger

from somearkiv import __version__
from somearkiv.log import get_logger
from somearkiv.models import Account, Captured, CaptureRecord, CaptureStatus, FileRole, Trigger
from somearkiv.sessions import SessionError, StoredSession, session_store
from somearkiv.settings import Settings, get_settings
from tasks.capture.browser import BrowserPool, browser_slot, shared_pool
from tasks.capture.claim import Claim, claim_capture, clean_stale_partials
from tasks.capture.egress import EgressPolicy, protected_endpoints
from tasks.capture.errors import CaptureError, DiskFullError, PageUnavailableError
from tasks.capture.record import build_record
from tasks.capture.state import CaptureState, Step, View
from tasks.capture.steps import DESKTOP_STEPS, MOBILE_STEPS
from tasks.capture.views import capture_views
from tasks.capture.warc import har_to_warc

__all__ = ["capture_account", "capture_start_page", "warm_browser"]


def capture_account(
    account: Account,
    *,
    municipality: str,
    trigger: Trigger,
    reason: str | None = None,
    requested_by: str | None = None,
    flow_run_id: str | None = None,
    settings: Settings | None = None,
) -> Captured:
    """Capture *account* now; return its record and the local folder holding the files.

    Files are written to '<folder>.partial' and the folder is renamed when the capture is
    complete, so a half-written capture is never mistaken for a whole one. A wall (login,
    bot check, ...) gives a record with status ``blocked`` and the evidence, not a capture.
    """
    settings = settings or get_settings()
    log = get_logger(account=account.id, trigger=str(trigger))
    policy = _egress_policy(account, settings)
    clean_stale_partials(settings.data_dir / "captures" / account.id, settings.capture_timeout_s)
    claim = _claim(account, trigger, settings)
    with _abandoned_on_failure(claim, settings):
        pool = shared_pool(settings, policy)
        session = _session(account, settings)
        log.info("capture.start", url=str(account.url), capture_id=claim.capture_id,
                 logged_in=session.info.role if session else None)
        states = _render(pool, account, _views(settings), claim.partial, settings, session)
        folder = claim.complete()
    record = build_record(states, folder, capture_id=claim.capture_id, account=account, municipality=municipality,
                          trigger=trigger, reason=reason, requested_by=requested_by, started=claim.started,
                          finished=dt.datetime.now(dt.UTC), browser_version=pool.browser_version,
                          outbound_ip=settings.outbound_ip, flow_run_id=flow_run_id)
    _log_outcome(log, record, states[0])
    return Captured(record, folder)


def warm_browser(settings: Settings | None = None) -> None:
    """The shared browser started now, ahead of a round's first capture; returns at once (BrowserPool.warm).

    Never raises: what keeps the browser from starting (a browser_path that does not exist, a
    protected endpoint without a port) fails each capture with its reason, as it did before.
    The driver writes the screenshots and the page load's HAR: it is started under the umask the
    archive's preparation sets, which it keeps for its life, whichever comes first in the round.
    """
    settings = settings or get_settings()
    os.umask(0o077)  # local copies and working files: readable by this service only (as prepare_archive)
    try:
        shared_pool(settings, _guard(settings)).warm()
    except Exception as exc:  # noqa: BLE001 - the captures meet it and report it, account by account
        get_logger().debug("browser.warm_failed", error=type(exc).__name__)


def _guard(settings: Settings) -> EgressPolicy:
    return EgressPolicy(tuple(settings.allowed_hosts), protected=protected_endpoints(settings))


def _egress_policy(account: Account, settings: Settings) -> EgressPolicy:
    """The egress guard of this capture; the start page itself must pass it."""
    policy = _guard(settings)
    decision = policy.check_url(str(account.url))
    if not decision.allowed:
        raise PageUnavailableError(f"the start page's address is refused by the egress guard: {decision.reason}")
    return policy


def _claim(account: Account, trigger: Trigger, settings: Settings) -> Claim:
    """The capture's id and working folder, from this second on (see tasks.capture.claim)."""
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        return claim_capture(settings.data_dir / "captures", account.id, trigger, started)
    except OSError as exc:
        raise _disk_error(exc, settings) or exc from None


def _views(settings: Settings) -> list[tuple[View, Sequence[Step]]]:
    """The desktop view, then (if wanted) the mobile one, each with its steps."""
    desktop = View.desktop(settings)
    views: list[tuple[View, Sequence[Step]]] = [(desktop, DESKTOP_STEPS)]
    if settings.mobile_view:
        views.append((desktop.as_mobile(settings), MOBILE_STEPS))
    return views


def _session(account: Account, settings: Settings) -> StoredSession | None:
    """The account's saved login (`somearkiv login`), decrypted in memory; None when it has none."""
    store = None
    try:
        store = session_store(settings)
    except SessionError as exc:
        if account.session_file is not None or (settings.data_dir / "sessions" / f"{account.id}.session").exists():
            raise PageUnavailableError(str(exc)) from exc  # there is a login to use, but no key to open it
        return None
    if account.session_file is None and not store.exists(account.id):
        return None
    try:
        return store.load(account.id, account.session_file)
    except SessionError as exc:
        raise PageUnavailableError(str(exc)) from exc


def _render(pool: BrowserPool, account: Account, views: Sequence[tuple[View, Sequence[Step]]], out_dir: Path,
            settings: Settings, session: StoredSession | None) -> list[CaptureState]:
    """Run the views in the shared browser, under the capture's hard limit; keep the page load as a WARC."""
    states = pool.run(lambda browser: capture_views(browser, account, views, out_dir, pool.proxy, session,
                                                    pool.page_slots), settings.capture_timeout_s)
    try:
        if settings.record_warc and states[0].wall is None:
            _keep_page_load(states[0], out_dir)
    finally:  # the HAR holds the session's cookies: deleted whatever happened, never filed
        for leftover in out_dir.glob(".*.har"):
            leftover.unlink(missing_ok=True)
    return states


def _keep_page_load(primary: CaptureState, out_dir: Path) -> None:
    """The desktop view's HAR as 'page.warc.gz' (without the secret headers; see tasks.capture.warc)."""
    har = out_dir / ".desktop.har"
    if not har.exists():
        return
    warc = har_to_warc(har, primary.output("page.warc.gz", FileRole.warc, "application/warc"),
                       f"somearkiv/{__version__}")
    if warc.note():
        primary.notes.append(warc.note())  # header names and counts, never a value


@contextmanager
def _abandoned_on_failure(claim: Claim, settings: Settings) -> Iterator[None]:
    """Delete the claim's working folder when the capture fails, and say what the failure means."""
    try:
        yield
    except TimeoutError as exc:
        claim.abandon()
        raise CaptureError(f"capture took longer than the limit of {settings.capture_timeout_s:g} s") from exc
    except BaseException as exc:
        claim.abandon()
        full = _disk_error(exc, settings)
        if full is not None:
            raise full from None
        raise


def _disk_error(exc: BaseException, settings: Settings) -> DiskFullError | None:
    """A full disk shows as OSError(ENOSPC) here and as a Playwright error from the browser's side."""
    text = str(exc)
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "ENOSPC" in text or "No space left" in text:
        return DiskFullError(f"no space left on the device of the data directory {settings.data_dir.resolve()}: "
                             "free some space (or set SOMEARKIV_DATA_DIR) and run again")
    return None


def _log_outcome(log: FilteringBoundLogger, record: CaptureRecord, primary: CaptureState) -> None:
    if record.status is CaptureStatus.blocked:
        assert record.wall is not None
        log.warning("capture.blocked", capture_id=record.capture_id, wall=record.wall.kind, reason=record.wall.reason)
        return
    consent = primary.consent
    log.info("capture.done", capture_id=record.capture_id, http_status=primary.http_status,
             page_height=primary.page_height, consent=consent.platform if consent else None,
             blocked_requests=len(record.blocked_requests),
             seconds=round((record.finished_at - record.started_at).total_seconds(), 1))


def _worth_retrying(_task: object, _task_run: object, state: object) -> bool:
    try:
        state.result()  # type: ignore[attr-defined]
    except PageUnavailableError:
        return False
    except Exception:
        return True
    return False


@task(name="capture-start-page", retries=2, retry_delay_seconds=[5, 20], retry_condition_fn=_worth_retrying,
      cache_policy=NO_CACHE)
def capture_start_page(
    account: Account,
    municipality: str,
    trigger: Trigger,
    reason: str | None = None,
    requested_by: str | None = None,
) -> Captured:
    """Task: capture one account's start page (see capture_account)."""
    from prefect.runtime import flow_run

    with browser_slot(get_settings()):
        return capture_account(account, municipality=municipality, trigger=trigger, reason=reason,
                               requested_by=requested_by, flow_run_id=flow_run.id)
