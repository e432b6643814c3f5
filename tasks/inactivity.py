"""Inactive accounts (policy: "Stäng de konton som är inaktiva"): no written posts, capture after capture."""

from __future__ import annotations

from collections.abc import Sequence

from somearkiv.models import CaptureRecord, CaptureStatus

__all__ = ["INACTIVE_LABEL", "follower_change", "is_inactive"]

INACTIVE_LABEL = "inaktiv – föreslås stängas"


def _captured(history: Sequence[CaptureRecord]) -> list[CaptureRecord]:
    return sorted((r for r in history if r.status is CaptureStatus.captured and r.metrics is not None),
                  key=lambda r: r.started_at)


def is_inactive(history: Sequence[CaptureRecord], in_a_row: int) -> bool:
    """True when the last *in_a_row* captures all counted zero written posts in their month.

    An unknown count breaks the run: an account is never called inactive on numbers nobody read.
    """
    recent = _captured(history)[-in_a_row:]
    return len(recent) == in_a_row and all(r.metrics.posts_last_month.value == 0 for r in recent)


def follower_change(history: Sequence[CaptureRecord]) -> int | None:
    """Followers now minus at the capture before (None when either is unknown)."""
    recent = _captured(history)[-2:]
    if len(recent) < 2:
        return None
    before, now = recent[0].metrics.followers.value, recent[1].metrics.followers.value
    return None if before is None or now is None else now - before
