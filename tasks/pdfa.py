"""The archival document: the screenshots as one validated, searchable PDF/A-2b (startpage.pdf).

Page 1 is the desktop screenshot, page 2 the mobile one, both lossless. Recipe (measured, see
NOTES.md): PNG -> img2pdf at a fixed dpi chosen per page so no side exceeds 14 400 pt
(ISO 19005-2 rule 6.1.13-11) -> an invisible text layer of the words the browser drew, where
it drew them (fpdf2, an embedded TrueType font with ToUnicode: the text is searchable and
copyable) -> pikepdf.pdfa, which adds the sRGB OutputIntent and the PDF/A identification,
writes, re-validates and refuses to write a file that is not PDF/A. Then the file is read
back with an independent library (pypdf) and each page's image is compared pixel for pixel
with its PNG: any difference fails the conversion. The same inputs give the same bytes.

On failure the capture is still filed (PNG, HTML, print PDF, WARC) and its record says
``pdfa.valid: false`` with the findings; nothing pretends to be PDF/A.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import img2pdf
import pikepdf
import pikepdf.pdfa
import pypdf
from PIL import Image
from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv.fixity import sha256_file
from somearkiv.log import get_logger
from somearkiv.models import ArchivedFile, Captured, CaptureRecord, CaptureStatus, FileRole, PdfaInfo
from somearkiv.settings import get_settings
from tasks.pdfcheck import check_pdf, pikepdf_validated

__all__ = [
    "MAX_PAGE_SIDE_PT",
    "PageImage",
    "PdfaConversionError",
    "convert_to_pdfa",
    "make_archival_pdf",
    "print_pdf_to_pdfa",
    "write_pdfa",
    "xmp_fields",
]

MAX_PAGE_SIDE_PT = 14400
_BASE_DPI = 96
_FLAVOUR = "2b"
_FONT = Path(__file__).parent / "vendor" / "fonts" / "DejaVuSans.ttf"
_JOINED = 0.1  # two words on a line this share of its height apart or less are one word
Image.MAX_IMAGE_PIXELS = None  # tall start pages are legitimately huge


Word = tuple[str, float, float, float, float]  # text, x, y, width, height


class PdfaConversionError(Exception):
    """The PNG could not be made into a valid, faithful PDF/A."""


@dataclass(frozen=True)
class PageImage:
    """One page: a PNG and, optionally, the words on it as [text, x, y, w, h] in CSS px times *scale*."""

    png: Path
    words: tuple[Word, ...] = ()
    scale: float = 1.0


def _dpi_for(width: int, height: int) -> int:
    """96 dpi, or more for pages so tall that a side would pass 14 400 pt."""
    return max(_BASE_DPI, math.ceil(max(width, height) * 72 / (MAX_PAGE_SIDE_PT - 1)))


def _layout(width_px: int, height_px: int, _ndpi: object) -> tuple[float, float, float, float]:
    """img2pdf layout: each page at its own dpi, the image filling the page."""
    dpi = _dpi_for(width_px, height_px)
    w, h = width_px * 72 / dpi, height_px * 72 / dpi
    return w, h, w, h


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


def _font() -> str | None:
    """The text layer's font: DejaVu Sans, bundled (tasks/vendor/fonts), so every machine writes the same bytes."""
    return str(_FONT) if _FONT.exists() else None


def _same_line(word: Word, other: Word) -> bool:
    """The two boxes share at least half the height of the shorter one: the same line of text."""
    _, _, y, _, h = word
    _, _, other_y, _, other_h = other
    return min(y + h, other_y + other_h) - max(y, other_y) >= min(h, other_h) / 2


def _joined(words: list[Word]) -> list[Word]:
    """*words* with each word whose box touches the previous one's on its line joined to it: one word
    the page drew from two text nodes (``Perstorp<b>s</b>``) is one word in the text layer too."""
    out: list[Word] = []
    for word in words:
        if out and _same_line(out[-1], word) and abs(word[1] - out[-1][1] - out[-1][3]) < _JOINED * out[-1][4]:
            text, x, y, _, h = out[-1]
            out[-1] = (text + word[0], x, y, word[1] + word[3] - x, h)
        else:
            out.append(word)
    return out


