"""The archival document written: screenshots and the words on them as one validated, searchable
PDF/A-2b, and Chromium's print PDF as PDF/A where it can be.

Page 1 is the desktop screenshot, page 2 the mobile one, both lossless. Recipe (measured, see
NOTES.md): PNG -> img2pdf at a fixed dpi chosen per page so no side exceeds 14 400 pt
(ISO 19005-2 rule 6.1.13-11) -> an invisible text layer of the words the browser drew, where
it drew them (fpdf2, an embedded TrueType font with ToUnicode: the text is searchable and
copyable) -> pikepdf.pdfa, which adds the sRGB OutputIntent and the PDF/A identification,
writes, re-validates and refuses to write a file that is not PDF/A. Then the file is read
back with an independent library (pypdf) and each page's image is compared pixel for pixel
with its PNG: any difference fails the conversion. The same inputs give the same bytes.

This module imports only the PDF and image libraries (no Prefect, pydantic or settings): the
snapshot flows run it in a process of its own (tasks.pdfa_worker), so a conversion's CPU never
holds up a capture's event loop in the flow's process.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import img2pdf
import pikepdf
import pikepdf.pdfa
import pypdf
from PIL import Image

from tasks.pdfa_job import ConversionJob, Converted, Written
from tasks.pdfcheck import check_pdf, pikepdf_validated

__all__ = [
    "MAX_PAGE_SIDE_PT",
    "PageImage",
    "PdfaConversionError",
    "convert",
    "print_pdf_to_pdfa",
    "read_pages",
    "write_pdfa",
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


def write_pdfa(pages: list[PageImage], out: Path, xmp: dict[str, object], text_layer: bool = True) -> Written:
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
    raw = img2pdf.convert([one_idat(p.png.read_bytes()) for p in pages], layout_fun=_layout, nodate=True,
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
    return Written(validator=f"pikepdf {pikepdf.__version__} ({report.flavour})",
                   findings=tuple(f"{f.rule}: {f.message}" for f in report.findings), pages=len(pages), words=words)



def read_pages(pages: tuple[tuple[str, str | None], ...]) -> list[PageImage]:
    """Each (png, word-box file) as a page: the PNG and the words in the capture's word-box file
    (none when there is no file)."""
    return [_read_page(Path(png), None if words is None else Path(words)) for png, words in pages]


def _read_page(png: Path, words_file: Path | None) -> PageImage:
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


def one_idat(png: bytes) -> bytes:
    """*png* with its image data in one IDAT chunk: the same compressed bytes, so the same pixels.

    Why: img2pdf (0.6) gathers a PNG's IDAT chunks by adding each to a growing bytes object, which
    takes time by the square of their number, and Chromium writes its screenshots in 4 KB chunks.
    Measured: a 78 MB screenshot of photos (1252 chunks) took 49 s in img2pdf alone. Anything that
    is not a PNG with several IDAT chunks is returned as it is.
    """
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return png
    chunks = list(_png_chunks(png))
    data = [body for kind, body in chunks if kind == b"IDAT"]
    if len(data) < 2:
        return png
    out = [png[:8]]
    for kind, body in chunks:
        if kind == b"IDAT":
            if data is None:
                continue  # already written, whole, in the first one's place
            body, data = b"".join(data), None
        out += [len(body).to_bytes(4, "big"), kind, body, zlib.crc32(body, zlib.crc32(kind)).to_bytes(4, "big")]
    return b"".join(out)


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




def convert(job: ConversionJob) -> Converted:
    """Do *job*: startpage.pdf written, validated by pikepdf, read back and compared, then validated
    again by our own checker (the byte-level rules pikepdf does not check); and the print PDF's
    PDF/A copy. A startpage.pdf that fails is removed, so nothing pretends to be PDF/A."""
    out = Path(job.out)
    written, second_validator, error = None, "", None
    try:
        written = write_pdfa(read_pages(job.pages), out, job.xmp, text_layer=job.text_layer)
        second = check_pdf(out)
        if not second.passed:
            raise PdfaConversionError("second validation failed: " + "; ".join(
                f"{f.rule} {f.where}: {f.message}" for f in second.findings[:10]))
        second_validator = second.validator
    except Exception as exc:  # noqa: BLE001 - any failure is recorded in the capture's record, never hidden
        out.unlink(missing_ok=True)
        written, error = None, str(exc) if isinstance(exc, PdfaConversionError) else f"{type(exc).__name__}: {exc}"
    print_ok, print_findings = False, ()
    if job.printed is not None and job.derived is not None:
        try:
            print_ok, print_findings = print_pdf_to_pdfa(Path(job.printed), Path(job.derived))
        except Exception as exc:  # noqa: BLE001 - out of memory, say: the archival PDF above still stands
            print_ok, print_findings = False, (f"{type(exc).__name__}: {exc}",)
        if not print_ok:
            Path(job.derived).unlink(missing_ok=True)
    return Converted(written, second_validator, error, print_ok, print_findings)
