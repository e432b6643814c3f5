"""Ask a person in the Prefect UI: pause the run with a form, wait (bounded), record the answer.

Used wherever the policy wants a human decision: an archivist approving disposal
(gallring), a communicator typing in counts the platforms would not give.
"""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field

from somearkiv.models import AskRecord

__all__ = ["Answer", "AskRecord", "ask_person"]


class Answer(RunInput):
    """What every answer carries: who answered, and why."""

    answered_by: str = Field(min_length=1, description="Ditt namn / Your name")
    comment: str = Field(default="", description="Kommentar / Comment")


A = TypeVar("A", bound=Answer)


def _carry_on() -> None:
    """After an unanswered pause, set the run back to Running so it can finish as what it is.

    The server fails a run whose pause expired, whatever it does next; the caller has decided
    what an unanswered question means (delete nothing, file without the numbers), so the run
    goes on and ends in the state that its own result gives.
    """
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext
    from prefect.states import Running

    context = FlowRunContext.get()
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(context.flow_run.id, Running(message="no answer: carrying on"), force=True)


def ask_person(form: type[A], *, sv: str, en: str, timeout_s: int, poll_interval_s: int = 5,
               key: str | None = None, **initial: object) -> tuple[A | None, AskRecord]:
    """Pause this flow run until someone fills in *form* in the UI, or *timeout_s* passes.

    sv / en: the question in Swedish and English (markdown), shown above the form.
    Returns the answer (None after a timeout) and the record of the exchange.
    """
    question = f"### {sv}\n\n_{en}_"
    asked = dt.datetime.now(dt.UTC)
    try:
        answer = pause_flow_run(wait_for_input=form.with_initial_data(description=question, **initial),
                                timeout=timeout_s, poll_interval=poll_interval_s, key=key)
    except FlowPauseTimeout:
        _carry_on()
        return None, AskRecord(question=f"{sv} / {en}", asked_at=asked, timed_out=True)
    return answer, AskRecord(question=f"{sv} / {en}", asked_at=asked, answered_at=dt.datetime.now(dt.UTC),
                             answered_by=answer.answered_by, answer=answer.model_dump(mode="json"))
