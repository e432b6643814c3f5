"""prune_expired: disposal (gallring) of expired captures, only with an archivist's approval (P8)."""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed, State

from tasks.approval import ask_person
from tasks.disposal import (
    approval_form,
    approved_candidates,
    dispose,
    file_protocol,
    find_expired,
    record_review,
    show_candidates,
)

__all__ = ["prune_expired"]


@flow(name="prune-expired")
def prune_expired(approval_timeout_s: int = 7 * 24 * 3600, poll_interval_s: int = 10) -> State:
    """Propose expired 'gallras' captures, wait for the archivist, dispose of what is approved.

    approval_timeout_s: how long the run waits for the answer; then nothing is deleted.
    """
    candidates = find_expired()
    if not candidates:
        return Completed(message="nothing has passed its gallringsfrist")
    show_candidates(candidates)
    answer, asked = ask_person(
        approval_form(candidates),
        sv=f"{len(candidates)} {'ögonblicksbild har' if len(candidates) == 1 else 'ögonblicksbilder har'} "
           "passerat sin gallringsfrist (se tabellen 'disposal-candidates'). Godkänn gallring av alla, av valda "
           "(välj capture-id), eller avslå.",
        en=f"{len(candidates)} capture{'' if len(candidates) == 1 else 's'} passed the retention period (see the "
           "'disposal-candidates' "
           "table). Approve disposal of all, of selected ones (choose capture ids), or reject.",
        timeout_s=approval_timeout_s, poll_interval_s=poll_interval_s, key="gallring",
    )
    approved = approved_candidates(candidates, answer)
    record_review(asked, candidates, approved)
    if not approved:
        why = "the review timed out" if asked.timed_out else "the archivist rejected it"
        return Completed(message=f"nothing disposed of: {why}")
    disposal = dispose(approved, asked.answered_by or "?", (asked.answer or {}).get("comment", ""))
    keys = file_protocol(approved, disposal, asked.model_dump(mode="json"))
    gone = [d for d in disposal.disposed if d.verified_gone]
    skipped = f"; {len(disposal.skipped)} not deleted (see the protocol)" if disposal.skipped else ""
    return Completed(message=f"{len(disposal.captures_disposed())} of {len(approved)} approved captures disposed of "
                             f"({len(gone)} object versions){skipped}; gallringsprotokoll {keys['json']}")
