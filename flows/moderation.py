"""Moderation's clock: every hour, each open moderation case past 36 hours raises
``somearkiv.moderation.overdue`` (account as resource), so an automation can mail whoever must act before
the policy's 48 hours run out (tasks.evidence)."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from somearkiv.settings import get_settings
from storage import Archive
from tasks.evidence import raise_overdue
from tasks.filing import prepare_archive

__all__ = ["check_overdue_cases", "moderation_overdue"]

@task(name="check-overdue-cases", retries=2, retry_delay_seconds=30, cache_policy=NO_CACHE)
def check_overdue_cases() -> list[str]:
    """Task: emit the overdue event for each open case past 36 hours; return their case ids."""
    return [case.case_id for case in raise_overdue(Archive.connected(get_settings(), role="auditor"))]


@flow(name="moderation-overdue")
def moderation_overdue() -> list[str]:
    """Open moderation cases past 36 hours: each raises somearkiv.moderation.overdue; returns their case ids."""
    prepare_archive()  # starts the embedded S3 server if that is the set-up
    return check_overdue_cases()
