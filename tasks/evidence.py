"""Evidence before removal (moderering): a reported comment or post page captured as evidence, a
moderation case with its 48-hour clock, and the proof that the content is gone.

The policy (*Personuppgifter*): offensive personal data in visitors' comments is removed at once, at the
latest within 48 hours of the report. Removing it removes a received document, so the municipality keeps
evidence of what was removed, when it was reported and when it was gone:

- ``open_case``: the page is captured with the capture engine (the account's own settings and login, this
  URL; the egress guard and the walls apply), made PDF/A like any capture, and filed under ``evidence/`` in
  the restricted class ``bevis-moderering``; the case is filed under ``cases/``.
- ``confirm_removed``: the page is captured again; it is gone when it answers 404/410 or no longer shows
  the case's quote. Then the re-capture is filed as evidence too and a new version of the case records
  when; otherwise nothing changes and ``StillShown`` says so.
- ``is_overdue`` / ``overdue_cases``: open cases past 36 hours, for the hourly ``moderation-overdue`` flow,
  which emits ``somearkiv.moderation.overdue`` (account as resource) for each.

Personal data (the quote, the reason, names) is kept in the case only: logs and events carry case ids.
"""

from __future__ import annotations

import datetime as dt
import html.parser
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from somearkiv import __version__
from somearkiv.log import get_logger
from somearkiv.models import Account, AuditEvent, Captured, CaptureStatus, FileRole, ModerationCase, Trigger
from somearkiv.retention import read_retention_schedule, records_lock
from somearkiv.settings import Settings
from storage import Archive
from tasks.capture import capture_account
from tasks.events import emit

__all__ = [
    "EVIDENCE_CLASS",
    "LIMIT",
    "WARN_AFTER",
    "CaseClock",
    "EvidenceError",
    "StillShown",
    "case_clock",
    "confirm_removed",
    "is_overdue",
    "open_case",
    "overdue_cases",
    "parse_reported_at",
    "raise_overdue",
    "removal_proof",
]

EVIDENCE_CLASS = "bevis-moderering"  # config/retention.yaml: restricted, gallras after 2 years
LIMIT = dt.timedelta(hours=48)  # the policy: removed at the latest within 48 hours of the report
WARN_AFTER = dt.timedelta(hours=36)  # open cases past this raise somearkiv.moderation.overdue
STOCKHOLM = ZoneInfo("Europe/Stockholm")


class EvidenceError(Exception):
    """A request that cannot be carried out (unknown case, bad time, a wall instead of the page)."""


class StillShown(Exception):
    """The re-capture still shows the content: the case is not changed."""


# -- the clock (pure) ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseClock:
    """The 48-hour clock of one case at a moment."""

    hours: float  # from the report to the removal, or to now while open
    limit_kept: bool | None  # None: open and still within the limit
    overdue: bool  # open past WARN_AFTER: the overdue event is raised


def case_clock(case: ModerationCase, now: dt.datetime) -> CaseClock:
    """How long the case took (or has been open), and whether the 48-hour limit was kept."""
    end = case.removed_at if case.status == "removed" and case.removed_at else now
    taken = end - case.reported_at
    if case.status == "removed":
        kept: bool | None = taken <= LIMIT
    else:
        kept = False if taken > LIMIT else None
    return CaseClock(hours=round(taken.total_seconds() / 3600, 1), limit_kept=kept, overdue=is_overdue(case, now))


def is_overdue(case: ModerationCase, now: dt.datetime) -> bool:
    """An open case reported more than 36 hours ago: someone must act before the 48 hours run out."""
    return case.status == "open" and now - case.reported_at > WARN_AFTER


def overdue_cases(cases: Iterable[ModerationCase], now: dt.datetime) -> list[ModerationCase]:
    return [case for case in cases if is_overdue(case, now)]


def parse_reported_at(value: str, now: dt.datetime) -> dt.datetime:
    """An ISO 8601 time (without a zone: Swedish time); refused in the future."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise EvidenceError(f"--reported-at {value!r} is not a time (YYYY-MM-DDTHH:MM, Swedish time, "
                            "or with an offset)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STOCKHOLM)
    if moment > now + dt.timedelta(minutes=5):
        raise EvidenceError(f"--reported-at {value!r} is in the future")
    return moment.astimezone(dt.UTC)


# -- what the page shows ---------------------------------------------------------------------------------------


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "noscript", "template"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript", "template") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def page_text(captured: Captured) -> str:
    """The page's text as the browser had it (its DOM after load), whitespace and case aside."""
    dom = captured.path(FileRole.dom)
    if dom is None or not dom.exists():
        return ""
    parser = _Text()
    parser.feed(dom.read_text(encoding="utf-8", errors="replace"))
    return _normal(" ".join(parser.parts))


