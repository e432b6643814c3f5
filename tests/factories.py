"""Small builders for domain objects used by several tests."""

from __future__ import annotations

import datetime as dt
import zlib
from pathlib import Path

from somearkiv.models import (
    Account,
    BrowserInfo,
    CaptureRecord,
    CaptureStatus,
    PageInfo,
    Platform,
    Trigger,
    make_capture_id,
)

SHORT_GALLRING_S = 4  # seconds of gallringsfrist of the 'kort' class in the schedule_file fixture (conftest)


def account(**overrides) -> Account:
    values = dict(id="perstorp-facebook", platform=Platform.facebook, handle="perstorpskommun",
                  name="Perstorps kommun", url="https://www.facebook.com/perstorpskommun",
                  department="Kommunledningsförvaltningen", responsible="Kommunikatör",
                  substitute="Kommunsekreterare", purpose="Information", opened=dt.date(2012, 5, 2))
    return Account(**{**values, **overrides})


def record(started_at: dt.datetime | None = None, trigger: Trigger = Trigger.manual, **overrides) -> CaptureRecord:
    started_at = started_at or dt.datetime(2026, 7, 1, 4, 0, 0, tzinfo=dt.UTC)
    acc = overrides.pop("account", None) or account()
    values = dict(
        capture_id=make_capture_id(acc.id, started_at, trigger), municipality="Perstorps kommun", account=acc,
        trigger=trigger, reason="inför byte av profilbild", status=CaptureStatus.captured, started_at=started_at,
        finished_at=started_at + dt.timedelta(seconds=9),
        page=PageInfo(requested_url=str(acc.url), final_url=str(acc.url), http_status=200, title="Perstorp"),
        browser=BrowserInfo(name="chromium", version="156.0", user_agent="test", viewport_width=1366,
                            viewport_height=900, device_scale_factor=1.0, locale="sv-SE",
                            timezone="Europe/Stockholm", page_height=3000),
        retention_class=acc.retention_class, software={"somearkiv": "0.1.0"},
    )
    return CaptureRecord(**{**values, **overrides})


def capture_files(folder, started_at: dt.datetime, content: bytes = b"<html>Perstorp</html>", **overrides):
    """A small capture on disk (a PNG-ish file and the HTML) and its record, ready to be filed."""
    from somearkiv.fixity import sha256_file
    from somearkiv.models import ArchivedFile, FileRole

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "page.html").write_bytes(content)
    (folder / "startpage.png").write_bytes(b"\x89PNG fake " + content)
    files = tuple(
        ArchivedFile(name=name, role=role, media_type=mt, size=(folder / name).stat().st_size,
                     sha256=sha256_file(folder / name))
        for name, role, mt in [("startpage.png", FileRole.screenshot, "image/png"),
                               ("page.html", FileRole.dom, "text/html; charset=utf-8")])
    return record(started_at=started_at, files=files, **overrides), folder


def png_in_chunks(png: Path, size: int) -> None:
    """Rewrite *png* with its image data in IDAT chunks of *size* bytes, as Chromium writes them (4 KB)."""
    from tasks.archival_pdf import _png_chunks

    data = png.read_bytes()
    chunks = list(_png_chunks(data))
    idat = b"".join(body for kind, body in chunks if kind == b"IDAT")
    out = [data[:8]]
    for kind, body in chunks:
        if kind == b"IDAT" and idat is None:
            continue  # all of it went out in the first IDAT's place
        parts = [idat[i:i + size] for i in range(0, len(idat), size)] if kind == b"IDAT" else [body]
        for part in parts:
            out += [len(part).to_bytes(4, "big"), kind, part, zlib.crc32(part, zlib.crc32(kind)).to_bytes(4, "big")]
        if kind == b"IDAT":
            idat = None
    png.write_bytes(b"".join(out))
