"""publish_register: the public list of accounts (förteckning, P6), filed in the bucket and written
where the website picks it up."""

from __future__ import annotations

from prefect import flow

from somearkiv.settings import get_settings
from tasks.forteckning import file_forteckning
from tasks.register import load_register
from tasks.retention import load_retention_schedule

__all__ = ["publish_register"]


@flow(name="publish-register")
def publish_register(out_dir: str | None = None, register_path: str | None = None) -> list[str]:
    """The förteckning as HTML and JSON: kept in the archive (what was published when) and, with
    out_dir (default SOMEARKIV_PUBLISH_DIR), written where the website serves it from."""
    settings = get_settings()
    schedule = load_retention_schedule(str(settings.retention_config))
    register = load_register(str(register_path or settings.register_path), sorted(schedule.ids))
    return file_forteckning(register, out_dir or (str(settings.publish_dir) if settings.publish_dir else None))
