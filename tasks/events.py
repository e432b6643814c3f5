"""Events out: what happened, as Prefect events an operator can automate on (mail, chat)."""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event

from somearkiv.log import get_logger

__all__ = ["emit"]


def emit(what: str, account_id: str | None = None, **payload: Any) -> None:
    """Emit ``somearkiv.<what>`` with the account as resource; never let a lost event fail the work."""
    resource = {"prefect.resource.id": f"somearkiv.account.{account_id}" if account_id else "somearkiv.archive",
                "prefect.resource.name": account_id or "archive"}
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():  # no server to tell: sending would start Prefect's temporary one (12-25 s)
        get_logger().info("event.not_sent", name=f"somearkiv.{what}", reason="no PREFECT_API_URL")
        return
    try:
        emit_event(event=f"somearkiv.{what}", resource=resource, payload=payload)
    except Exception as exc:  # events are a notification channel, not the record
        get_logger().warning("event.not_sent", name=f"somearkiv.{what}", error=str(exc))
