"""Retention classes as a task; the schedule itself lives in somearkiv.retention."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from somearkiv.retention import RetentionSchedule, cached_schedule, read_retention_schedule, records_lock

__all__ = ["RetentionSchedule", "cached_schedule", "load_retention_schedule", "read_retention_schedule",
           "records_lock"]


@task(name="load-retention-schedule")
def load_retention_schedule(path: str) -> RetentionSchedule:
    """Task form of read_retention_schedule."""
    return read_retention_schedule(Path(path))
