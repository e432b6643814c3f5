"""prune_expired: disposal (gallring) of expired captures, only with an archivist's approval (P8)."""

from __future__ import annotations

from typing import Literal

from prefect import flow
from prefect.states import Completed, State
from pydantic import Field, create_model

from flows.approval import Answer, AskRecord, ask_person
from tasks.disposal import Candidate, dispose, file_protocol, find_expired, record_review, show_candidates

__all__ = ["DisposalApproval", "prune_expired", "approved_candidates"]


class DisposalApproval(Answer):
    """The archivist's answer: nothing is disposed of unless it says so."""

    decision: Literal["approve-all", "approve-selected", "reject"] = Field(
        default="reject", description="Godkänn alla / godkänn valda / avslå – approve all, selected, or reject")
    selected: list[str] = Field(default_factory=list,
                                description="Capture ids to dispose of, with 'approve-selected'")


def approval_form(candidates: list[Candidate]) -> type[DisposalApproval]:
    """The answer form for these candidates: 'selected' accepts only their capture ids, so an id
    that is not proposed is refused in the answer (the run stays paused), never silently ignored."""
    ids = tuple(c.capture_id for c in candidates)
    return create_model(
        "DisposalApproval", __base__=DisposalApproval,
        selected=(list[Literal[ids]], Field(default_factory=list, description=(
            "Välj ögonblicksbilder att gallra (med 'approve-selected') / capture ids to dispose of: "
            + ", ".join(ids)))),
    )


def approved_candidates(candidates: list[Candidate], answer: DisposalApproval | None) -> list[Candidate]:
    if answer is None or answer.decision == "reject":
        return []
    if answer.decision == "approve-all":
        return candidates
    unknown = set(answer.selected) - {c.capture_id for c in candidates}
    if unknown:
        raise ValueError(f"not proposed for disposal: {', '.join(sorted(unknown))}")
    return [c for c in candidates if c.capture_id in set(answer.selected)]


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
        sv=f"{len(candidates)} ögonblicksbilder har passerat sin gallringsfrist (se tabellen "
           "'disposal-candidates'). Godkänn gallring av alla, av valda (välj capture-id), eller avslå.",
        en=f"{len(candidates)} captures have passed their retention period (see the 'disposal-candidates' "
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
