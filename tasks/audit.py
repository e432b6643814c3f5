"""The audit trail: every capture, hold, release, fixity check, disposal review and deletion.

Each event is filed as its own locked JSON object under audit/ (append-only: nothing is ever
rewritten) and emitted as the Prefect event ``somearkiv.<event_type>`` with the account as
resource, so an operator can follow and automate on it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from somearkiv import __version__
from somearkiv.models import AuditEvent
from storage import Archive
from tasks.events import emit
from tasks.retention import records_lock

__all__ = ["record_event"]


def record_event(archive: Archive, event_type: str, outcome: str, detail: str, *, account_id: str | None = None,
                 objects: Iterable[str] = (), person: str | None = None, data: dict | None = None) -> AuditEvent:
    """File and emit one audit event; return it."""
    now = dt.datetime.now(dt.UTC)
    event = AuditEvent(
        event_id=str(uuid.uuid4()), event_type=event_type, event_datetime=now, outcome=outcome, detail=detail,
        account_id=account_id, objects=tuple(objects),
        agents=(f"software:somearkiv/{__version__}", *((f"person:{person}",) if person else ())),
        data=data or {},
    )
    archive.file_audit(event, records_lock(now))
    emit(event_type, account_id, outcome=outcome, detail=detail, event_id=event.event_id, **(data or {}))
    return event
