"""The archival document of a capture: startpage.pdf, PDF/A-2b, with its metadata from the record.

The conversion itself is tasks.archival_pdf (what the file is made of and how it is checked). The
snapshot flows run it in worker processes of their own (tasks.pdfa_worker; SOMEARKIV_PDFA_PROCESSES,
0 = in the flow's process), so this module imports none of the PDF libraries: the flow's process,
which holds the browser, stays lean, and a conversion that fails, runs out of memory or time, or
dies costs its capture the archival PDF only, never the round.

On failure the capture is still filed (PNG, HTML, print PDF, WARC) and its record says
``pdfa.valid: false`` with the findings; nothing pretends to be PDF/A.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv.fixity import sha256_file
from somearkiv.log import get_logger
from somearkiv.models import ArchivedFile, Captured, CaptureRecord, CaptureStatus, FileRole, PdfaInfo
from somearkiv.settings import get_settings
from tasks.pdfa_job import ConversionJob, Converted, Written
from tasks.pdfa_worker import ConversionProcesses, WorkerDied

__all__ = ["convert_to_pdfa", "make_archival_pdf", "pdfa_info", "warm_converter", "xmp_fields"]


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def xmp_fields(record: CaptureRecord, png_sha256: dict[str, str]) -> dict[str, object]:
    """The document metadata, derived from the capture record (PDF/A permits only standard schemas)."""
    account = record.account
    local = record.started_at.astimezone(ZoneInfo("Europe/Stockholm"))
    title = f"Ögonblicksbild av {account.name} på {account.platform.value} ({account.handle}), {local:%Y-%m-%d}"
    description = (
        f"Skärmdump av kontots startsida {account.url}, tagen {local:%Y-%m-%d %H:%M} (Europe/Stockholm), "
        f"{_iso(record.started_at)} (UTC), utlösare: {record.trigger.value}"
        + (f", skäl: {record.reason}" if record.reason else "")
        + (f", begärd av: {record.requested_by}" if record.requested_by else "")
        + f". Upprättad av {record.municipality}, {account.department}. "
        f"Sida 1: dator ({record.browser.viewport_width} px bred)"
        + (", sida 2: mobil" if len(png_sha256) > 1 else "")
        + f". Programvara: somearkiv {record.software.get('somearkiv', '?')}, Chromium {record.browser.version}."
        + _metrics_sentence(record)
    )
    return {
        "dc:title": title,
        "dc:creator": [record.municipality, account.department],
        "dc:description": description,
        "dc:source": str(account.url),
        "dc:identifier": record.capture_id,
        "dc:publisher": [record.municipality],
        "dc:subject": [
            f"account:{account.id}",
            f"platform:{account.platform.value}",
            f"trigger:{record.trigger.value}",
            f"captured-at:{_iso(record.started_at)}",
            f"captured-at-stockholm:{local.isoformat(timespec='seconds')}",
            *(f"sha256:{name}:{digest}" for name, digest in png_sha256.items()),
            *_metric_subjects(record),
        ],
        "dc:type": ["Image"],
        "dc:language": ["sv"],
        "xmp:CreateDate": _iso(record.started_at),
        "xmp:ModifyDate": _iso(record.started_at),
        "xmp:MetadataDate": _iso(record.started_at),
        "xmp:CreatorTool": f"somearkiv {record.software.get('somearkiv', '?')} / Chromium {record.browser.version}",
        "pdf:Keywords": f"ögonblicksbild; allmän handling; {account.platform.value}; {account.id}",
    }


def _shown(value) -> str:
    if value.value is None:
        return f"okänt / unknown ({value.unavailable or value.source})"
    return f"{value.value} ({value.source}, {value.confidence.value if value.confidence else '?'})"


def _metrics_sentence(record: CaptureRecord) -> str:
    m = record.metrics
    if m is None:
        return ""
    return (f" Följare: {_shown(m.followers)}. Skrivna inlägg {m.window_start:%Y-%m-%d}–{m.window_end:%Y-%m-%d}: "
            f"{_shown(m.posts_last_month)}.")


def _metric_subjects(record: CaptureRecord) -> list[str]:
    m = record.metrics
    if m is None:
        return []
    return [f"followers:{m.followers.value if m.followers.value is not None else 'unknown'}:{m.followers.source}",
            f"posts-last-month:{m.posts_last_month.value if m.posts_last_month.value is not None else 'unknown'}:"
            f"{m.posts_last_month.source}"]


def pdfa_info(written: Written) -> PdfaInfo:
    """The record's account of a startpage.pdf that was written and validated."""
    return PdfaInfo(valid=True, validator=written.validator, findings=written.findings, pages=written.pages,
                    text_layer="unicode" if written.words else "none", words=written.words)


def _failed(error: str) -> PdfaInfo:
    from importlib.metadata import version
    return PdfaInfo(valid=False, validator=f"pikepdf {version('pikepdf')}", findings=(error[:2000],), pages=0,
                    conformance=None)


def _pages(png: Path, mobile: Path | None, words: dict[str, Path | None]) -> tuple[tuple[str, str | None], ...]:
    """(png, word-box file) per page: desktop, then mobile when there is one."""
    views = [("desktop", png)] + ([("mobile", mobile)] if mobile is not None else [])
    return tuple((str(image), None if words.get(view) is None else str(words[view])) for view, image in views)


def _xmp(record: CaptureRecord, pages: tuple[tuple[str, str | None], ...]) -> dict[str, object]:
    """The document metadata for *pages*: from the record, with each page's PNG's SHA-256."""
    return xmp_fields(record, {Path(image).name: sha256_file(image) for image, _ in pages})


