"""export_sip: hand-over to the e-archive (P9) — one E-ARK SIP per account and period."""

from __future__ import annotations

import datetime as dt

from prefect import flow

from tasks.export import accounts_with_captures, build_account_sip

__all__ = ["export_sip"]


@flow(name="export-sip")
def export_sip(out_dir: str, account_id: str | None = None, start: dt.date | None = None,
               end: dt.date | None = None, zip_package: bool = False) -> list[dict]:
    """One E-ARK SIP per account of the captures taken from *start* up to (not including) *end*.

    Every object is read by the version the custody ledger says was filed (a newer version put over it
    neither blocks the export nor gets in). Each package is validated before it is kept, with only what
    is in it (tasks.sip.validate_sip); its captures are tagged as delivered (their locked bytes are never
    changed) and the export is an audit event.
    """
    begin = dt.datetime.combine(start, dt.time(), dt.UTC) if start else None
    until = dt.datetime.combine(end, dt.time(), dt.UTC) if end else None
    return [build_account_sip(a, begin, until, out_dir, zip_package) for a in accounts_with_captures(account_id)]
