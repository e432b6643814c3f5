"""publish_register: the public list of accounts (förteckning, P6), filed in the bucket and written
where the website picks it up."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from somearkiv.settings import get_settings
from tasks.register import load_register
from tasks.retention import load_retention_schedule

__all__ = ["publish_register"]


@task(name="write-forteckning", cache_policy=NO_CACHE)
def write_and_file(register, out_dir: str | None) -> list[str]:
    """Write index.html and accounts.json (to *out_dir* if given) and file them under public/forteckning/."""
    from storage import Archive
    from tasks.forteckning import write_forteckning
    from tasks.retention import cached_schedule

    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    archive = Archive.from_settings(settings, start_embedded=False)
    path = settings.retention_config
    lock = cached_schedule(str(path), path.stat().st_mtime).permanent_lock(now)
    keys = []
    with tempfile.TemporaryDirectory() as tmp:
        for file in write_forteckning(register, Path(out_dir or tmp), now):
            key = f"public/forteckning/{now:%Y-%m-%dT%H%M%SZ}/{file.name}"
            media = "text/html; charset=utf-8" if file.suffix == ".html" else "application/json"
            archive.file_document(key, file.read_bytes(), media, lock)
            keys.append(key)
    return keys


@flow(name="publish-register")
def publish_register(out_dir: str | None = None, register_path: str | None = None) -> list[str]:
    """The förteckning as HTML and JSON: kept in the archive (what was published when) and, with
    out_dir (default SOMEARKIV_PUBLISH_DIR), written where the website serves it from."""
    settings = get_settings()
    schedule = load_retention_schedule(str(settings.retention_config))
    register = load_register(str(register_path or settings.register_path), sorted(schedule.ids))
    return write_and_file(register, out_dir or (str(settings.publish_dir) if settings.publish_dir else None))