def make_archival_pdf(png: Path, out: Path, record: CaptureRecord, *, mobile: Path | None = None,
                      words: dict[str, Path | None] | None = None, text_layer: bool = True) -> PdfaInfo:
    """The capture's startpage.pdf, written in this process: the desktop (and mobile) screenshot,
    metadata from *record*; raises PdfaConversionError when it cannot be made valid and faithful.

    words: per view ("desktop", "mobile"), the capture's word-box file (the words the browser drew).
    """
    from tasks.archival_pdf import read_pages, write_pdfa

    pages = _pages(png, mobile, words or {})
    return pdfa_info(write_pdfa(read_pages(pages), out, _xmp(record, pages), text_layer=text_layer))


def _file_entry(path: Path, role: FileRole, media_type: str) -> ArchivedFile:
    return ArchivedFile(name=path.name, role=role, media_type=media_type, size=path.stat().st_size,
                        sha256=sha256_file(path))


class _Converter:
    """Where conversions run: worker processes (size > 0; started once, ended when this process
    ends) or, with size 0, this process, one per core at once (a conversion is CPU-bound, so
    more at once finish no sooner; each holds a page's images and streams, so they only add memory)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processes: ConversionProcesses | None = None
        self._here = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))
        atexit.register(self.close)

    def run(self, job: ConversionJob, processes: int, memory_mb: int = 2048, timeout_s: float = 600.0) -> Converted:
        if processes == 0:
            from tasks.archival_pdf import convert
            with self._here:
                return convert(job)
        try:
            return self._pool((processes, memory_mb, timeout_s)).run(job)
        except WorkerDied as exc:
            return Converted(error=str(exc))

    def warm(self, processes: int, memory_mb: int = 2048, timeout_s: float = 600.0) -> None:
        """A worker process started ahead of the first conversion (ConversionProcesses.warm)."""
        if processes > 0:
            self._pool((processes, memory_mb, timeout_s)).warm()

    def _pool(self, shape: tuple[int, int, float]) -> ConversionProcesses:
        """The processes for (size, memory_mb, timeout_s), started afresh when the settings changed."""
        with self._lock:
            pool = self._processes
            if pool is None or (pool.size, pool.memory_mb, pool.timeout_s) != shape:
                if pool is not None:
                    pool.close()
                self._processes = ConversionProcesses(*shape)
            return self._processes

    def pids(self) -> list[int]:
        """The worker processes running now."""
        with self._lock:
            return [] if self._processes is None else self._processes.pids()

    def close(self) -> None:
        with self._lock:
            if self._processes is not None:
                self._processes.close()
                self._processes = None


CONVERTER = _Converter()


def warm_converter() -> None:
    """The conversion's worker process started now, ahead of a round's first conversion: its start
    overlaps the first page's load (ConversionProcesses.warm)."""
    settings = get_settings()
    CONVERTER.warm(settings.pdfa_processes, settings.pdfa_memory_mb, settings.pdfa_timeout_s)


@task(name="convert-to-pdfa", cache_policy=NO_CACHE)
def convert_to_pdfa(captured: Captured) -> Captured:
    """Task: add startpage.pdf (PDF/A-2b) and, where it validates, page-pdfa.pdf beside Chromium's
    own print PDF (which is kept as it was). A failure is recorded, never hidden."""
    if captured.record.status is not CaptureStatus.captured:
        return captured  # a wall's evidence is not made into an ögonblicksbild
    return _converted(captured)


def _converted(captured: Captured) -> Captured:
    record, folder = captured
    log = get_logger(account=record.account.id, capture_id=record.capture_id)
    settings = get_settings()
    out = folder / "startpage.pdf"
    pages = _pages(captured.path(FileRole.screenshot), captured.path(FileRole.screenshot_mobile),
                   {view: captured.path(FileRole.words, f"words-{view}") for view in ("desktop", "mobile")})
    printed = captured.path(FileRole.print_pdf)
    derived = folder / "page-pdfa.pdf"
    job = ConversionJob(pages=pages, out=str(out), text_layer=settings.pdf_text_layer,
                        xmp=_xmp(record, pages),
                        printed=None if printed is None else str(printed),
                        derived=None if printed is None else str(derived))
    done = CONVERTER.run(job, settings.pdfa_processes, settings.pdfa_memory_mb, settings.pdfa_timeout_s)
    files = list(record.files)
    notes = list(record.notes)
    if done.written is not None:
        info = pdfa_info(done.written)
        info = info.model_copy(update={"validator": f"{info.validator} + {done.second_validator}"})
        files.insert(0, _file_entry(out, FileRole.archival, "application/pdf"))
        log.info("pdfa.valid", conformance=info.conformance, pages=info.pages, words=info.words,
                 size=files[0].size)
    else:
        out.unlink(missing_ok=True)
        info = _failed(done.error or "no answer")
        log.error("pdfa.failed", error=(done.error or "")[:500])
    if printed is not None:
        if done.print_ok:
            files.append(_file_entry(derived, FileRole.print_pdfa, "application/pdf"))
            notes.append("page.pdf: Chromium's print rendering, kept as it was; its PDF/A-2b copy, validated, "
                         "is page-pdfa.pdf")
        else:
            derived.unlink(missing_ok=True)
            notes.append("page.pdf: kept as a plain supporting PDF (not PDF/A): " + "; ".join(
                done.print_findings[:3] or ("the conversion did not finish",)))
    return captured.with_record(record.model_copy(update={"files": tuple(files), "pdfa": info,
                                                          "notes": tuple(notes)}))