def removal_proof(captured: Captured, quote: str | None) -> str | None:
    """How a re-capture shows the content gone ('http-404', 'http-410', 'quote-absent'); None: still shown.

    A wall (login, bot check, another site) proves nothing and raises EvidenceError."""
    record = captured.record
    status = record.page.http_status
    if status in (404, 410):
        return f"http-{status}"
    if record.status is CaptureStatus.blocked:
        wall = record.wall.kind if record.wall else "unknown"
        raise EvidenceError(f"the page could not be seen ({wall}: {record.wall.reason if record.wall else ''}); "
                            "nothing shows whether the content is gone")
    if quote and _normal(quote) not in page_text(captured):
        return "quote-absent"
    return None


# -- opening and closing a case ------------------------------------------------------------------------------


def _announce() -> bool:
    """Send Prefect events only to a configured server (never start Prefect's temporary one for a command)."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def _audit(archive: Archive, outcome: str, detail: str, *, account_id: str, person: str,
           objects: Iterable[str] = (), data: dict) -> None:
    """The case's audit event (as tasks.audit.record_event files it), and the Prefect event
    ``somearkiv.moderation`` when a server is configured. *data* carries case ids, never personal data."""
    if _announce():
        from tasks.audit import record_event

        record_event(archive, "moderation", outcome, detail, account_id=account_id, objects=objects, person=person,
                     data=data)
        return
    now = dt.datetime.now(dt.UTC)
    archive.file_audit(AuditEvent(event_id=str(uuid.uuid4()), event_type="moderation", event_datetime=now,
                                  outcome=outcome, detail=detail, account_id=account_id, objects=tuple(objects),
                                  agents=(f"software:somearkiv/{__version__}", f"person:{person}"), data=data),
                       records_lock(now))



def _evidence_account(account: Account, url: str) -> Account:
    """The registered account with this page as its URL and the evidence class (validated: http/https only)."""
    try:
        return Account.model_validate({**account.model_dump(), "url": url, "retention_class": EVIDENCE_CLASS})
    except ValueError as exc:
        raise EvidenceError(f"{url!r} is not an http(s) address: {exc.errors()[0]['msg']}") from None


def _capture(account: Account, url: str, municipality: str, reason: str, by: str,
             settings: Settings) -> Captured:
    """The page, captured like any capture (same engine, same record), and made PDF/A."""
    from tasks.pdfa import convert_to_pdfa

    captured = capture_account(_evidence_account(account, url), municipality=municipality, trigger=Trigger.evidence,
                               reason=reason, requested_by=by, settings=settings)
    return convert_to_pdfa.fn(captured)


def _lock(settings: Settings, when: dt.datetime):
    schedule = read_retention_schedule(settings.retention_config)
    if EVIDENCE_CLASS not in schedule.ids:
        raise EvidenceError(f"the retention class {EVIDENCE_CLASS!r} is missing from {settings.retention_config}: "
                            "add it (README, 'Evidence before removal')")
    return schedule.get(EVIDENCE_CLASS).lock_for(when)


def open_case(archive: Archive, settings: Settings, account: Account, municipality: str, url: str, *, reason: str,
              reported_at: dt.datetime, reported_by: str, quote: str | None = None,
              now: dt.datetime | None = None) -> ModerationCase:
    """Capture *url* as evidence and open a moderation case for it; return the case as filed.

    archive: the pipeline identity (files new, locked objects; never reads evidence back)."""
    now = now or dt.datetime.now(dt.UTC)
    lock = _lock(settings, now)
    captured = _capture(account, url, municipality, reason, reported_by, settings)
    try:
        record = captured.record
        case_id = f"{account.id}/{record.started_at.astimezone(dt.UTC):%Y-%m-%dT%H%M%SZ}"
        log = get_logger(account=account.id, case_id=case_id)
        if record.status is not CaptureStatus.captured:
            wall = record.wall.kind if record.wall else "unknown"
            log.warning("moderation.not_opened", capture_id=record.capture_id, wall=wall)
            raise EvidenceError(f"blocked ({wall}: {record.wall.reason if record.wall else ''}): the page was not "
                                "captured, no case was opened")
        filed = archive.file_evidence(record, captured.folder, lock, case_id)
        case = archive.file_case(ModerationCase(
            case_id=case_id, account_id=account.id, url=url, reason=reason, quote=quote or None,
            reported_at=reported_at, reported_by=reported_by, opened_at=now, evidence_capture_id=filed.capture_id,
            evidence_at=filed.started_at, evidence_record_key=filed.record_key, retention_class=EVIDENCE_CLASS,
            software={"somearkiv": __version__}), lock)
    finally:
        shutil.rmtree(captured.folder, ignore_errors=True)  # personal data: no local copy is kept
    _audit(archive, "success", f"moderation case {case.case_id} opened; evidence {filed.capture_id}",
           account_id=account.id, person=reported_by,
           objects=[f"{f.key}?versionId={f.version_id}" for f in filed.files] + [case.record_key or ""],
           data={"case_id": case.case_id, "action": "opened", "evidence_capture_id": filed.capture_id,
                 "reported_at": reported_at.isoformat(), "evidence_at": filed.started_at.isoformat()})
    log.info("moderation.opened", evidence_capture_id=filed.capture_id)
    return case


def confirm_removed(reader: Archive, writer: Archive, settings: Settings, account: Account, municipality: str,
                    case_id: str, by: str, now: dt.datetime | None = None) -> ModerationCase:
    """Capture the case's page again and, when it shows the content gone, file that as the case's next
    version; raise StillShown (nothing changed but an audit event) when it is still there.

    reader: the auditor or archivist identity (reads the case); writer: the pipeline identity."""
    case = reader.read_case(case_id)
    if case is None:
        raise EvidenceError(f"no moderation case {case_id!r} (`somearkiv evidence list`)")
    if case.status != "open":
        raise EvidenceError(f"moderation case {case_id} is already closed ({case.status} at "
                            f"{case.removed_at:%Y-%m-%d %H:%M} UTC)")
    log = get_logger(account=case.account_id, case_id=case_id)
    lock = _lock(settings, now or dt.datetime.now(dt.UTC))
    captured = _capture(account, case.url, municipality, f"moderation case {case_id}: removal check", by, settings)
    try:
        proof = removal_proof(captured, case.quote)
        if proof is None:
            log.warning("moderation.still_shown", capture_id=captured.record.capture_id)
            _audit(writer, "warning", f"moderation case {case_id}: removal not confirmed, the page still shows "
                   "the content", account_id=case.account_id, person=by,
                   data={"case_id": case_id, "action": "removal-refused"})
            raise StillShown(f"the page still shows the content{' (the quote was found)' if case.quote else ''}: "
                             f"case {case_id} is unchanged")
        filed = writer.file_evidence(captured.record, captured.folder, lock, case_id)
    finally:
        shutil.rmtree(captured.folder, ignore_errors=True)
    removed = case.model_copy(update={
        "version": case.version + 1, "status": "removed", "removed_at": filed.started_at, "removed_by": by,
        "removal_capture_id": filed.capture_id, "removal_record_key": filed.record_key, "removal_proof": proof,
        "previous_key": case.record_key, "lock": None, "filed_at": None, "record_key": None})
    removed = writer.file_case(removed, lock)
    clock = case_clock(removed, removed.removed_at or filed.started_at)
    _audit(writer, "success" if clock.limit_kept else "warning",
           f"moderation case {case_id}: removal confirmed ({proof}) after {clock.hours} h; 48-hour limit "
           f"{'kept' if clock.limit_kept else 'EXCEEDED'}", account_id=case.account_id, person=by,
           objects=[f"{f.key}?versionId={f.version_id}" for f in filed.files] + [removed.record_key or ""],
           data={"case_id": case_id, "action": "removed", "removal_proof": proof,
                 "removal_capture_id": filed.capture_id, "hours": clock.hours, "limit_kept": clock.limit_kept})
    log.info("moderation.removed", proof=proof, hours=clock.hours, limit_kept=clock.limit_kept)
    return removed


def raise_overdue(reader: Archive, now: dt.datetime | None = None) -> list[ModerationCase]:
    """Emit ``somearkiv.moderation.overdue`` for every open case past 36 hours (each hour while it stays
    open); return them. reader: the auditor identity."""
    now = now or dt.datetime.now(dt.UTC)
    cases = [case for case in (reader.read_case(case_id) for case_id in reader.case_ids()) if case is not None]
    late = overdue_cases(cases, now)
    for case in late:
        clock = case_clock(case, now)
        deadline = case.reported_at + LIMIT
        get_logger(account=case.account_id, case_id=case.case_id).warning(
            "moderation.overdue", hours_open=clock.hours, deadline=deadline.isoformat())
        if _announce():
            emit("moderation.overdue", case.account_id, case_id=case.case_id, hours_open=clock.hours,
                 reported_at=case.reported_at.isoformat(), deadline=deadline.isoformat(),
                 limit_exceeded=clock.limit_kept is False)
    return late
