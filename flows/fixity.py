"""verify_fixity: the scheduled check that what is archived is still what was filed."""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed, State

from somearkiv.runstate import failed_state
from tasks.fixity import check_fixity, report_fixity

__all__ = ["verify_fixity"]


@flow(name="verify-fixity")
def verify_fixity(sample_share: float = 1.0, account_id: str | None = None) -> State:
    """Check every filed version against the custody ledger; any problem fails the run loudly.

    sample_share: 1 checks everything; 0.25 checks a rotating quarter, so four daily runs cover all.
    """
    checked = check_fixity(account_id, sample_share)
    problems = report_fixity(checked)
    if problems:
        return failed_state(f"FIXITY: {len(problems)} problem(s) in {len(checked)} groups: "
                            + "; ".join(f"{p.key} {p.status}" for p in problems[:10]), problems)
    return Completed(message=f"{len(checked) - 1} records and the ledger checked, all intact", data=[])