def _text_layers(pages: list[tuple[PageImage, int, float, float]], font: str) -> pikepdf.Pdf:
    """Invisible text, one page per (image, dpi, width pt, height pt): each word stretched over the box
    the browser drew it in.

    A word followed by another on its line is drawn with a space after it, in the same string (so
    extractors read a space whatever they think of the gap, and add none of their own); the last
    word of a line is drawn without one, and the next line's lower position ends the line. So
    pypdf and pdftotext give the page's words, a space apart, line by line. One document for all
    of a capture's pages: the font is read and subset once (measured: most of the layer's time).
    """
    from fpdf import FPDF
    from fpdf.enums import TextMode

    layer = FPDF(unit="pt")
    layer.set_auto_page_break(False)
    layer.set_creation_date(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))  # no wall clock in the output
    layer.add_font("text", fname=font)
    for page, dpi, width_pt, height_pt in pages:
        layer.add_page(format=(width_pt, height_pt))
        layer.set_font("text", size=10)
        layer.text_mode = TextMode.INVISIBLE
        to_pt = page.scale * 72 / dpi
        words = _joined([w for w in page.words if w[3] > 0 and w[4] > 0 and (w[2] + w[4]) * to_pt <= height_pt])
        for word, following in zip(words, [*words[1:], None]):
            text, x, y, w, h = word
            layer.set_font_size(max(1.0, h * to_pt * 0.8))
            natural = layer.get_string_width(text) * 100 / layer.font_stretching  # it measures as stretched now
            layer.set_stretching(max(1.0, 100 * w * to_pt / natural) if natural else 100)
            space = " " if following is not None and _same_line(word, following) else ""
            layer.text(x * to_pt, (y + h * 0.8) * to_pt, text + space)
    return pikepdf.open(io.BytesIO(bytes(layer.output())))


def write_pdfa(pages: list[PageImage], out: Path, xmp: dict[str, object], text_layer: bool = True) -> PdfaInfo:
    """Write *pages* as PDF/A-2b to *out* with the *xmp* fields; validated, read back, compared.

    xmp must hold 'dc:identifier': the read-back check looks for it.
    """
    sizes = []
    for page in pages:
        with Image.open(page.png) as image:
            if image.mode not in ("RGB", "L"):
                raise PdfaConversionError(f"{page.png.name} has mode {image.mode}; an RGB PNG without alpha "
                                          "is expected")
            sizes.append(image.size)
    # rotation=none: our screenshots carry no EXIF, and looking for it makes Pillow decode every pixel
    raw = img2pdf.convert([str(p.png) for p in pages], layout_fun=_layout, nodate=True,
                          rotation=img2pdf.Rotation.none)
    font = _font() if text_layer else None
    words = 0
    with pikepdf.open(io.BytesIO(raw)) as pdf:
        if "/ID" in pdf.trailer:  # img2pdf's is random; let qpdf derive both halves from content
            del pdf.trailer.ID
        worded = [(page, size, pdf_page) for page, size, pdf_page in zip(pages, sizes, pdf.pages) if page.words]
        if font and worded:
            layers = _text_layers([(page, _dpi_for(*size), float(pdf_page.mediabox[2]), float(pdf_page.mediabox[3]))
                                   for page, size, pdf_page in worded], font)  # open until the document is saved
            for (page, _, pdf_page), layer_page in zip(worded, layers.pages):
                form = pdf.copy_foreign(layer_page.as_form_xobject())
                # a fixed resource name (add_overlay picks a random one: the bytes would differ per run)
                pdf_page.add_resource(form, pikepdf.Name.XObject, pikepdf.Name("/TextLayer"))
                pdf_page.contents_add(pikepdf.Stream(pdf, b"q /TextLayer Do Q"), prepend=False)
                words += len(page.words)
        pikepdf.pdfa.prepare(pdf, _FLAVOUR)
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=True) as meta:
            for key, value in xmp.items():
                meta[key] = value
        try:
            report = pikepdf_validated(
                lambda: pikepdf.pdfa.save(pdf, out, _FLAVOUR, repair=False, deterministic_id=True))
        except pikepdf.pdfa.PdfaError as exc:
            raise PdfaConversionError("PDF/A validation failed: " + "; ".join(
                f"{f.rule} {f.where}: {f.message}" for f in exc.report.findings)) from exc
    _read_back(out, pages, str(xmp["dc:identifier"]))
    return PdfaInfo(valid=True, validator=f"pikepdf {pikepdf.__version__} ({report.flavour})",
                    findings=tuple(f"{f.rule}: {f.message}" for f in report.findings), pages=len(pages),
                    text_layer="unicode" if words else "none", words=words)


