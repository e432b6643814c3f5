"""Hand-over to the e-archive: build one account's E-ARK SIP, mark its captures delivered, record it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv.settings import get_settings

__all__ = ["accounts_with_captures", "build_account_sip"]


@task(name="build-sip", cache_policy=NO_CACHE)
def build_account_sip(account_id: str, start: dt.datetime | None, end: dt.datetime | None, out_dir: str,
                      zip_package: bool) -> dict:
    """Build, validate and record one account's package; mark its captures delivered."""
    import json

    from storage import Archive
    from tasks.audit import record_event
    from tasks.sip import archive_fetch, build_sip, custody_versions, load_profile

    settings = get_settings()
    archive = Archive.connected(settings)
    state = archive.custody()
    records = [r for r in archive.list_captures(account_id, state=state)
               if (start is None or r.started_at >= start) and (end is None or r.started_at < end)]
    if not records:
        return {"account": account_id, "captures": 0, "package": None}
    profile = load_profile(settings.sip_profile)
    ca = settings.tsa_ca_file.read_bytes() if settings.tsa_ca_file else None
    # every object by the version the custody ledger says was filed (records are read so too), never the latest
    fetch = archive_fetch(archive, custody_versions(archive, records, state))
    path = build_sip(records, fetch, Path(out_dir), profile, zip_package=zip_package, tsa_ca_pem=ca)
    now = dt.datetime.now(dt.UTC)
    package_id = path.name.removesuffix(".zip")
    for record in records:
        archive.mark_delivered(record, package_id, now, state)
    delivery = {"package": package_id, "path": str(path), "account": account_id, "exported_at": now.isoformat(),
                "captures": [r.capture_id for r in records], "profile": profile.model_dump(mode="json")}
    archive.file_delivery(account_id, json.dumps(delivery, indent=2, ensure_ascii=False).encode(), now)
    record_event(archive, "sip-export", "success", f"{len(records)} captures of {account_id} exported as "
                 f"E-ARK SIP {package_id}", account_id=account_id,
                 objects=[r.record_key for r in records if r.record_key], data=delivery)
    return {"account": account_id, "captures": len(records), "package": str(path)}


@task(name="list-exported-accounts", cache_policy=NO_CACHE)
def accounts_with_captures(account_id: str | None) -> list[str]:
    from storage import Archive

    archive = Archive.connected(get_settings())
    return sorted({r.account.id for r in archive.list_captures(account_id)})
