"""The metrics step of a snapshot: followers and posts in the last month, at the capture's time."""

from __future__ import annotations

import os
from typing import Annotated

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, wait
from pydantic import AfterValidator, BeforeValidator, Field, create_model

from somearkiv.models import Captured, CaptureRecord, CaptureStatus, FileRole, Metrics, MetricValue
from somearkiv.settings import get_settings
from tasks.approval import Answer, ask_person
from tasks.filing import remove_review_copies, stage_review_copies
from tasks.metrics import Window, read_metrics
from tasks.metrics.page import read_page_metrics

__all__ = ["ask_for_missing_metrics", "metrics_complete", "read_capture_metrics", "with_manual_metrics"]


def _window(record: CaptureRecord) -> Window:
    if get_settings().metrics_window == "calendar-month":
        return Window.calendar_month_before(record.started_at)
    return Window.last_30_days(record.started_at)


@task(name="read-metrics", cache_policy=NO_CACHE)
def read_capture_metrics(captured: Captured) -> Captured:
    """Task: the platform's API where set up (SOMEARKIV_METRICS_API), else what the captured page shows."""
    record = captured.record
    if record.status is not CaptureStatus.captured:
        return captured
    html_file = captured.path(FileRole.dom)
    html = html_file.read_text(encoding="utf-8") if html_file is not None and html_file.exists() else None
    window = _window(record)
    if get_settings().metrics_api:
        metrics = read_metrics(record.account, window, env=os.environ, page_html=html)
    else:
        metrics = read_page_metrics(html or "", record.account.platform, record.finished_at, window)
    return captured.with_record(record.model_copy(update={"metrics": metrics}))


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


def ask_for_missing_metrics(measured: dict[str, tuple[PrefectFuture, PrefectFuture]],
                            timeout_s: int) -> dict[str, Captured]:
    """One form for every account whose numbers nothing could read; the answers, applied.

    Runs in the flow (it pauses the run): *measured* holds each account's capture and metrics futures.
    """

    wait([counted for _, counted in measured.values()])
    missing = {account_id: counted.result() for account_id, (_, counted) in measured.items()
               if counted.state.is_completed() and counted.result()[0].status is CaptureStatus.captured
               and not metrics_complete(counted.result()[0])}
    if not missing:
        return {}
    links = stage_review_copies(list(missing.values()))
    fields, lines = {}, []
    for account_id, (record, _) in missing.items():
        slug = account_id.replace("-", "_")
        name = f"{record.account.name} ({record.account.platform.value})"
        # a text box validated as a number: Prefect's form shows `int | None` as a type switch set to None
        fields[f"{slug}_followers"] = (OptionalCount, Field(
            default="", title=f"{name}: följare", description=f"{account_id}: följare / followers (tomt = okänt)"))
        fields[f"{slug}_posts_last_month"] = (OptionalCount, Field(
            default="", title=f"{name}: inlägg senaste månaden",
            description=f"{account_id}: skrivna inlägg senaste månaden / posts last month (tomt = okänt)"))
        lines.append(f"- **{account_id}** ({record.account.platform.value}): [startsidan]({record.account.url}), "
                     f"[skärmdumpen / screenshot]({links.get(account_id, '#')})")
    form = create_model("ManualMetrics", __base__=Answer, **fields)
    answer, asked = ask_person(
        form, timeout_s=timeout_s, key="metrics",
        sv="Antal följare och skrivna inlägg senaste månaden kunde inte läsas för dessa konton. Fyll i "
           "siffrorna från plattformens statistik (lämna tomt om okänt):\n\n" + "\n".join(lines),
        en="Followers and posts in the last month could not be read for these accounts. Enter the numbers "
           "from the platform's statistics (leave empty if unknown).")
    remove_review_copies(list(links.values()))
    if answer is None:
        return {}
    return {account_id: captured.with_record(with_manual_metrics(
                captured.record, count(getattr(answer, f"{account_id.replace('-', '_')}_followers")),
                count(getattr(answer, f"{account_id.replace('-', '_')}_posts_last_month")), asked.answered_by or "?",
                asked.answered_at, answer.comment))
            for account_id, captured in missing.items()}


def _count_text(text: str) -> str:
    """Empty, or a whole number a person typed ('4 812' and '4812' alike)."""
    cleaned = text.replace(" ", "").replace("\u00a0", "")
    if cleaned and not cleaned.isdigit():
        raise ValueError("skriv ett heltal, eller lämna tomt om det är okänt / a whole number, or empty if unknown")
    return cleaned


OptionalCount = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v),
                          AfterValidator(_count_text)]


def count(text: str) -> int | None:
    return int(text) if text else None