def make_archival_pdf(png: Path, out: Path, record: CaptureRecord, *, mobile: Path | None = None,
                      words: dict[str, Path | None] | None = None, text_layer: bool = True) -> PdfaInfo:
    """The capture's startpage.pdf: the desktop (and mobile) screenshot, metadata from *record*.

    words: per view ("desktop", "mobile"), the capture's word-box file (the words the browser drew).
    """
    words = words or {}
    pages = [_page(png, words.get("desktop"))] + ([_page(mobile, words.get("mobile"))] if mobile is not None else [])
    digests = {p.png.name: sha256_file(p.png) for p in pages}
    return write_pdfa(pages, out, xmp_fields(record, digests), text_layer=text_layer)


def _page(png: Path, words_file: Path | None) -> PageImage:
    if words_file is None or not words_file.exists():
        return PageImage(png)
    data = json.loads(words_file.read_text(encoding="utf-8"))
    return PageImage(png, tuple(tuple(w) for w in data["words"]), float(data.get("scale", 1.0)))


def _read_back(pdf_path: Path, pages: list[PageImage], identifier: str) -> None:
    """Open the written file with pypdf and pikepdf and check it says and shows what it should."""
    reader = pypdf.PdfReader(pdf_path)
    if len(reader.pages) != len(pages):
        raise PdfaConversionError(f"expected {len(pages)} pages, pypdf reads {len(reader.pages)}")
    xmp = reader.xmp_metadata
    if xmp is None or xmp.dc_identifier != identifier:
        raise PdfaConversionError("the XMP metadata did not survive the round trip")
    for number, page in enumerate(reader.pages, 1):
        if max(float(page.mediabox.width), float(page.mediabox.height)) > MAX_PAGE_SIDE_PT:
            raise PdfaConversionError(f"page {number}: a side exceeds {MAX_PAGE_SIDE_PT} pt")
    with pikepdf.open(pdf_path) as pdf:
        for number, (pdf_page, page) in enumerate(zip(pdf.pages, pages), 1):
            images = list(pdf_page.images.values())
            if len(images) != 1:
                raise PdfaConversionError(f"page {number}: expected 1 image, found {len(images)}")
            if _same_png_data(images[0], page.png):
                continue
            embedded = pikepdf.PdfImage(images[0]).as_pil_image()
            with Image.open(page.png) as source:
                if embedded.size != source.size or embedded.convert("RGB").tobytes() != source.convert("RGB").tobytes():
                    raise PdfaConversionError(f"page {number}: the image in the PDF differs from {page.png.name}")


def _png_chunks(data: bytes):
    at = 8
    while at + 8 <= len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        yield data[at + 4:at + 8], data[at + 8:at + 8 + length]
        at += 12 + length


def _same_png_data(image: pikepdf.Object, png: Path) -> bool:
    """True when the PDF image is the PNG's own compressed pixel data, unchanged, with the same geometry.

    img2pdf embeds a non-interlaced RGB/grey PNG's IDAT stream as it is (Flate with PNG
    predictors), so equal bytes and equal geometry mean equal pixels, without decoding ~12 MB per
    page twice. Anything else (re-encoded data) falls back to comparing decoded pixels.
    """
    data = png.read_bytes()
    chunks = list(_png_chunks(data))
    if not chunks or chunks[0][0] != b"IHDR":
        return False
    ihdr = chunks[0][1]
    width, height = int.from_bytes(ihdr[0:4], "big"), int.from_bytes(ihdr[4:8], "big")
    bit_depth, colour_type, interlace = ihdr[8], ihdr[9], ihdr[12]
    colours = {2: 3, 0: 1}.get(colour_type)
    params = image.get("/DecodeParms")
    if colours is None or interlace or params is None or image.get("/Filter") != pikepdf.Name.FlateDecode:
        return False
    geometry = (int(image.Width), int(image.Height), int(image.BitsPerComponent), int(params.get("/Colors", 1)),
                int(params.get("/Columns", 1)), int(params.get("/Predictor", 1)))
    if geometry != (width, height, bit_depth, colours, width, 15):
        return False
    return image.read_raw_bytes() == b"".join(body for kind, body in chunks if kind == b"IDAT")


