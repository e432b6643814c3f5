"""verify_fixity: the scheduled check that what is archived is still what was filed."""

from __future__ import annotations

import datetime as dt

from prefect import flow
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.fixity import check_capture_fixity, choose_sample, list_filed, report_fixity

__all__ = ["verify_fixity"]


@flow(name="verify-fixity", task_runner=ThreadPoolTaskRunner(max_workers=4))
def verify_fixity(sample_share: float = 1.0, account_id: str | None = None) -> State:
    """Re-read archived objects and compare with their records; any problem fails the run loudly.

    sample_share: 1 checks everything; 0.25 checks a rotating quarter, so four daily runs cover all.
    """
    records = choose_sample(list_filed(account_id), sample_share, dt.date.today())
    futures = {r.capture_id: check_capture_fixity.submit(r) for r in records}
    problems = report_fixity({capture_id: future.result() for capture_id, future in futures.items()})
    if problems:
        return Failed(message=f"FIXITY: {len(problems)} problem(s) in {len(records)} captures: "
                              + "; ".join(f"{p.key} {p.status}" for p in problems[:10]), data=problems)
    return Completed(message=f"{len(records)} captures checked, all intact", data=[])
