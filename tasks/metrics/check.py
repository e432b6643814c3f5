"""Is the metrics set-up right? Read followers and posts of each account now, without archiving.

For every account this says which source would be used (the platform's API, or the captured
page when no API is set up), the window, how many pages were read, the numbers, and what went
wrong in plain words. An account whose API credential is set but cannot be read is a failure:
that is a set-up to fix before the next half-yearly run, not something to find out after it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

from somearkiv.models import Account, MetricValue
from tasks.metrics.base import ADAPTERS, read_metrics
from tasks.metrics.core import Window

__all__ = ["MetricsCheck", "check_accounts", "check_metrics_setup", "format_checks"]


class MetricsCheck(BaseModel):
    """One account's metrics, read now."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    platform: str
    configured: bool  # an API adapter that can be used (its credential, where it needs one, and base URL)
    credential: bool  # an API credential is set for it
    source: str
    window: str
    followers: int | None
    posts_last_month: int | None
    detail: str  # pages read, how the numbers were read
    problem: str | None  # in plain words; None when both numbers were read

    @property
    def failed(self) -> bool:
        """An API whose credential is set, and that could not be read."""
        return self.credential and self.problem is not None


def _problem(value: MetricValue, what: str) -> str | None:
    return None if value.value is not None else f"{what}: {value.unavailable or 'unknown'}"


def check_account(account: Account, env: Mapping[str, str], now: dt.datetime, window_kind: str = "30d") -> MetricsCheck:
    window = Window.calendar_month_before(now) if window_kind == "calendar-month" else Window.last_30_days(now)
    adapter_cls = ADAPTERS.get(account.platform)
    adapter = None if adapter_cls is None else adapter_cls(env)
    why_not = "no API reader for this platform" if adapter is None else adapter.not_configured(account)
    if why_not is not None:
        return MetricsCheck(account_id=account.id, platform=account.platform.value, configured=False,
                            credential=False,
                            source="page", window=window.describe(), followers=None, posts_last_month=None,
                            detail="read from the captured start page at each capture",
                            problem=f"no API set up ({why_not}); the page is read at capture time")
    metrics = read_metrics(account, window, env=env)
    problems = [p for p in (_problem(metrics.followers, "followers"),
                            _problem(metrics.posts_last_month, "posts")) if p]
    return MetricsCheck(
        account_id=account.id, platform=account.platform.value, configured=True,
        credential=adapter.credential() is not None,
        source=metrics.posts_last_month.source, window=window.describe(), followers=metrics.followers.value,
        posts_last_month=metrics.posts_last_month.value,
        detail=metrics.posts_last_month.detail or metrics.followers.detail or "",
        problem="; ".join(problems) or None)


def check_accounts(accounts: Sequence[Account], env: Mapping[str, str] | None = None,
                   now: dt.datetime | None = None, window_kind: str = "30d") -> list[MetricsCheck]:
    env = os.environ if env is None else env
    now = now or dt.datetime.now(dt.UTC)
    return [check_account(a, env, now, window_kind) for a in accounts]


def format_checks(checks: Sequence[MetricsCheck]) -> str:
    """A markdown table, one row per account (Swedish and English headings)."""
    rows = ["| konto / account | källa / source | följare / followers | inlägg / posts | fönster / window | "
            "anmärkning / note |", "|---|---|---|---|---|---|"]
    for c in checks:
        status = ("**FEL / FAILED**: " if c.failed else "") + (c.problem or c.detail)
        rows.append(f"| {c.account_id} ({c.platform}) | {c.source} | "
                    f"{'okänt' if c.followers is None else c.followers} | "
                    f"{'okänt' if c.posts_last_month is None else c.posts_last_month} | {c.window} | {status} |")
    return "\n".join(rows)


@task(name="check-metrics-setup", cache_policy=NO_CACHE)
def check_metrics_setup(accounts: list[Account], window_kind: str = "30d") -> list[MetricsCheck]:
    """Task: read every account's numbers now and show the table as an artifact."""
    checks = check_accounts(accounts, window_kind=window_kind)
    failed = [c.account_id for c in checks if c.failed]
    create_markdown_artifact(
        "## Kontroll av mätvärden / metrics set-up check\n\n" + format_checks(checks)
        + (f"\n\n**{len(failed)} konto(n) med API-uppgifter kunde inte läsas / could not be read:** "
           + ", ".join(failed) if failed else "\n\nAlla konton med API-uppgifter lästes / every configured account "
           "was read."),
        key="metrics-check", description="Följare och inlägg nu, utan arkivering / followers and posts now")
    return checks