def print_pdf_to_pdfa(src: Path, out: Path) -> tuple[bool, tuple[str, ...]]:
    """Try to make Chromium's print PDF a PDF/A-2b; (True, ()) when it validates, else the findings."""
    try:
        with pikepdf.open(src) as pdf:
            if "/ID" in pdf.trailer:
                del pdf.trailer.ID
            pikepdf_validated(lambda: pikepdf.pdfa.save(pdf, out, _FLAVOUR, deterministic_id=True))
        return True, ()
    except pikepdf.pdfa.PdfaError as exc:
        return False, tuple(f"{f.rule}: {f.message}" for f in exc.report.findings[:20])
    except (pikepdf.PdfError, ValueError) as exc:
        return False, (f"pikepdf: {exc}",)


def _file_entry(path: Path, role: FileRole, media_type: str) -> ArchivedFile:
    return ArchivedFile(name=path.name, role=role, media_type=media_type, size=path.stat().st_size,
                        sha256=sha256_file(path))


# Conversions at once in this process: one per core. A conversion is CPU-bound, so more at once
# finish no sooner; each holds a page's images and streams, so more at once only add memory.
_CONVERSIONS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


@task(name="convert-to-pdfa", cache_policy=NO_CACHE)
def convert_to_pdfa(captured: Captured) -> Captured:
    """Task: add startpage.pdf (PDF/A-2b) and, where it validates, page-pdfa.pdf beside Chromium's
    own print PDF (which is kept as it was). A failure is recorded, never hidden."""
    if captured.record.status is not CaptureStatus.captured:
        return captured  # a wall's evidence is not made into an ögonblicksbild
    with _CONVERSIONS:
        return _converted(captured)


def _converted(captured: Captured) -> Captured:
    record, folder = captured
    log = get_logger(account=record.account.id, capture_id=record.capture_id)
    settings = get_settings()
    out = folder / "startpage.pdf"
    files = list(record.files)
    notes = list(record.notes)
    try:
        info = make_archival_pdf(captured.path(FileRole.screenshot), out, record,
                                 mobile=captured.path(FileRole.screenshot_mobile),
                                 words={view: captured.path(FileRole.words, f"words-{view}") for view in
                                        ("desktop", "mobile")},
                                 text_layer=settings.pdf_text_layer)
        second = check_pdf(out)  # the second validation: the byte-level rules pikepdf does not check
        if not second.passed:
            raise PdfaConversionError("second validation failed: " + "; ".join(
                f"{f.rule} {f.where}: {f.message}" for f in second.findings[:10]))
        info = info.model_copy(update={"validator": f"{info.validator} + {second.validator}"})
        files.insert(0, _file_entry(out, FileRole.archival, "application/pdf"))
        log.info("pdfa.valid", conformance=info.conformance, pages=info.pages, words=info.words,
                 size=files[0].size)
    except PdfaConversionError as exc:
        out.unlink(missing_ok=True)
        info = PdfaInfo(valid=False, validator=f"pikepdf {pikepdf.__version__}", findings=(str(exc)[:2000],),
                        pages=0, conformance=None)
        log.error("pdfa.failed", error=str(exc)[:500])
    printed = captured.path(FileRole.print_pdf)
    if printed is not None:
        derived = folder / "page-pdfa.pdf"
        ok, findings = print_pdf_to_pdfa(printed, derived)
        if ok:
            files.append(_file_entry(derived, FileRole.print_pdfa, "application/pdf"))
            notes.append("page.pdf: Chromium's print rendering, kept as it was; its PDF/A-2b copy, validated, "
                         "is page-pdfa.pdf")
        else:
            derived.unlink(missing_ok=True)
            notes.append("page.pdf: kept as a plain supporting PDF (not PDF/A): " + "; ".join(findings[:3]))
    return captured.with_record(record.model_copy(update={"files": tuple(files), "pdfa": info,
                                                          "notes": tuple(notes)}))
