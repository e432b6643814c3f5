"""check_metrics: is the metrics set-up right? Followers and posts of each account now, no archiving."""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed, State

from somearkiv.runstate import failed_state
from somearkiv.settings import get_settings
from tasks.metrics.check import check_metrics_setup
from tasks.register import load_register, select_accounts
from tasks.retention import load_retention_schedule

__all__ = ["check_metrics"]


@flow(name="check-metrics")
def check_metrics(account_id: str | None = None, register_path: str | None = None) -> State:
    """Read followers and posts of every active account (or one) now, through the platforms' APIs.

    account_id: only this account (its id in the register); default every active account.
    The run fails when an account whose API credential is set cannot be read.
    """
    settings = get_settings()
    schedule = load_retention_schedule(str(settings.retention_config))
    register = load_register(str(register_path or settings.register_path), sorted(schedule.ids))
    accounts = select_accounts(register, [account_id] if account_id else None)
    checks = check_metrics_setup(accounts, settings.metrics_window)
    failed = [c.account_id for c in checks if c.failed]
    if failed:
        return failed_state(f"{len(failed)} of {len(checks)} accounts with API credentials could not be read: "
                            + ", ".join(failed), checks)
    return Completed(message=f"{len(checks)} accounts checked; every configured API answered")
