"""The metrics step of a snapshot: followers and posts in the last month, at the capture's time."""

from __future__ import annotations

import os
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv.models import CaptureRecord, CaptureStatus, Metrics, MetricValue
from somearkiv.settings import get_settings
from tasks.metrics.base import Window, read_metrics
from tasks.metrics.page import read_page_metrics

__all__ = ["metrics_complete", "read_capture_metrics", "with_manual_metrics"]


def _window(record: CaptureRecord) -> Window:
    if get_settings().metrics_window == "calendar-month":
        return Window.calendar_month_before(record.started_at)
    return Window.last_30_days(record.started_at)


@task(name="read-metrics", cache_policy=NO_CACHE)
def read_capture_metrics(captured: tuple[CaptureRecord, Path]) -> tuple[CaptureRecord, Path]:
    """Task: the platform's API where set up (SOMEARKIV_METRICS_API), else what the captured page shows."""
    record, folder = captured
    if record.status is not CaptureStatus.captured:
        return captured
    html_file = folder / "page.html"
    html = html_file.read_text(encoding="utf-8") if html_file.exists() else None
    window = _window(record)
    if get_settings().metrics_api:
        metrics = read_metrics(record.account, window, env=os.environ, page_html=html)
    else:
        metrics = read_page_metrics(html or "", record.account.platform, record.finished_at, window)
    return record.model_copy(update={"metrics": metrics}), folder


def metrics_complete(record: CaptureRecord) -> bool:
    m = record.metrics
    return m is not None and m.followers.value is not None and m.posts_last_month.value is not None


def with_manual_metrics(record: CaptureRecord, followers: int | None, posts: int | None, by: str, when,
                        comment: str = "") -> CaptureRecord:
    """The numbers a person typed in, for the values nothing else could read."""
    m = record.metrics
    assert m is not None

    def manual(value: MetricValue, typed: int | None) -> MetricValue:
        if value.value is not None or typed is None:
            return value
        return MetricValue(value=typed, source="manual", read_at=when, confidence="high",
                           detail=f"entered by {by}" + (f": {comment}" if comment else "")
                           + (f" (before: {value.unavailable})" if value.unavailable else ""))

    updated = Metrics(**{**m.model_dump(), "followers": manual(m.followers, followers),
                         "posts_last_month": manual(m.posts_last_month, posts)})
    return record.model_copy(update={"metrics": updated})
