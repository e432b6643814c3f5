"""Retention classes (the informationshanteringsplan's rows for captures) and the archive's own
permanent-records lock: read from the archive's config file (config/retention.yaml).

Plain domain code (no Prefect), so storage can lock the ledger and the flows' tasks can share it.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from somearkiv.models import LockMode, ObjectLock, RetentionAction, RetentionClass
from somearkiv.yamlfile import load_model

__all__ = ["RetentionSchedule", "cached_schedule", "read_retention_schedule", "records_lock"]


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
