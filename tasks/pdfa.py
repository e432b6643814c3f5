"""The archival document: the full-page screenshot as a validated PDF/A-2b (startpage.pdf).

Recipe (measured, see NOTES.md): lossless PNG -> img2pdf at a fixed dpi chosen so no page
side exceeds 14 400 pt (ISO 19005-2 rule 6.1.13-11) -> pikepdf.pdfa, which adds the sRGB
OutputIntent and the PDF/A identification, writes, re-validates and refuses to write a file
that is not PDF/A. Then the written file is read back with an independent library (pypdf)
and its image is compared pixel for pixel with the PNG: any difference fails the conversion.
The output is deterministic: the same PNG and record give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from pathlib import Path

import img2pdf
import pikepdf
import pikepdf.pdfa
import pypdf
from PIL import Image
from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv.fixity import sha256_file
from somearkiv.log import get_logger
from somearkiv.models import ArchivedFile, CaptureRecord, CaptureStatus, FileRole, PdfaInfo

__all__ = ["MAX_PAGE_SIDE_PT", "PdfaConversionError", "convert_to_pdfa", "make_archival_pdf", "write_pdfa", "xmp_fields"]

MAX_PAGE_SIDE_PT = 14400
_BASE_DPI = 96
_FLAVOUR = "2b"
Image.MAX_IMAGE_PIXELS = None  # tall start pages are legitimately huge


class PdfaConversionError(Exception):
    """The PNG could not be made into a valid, faithful PDF/A."""


def _dpi_for(width: int, height: int) -> int:
    """96 dpi, or more for pages so tall that a side would pass 14 400 pt."""
    return max(_BASE_DPI, math.ceil(max(width, height) * 72 / (MAX_PAGE_SIDE_PT - 1)))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def xmp_fields(record: CaptureRecord, png_sha256: str) -> dict[str, object]:
    """The document metadata, derived from the capture record (PDF/A permits only standard schemas)."""
    account = record.account
    local = record.started_at.astimezone(_stockholm())
    title = f"Ögonblicksbild av {account.name} på {account.platform.value} ({account.handle}), {local:%Y-%m-%d}"
    description = (
        f"Skärmdump av kontots startsida {account.url}, tagen {local:%Y-%m-%d %H:%M} (Europe/Stockholm), "
        f"{_iso(record.started_at)} (UTC), utlösare: {record.trigger.value}"
        + (f", skäl: {record.reason}" if record.reason else "")
        + (f", begärd av: {record.requested_by}" if record.requested_by else "")
        + f". Upprättad av {record.municipality}, {account.department}. "
        f"Programvara: somearkiv {record.software.get('somearkiv', '?')}, Chromium {record.browser.version}."
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
            f"png-sha256:{png_sha256}",
        ],
        "dc:type": ["Image"],
        "dc:language": ["sv"],
        "xmp:CreateDate": _iso(record.started_at),
        "xmp:ModifyDate": _iso(record.started_at),
        "xmp:MetadataDate": _iso(record.started_at),
        "xmp:CreatorTool": f"somearkiv {record.software.get('somearkiv', '?')} / Chromium {record.browser.version}",
        "pdf:Keywords": f"ögonblicksbild; allmän handling; {account.platform.value}; {account.id}",
    }


def _stockholm() -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Stockholm")


def write_pdfa(png: Path, out: Path, xmp: dict[str, object]) -> PdfaInfo:
    """Write *png* as one-page PDF/A-2b to *out* with the *xmp* fields; validated, read back, compared.

    xmp must hold 'dc:identifier': the read-back check looks for it.
    """
    with Image.open(png) as image:
        if image.mode not in ("RGB", "L"):
            raise PdfaConversionError(f"screenshot has mode {image.mode}; an RGB PNG without alpha is expected")
        width, height = image.size
    dpi = _dpi_for(width, height)
    raw = img2pdf.convert(str(png), layout_fun=img2pdf.get_fixed_dpi_layout_fun((dpi, dpi)), nodate=True)
    with pikepdf.open(io.BytesIO(raw)) as pdf:
        if "/ID" in pdf.trailer:  # img2pdf's is random; let qpdf derive both halves from content
            del pdf.trailer.ID
        pikepdf.pdfa.prepare(pdf, _FLAVOUR)
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=True) as meta:
            for key, value in xmp.items():
                meta[key] = value
        try:
            report = pikepdf.pdfa.save(pdf, out, _FLAVOUR, repair=False, deterministic_id=True)
        except pikepdf.pdfa.PdfaError as exc:
            findings = [f"{f.rule} {f.where}: {f.message}" for f in exc.report.findings]
            raise PdfaConversionError("PDF/A validation failed: " + "; ".join(findings)) from exc
    pages = _read_back(out, png, str(xmp["dc:identifier"]))
    return PdfaInfo(valid=True, validator=f"pikepdf {pikepdf.__version__} ({report.flavour})",
                    findings=tuple(f"{f.rule}: {f.message}" for f in report.findings), pages=pages)


def make_archival_pdf(png: Path, out: Path, record: CaptureRecord) -> PdfaInfo:
    """The capture's startpage.pdf: *png* as PDF/A-2b with metadata derived from *record*."""
    return write_pdfa(png, out, xmp_fields(record, sha256_file(png)))


def _read_back(pdf_path: Path, png: Path, identifier: str) -> int:
    """Open the written file with pypdf and pikepdf and check it says and shows what it should."""
    reader = pypdf.PdfReader(pdf_path)
    if len(reader.pages) != 1:
        raise PdfaConversionError(f"expected 1 page, pypdf reads {len(reader.pages)}")
    xmp = reader.xmp_metadata
    if xmp is None or xmp.dc_identifier != identifier:
        raise PdfaConversionError("the XMP metadata did not survive the round trip")
    box = reader.pages[0].mediabox
    if max(float(box.width), float(box.height)) > MAX_PAGE_SIDE_PT:
        raise PdfaConversionError(f"page side exceeds {MAX_PAGE_SIDE_PT} pt")
    with pikepdf.open(pdf_path) as pdf, Image.open(png) as source:
        images = list(pdf.pages[0].images.values())
        if len(images) != 1:
            raise PdfaConversionError(f"expected 1 image on the page, found {len(images)}")
        embedded = pikepdf.PdfImage(images[0]).as_pil_image()
        if embedded.size != source.size or embedded.convert("RGB").tobytes() != source.convert("RGB").tobytes():
            raise PdfaConversionError("the image in the PDF differs from the screenshot")
    return 1


@task(name="convert-to-pdfa", cache_policy=NO_CACHE)
def convert_to_pdfa(captured: tuple[CaptureRecord, Path]) -> tuple[CaptureRecord, Path]:
    """Task: add startpage.pdf (PDF/A-2b) to a capture; fail visibly if it is not valid."""
    record, folder = captured
    if record.status is not CaptureStatus.captured:
        return captured  # a wall's evidence is not made into an ögonblicksbild
    log = get_logger(account=record.account.id, capture_id=record.capture_id)
    out = folder / "startpage.pdf"
    info = make_archival_pdf(folder / "startpage.png", out, record)
    archival = ArchivedFile(name=out.name, role=FileRole.archival, media_type="application/pdf",
                            size=out.stat().st_size, sha256=sha256_file(out))
    log.info("pdfa.valid", conformance=info.conformance, size=archival.size, validator=info.validator)
    return record.model_copy(update={"files": (archival, *record.files), "pdfa": info}), folder
