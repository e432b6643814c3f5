"""Retention classes (the informationshanteringsplan's rows for captures) and the archive's own
permanent-records lock: read from the archive's config file (config/retention.yaml).

The rules live here, in one place: which lock a class files with (``RetentionClass.lock_for``),
the archive's own records' lock, when a capture may be proposed for disposal, what keeps an
object version from being deleted, and whose holds may never be lifted. Plain domain code (no
Prefect), so storage can lock the ledger and the flows' tasks can share it.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from somearkiv.models import LockMode, ObjectLock, RetentionAction, RetentionClass
from somearkiv.yamlfile import load_model

__all__ = ["HoldRefused", "RetentionSchedule", "cached_schedule", "deletion_blocker", "read_retention_schedule",
           "records_lock"]


class HoldRefused(Exception):
    """A legal hold that is what keeps a capture permanently (a bevaras class) is never lifted."""


class RetentionSchedule(BaseModel):
    """The retention classes file (config/retention.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_class: str = "bevaras"
    classes: tuple[RetentionClass, ...]

    @model_validator(mode="after")
    def _ids(self) -> RetentionSchedule:
        ids = [c.id for c in self.classes]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate class ids: {', '.join(dupes)}")
        if self.default_class not in ids:
            raise ValueError(f"default_class {self.default_class!r} is not one of the classes")
        return self

    def get(self, class_id: str) -> RetentionClass:
        for c in self.classes:
            if c.id == class_id:
                return c
        raise KeyError(class_id)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(c.id for c in self.classes)

    def check_release(self, class_id: str, capture_id: str) -> None:
        """Refuse to lift the legal hold of a capture in a bevaras class: the hold keeps it for good."""
        if class_id in self.ids and self.get(class_id).action is RetentionAction.bevaras:
            raise HoldRefused(f"{capture_id} is in class {class_id!r} (bevaras): its legal hold is what keeps it "
                              "permanently and is not lifted")

    def disposable_class(self, class_id: str, lock: ObjectLock | None, now: dt.datetime) -> RetentionClass | None:
        """The class under which a capture may be proposed for disposal now: a 'gallras' class whose
        gallringsfrist (the retention date it was filed with) has passed; None otherwise."""
        klass = self.get(class_id) if class_id in self.ids else None
        if klass is None or klass.action is not RetentionAction.gallras or lock is None or lock.retain_until > now:
            return None
        return klass

    def permanent_lock(self, now: dt.datetime) -> ObjectLock:
        """The lock for the archive's own permanent records (audit trail, disposal protocols)."""
        for c in self.classes:
            if c.action is RetentionAction.bevaras:
                return c.lock_for(now)
        return ObjectLock(mode=LockMode.GOVERNANCE, retain_until=now + dt.timedelta(days=3650), legal_hold=True)


def read_retention_schedule(path: Path) -> RetentionSchedule:
    schedule, _node = load_model(Path(path), RetentionSchedule)
    return schedule


@lru_cache(maxsize=4)
def cached_schedule(path: str, mtime: float) -> RetentionSchedule:
    """read_retention_schedule, read again only when the file changes (pass its mtime)."""
    return read_retention_schedule(Path(path))


def records_lock(now: dt.datetime) -> ObjectLock:
    """The lock for the archive's own permanent records (audit trail, protocols, reports, deliveries),
    from the configured retention schedule."""
    from somearkiv.settings import get_settings  # settings import this module's neighbours

    path = get_settings().retention_config
    return cached_schedule(str(path), path.stat().st_mtime).permanent_lock(now)


def deletion_blocker(legal_hold: bool, retain_until: dt.datetime | None, now: dt.datetime) -> str | None:
    """What keeps one object version from being deleted now (its hold, its retention), or None."""
    if legal_hold:
        return "a legal hold was placed on it after the review"
    if retain_until is not None and retain_until > now:
        return f"its retention runs until {retain_until:%Y-%m-%d %H:%M:%S}Z"
    return None

