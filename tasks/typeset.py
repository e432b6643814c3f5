"""Documents the archive writes itself (the gallringsprotokoll, ...) as PDF/A-2b with real text.

fpdf2 typesets: DejaVu Sans, bundled in tasks/vendor/fonts, embedded as a subset with a ToUnicode
map (Swedish letters, "§" and "–" are drawn and extract as themselves), paragraphs wrapped at
spaces to the page width, a word wider than the page (a key, a hash) broken between characters
rather than cut, as many A4 pages as the text needs, numbered; a character the font lacks is
drawn as U+FFFD, never silently left out. pikepdf.pdfa then adds the sRGB OutputIntent and the
PDF/A identification, writes, validates and refuses to write a file that is not PDF/A; our own
validator (tasks.pdfcheck) checks the bytes as a second opinion. The same paragraphs and
metadata give the same bytes.

Usage::

    write_document([Para("Gallringsprotokoll", "title"), Para("Upprättat 2025-01-02"),
                    Para("captures/a/1/startpage.pdf\\nsha256 9f86…", "detail")],
                   Path("protocol.pdf"), {"dc:title": "Gallringsprotokoll", "dc:identifier": "x"})
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pikepdf
import pikepdf.pdfa
from fpdf import FPDF

from tasks.archival_pdf import PdfaConversionError
from tasks.pdfcheck import check_pdf, pikepdf_validated

__all__ = ["FONTS", "Para", "write_document"]

FONTS = Path(__file__).parent / "vendor" / "fonts"
_MARGIN = 56.0  # pt, about 2 cm
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

Style = Literal["title", "heading", "text", "detail"]


@dataclass(frozen=True)
class _Look:
    bold: bool
    size: float  # pt
    indent: float  # pt from the left margin
    before: float  # pt of space above the paragraph


_LOOKS: dict[Style, _Look] = {
    "title": _Look(bold=True, size=16, indent=0, before=0),
    "heading": _Look(bold=True, size=11, indent=0, before=10),
    "text": _Look(bold=False, size=10, indent=0, before=3),
    "detail": _Look(bold=False, size=9, indent=18, before=4),
}


@dataclass(frozen=True)
class Para:
    """One paragraph: *text* (a newline starts a new line in it) in one of the styles: 'title',
    'heading', 'text', or 'detail' (smaller, indented: the lines under a heading)."""

    text: str
    style: Style = "text"


class _Document(FPDF):
    """A4 portrait, DejaVu Sans, each page footed with the document's title and 'sida n av N'."""

    def __init__(self, title: str) -> None:
        super().__init__(unit="pt", format="A4")
        self.title_line = title
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(True, margin=_MARGIN)
        self.add_font("sans", "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font("sans", "B", str(FONTS / "DejaVuSans-Bold.ttf"))

    def footer(self) -> None:
        self.set_y(-_MARGIN + 16)
        self.set_font("sans", "", 8)
        self.cell(0, 10, _drawable(f"{self.title_line} – sida {self.page_no()} av {{nb}}", self.current_font.cmap),
                  align="R")


def _drawable(text: str, cmap: dict[int, str]) -> str:
    """*text* with each character the font has no glyph for shown as "\N{REPLACEMENT CHARACTER}"
    (fpdf2 would leave it out without a trace)."""
    return "".join(c if ord(c) in cmap or c in "\n\t" else "\N{REPLACEMENT CHARACTER}" for c in text)


def _typeset(paragraphs: Iterable[Para | str], title: str, created: dt.datetime) -> bytes:
    doc = _Document(title)
    doc.set_creation_date(created)
    doc.set_title(title)
    doc.add_page()
    for para in paragraphs:
        para = para if isinstance(para, Para) else Para(para)
        look = _LOOKS[para.style]
        doc.set_font("sans", "B" if look.bold else "", look.size)
        if para.style == "heading" and doc.get_y() + 5 * look.size > doc.page_break_trigger:
            doc.add_page()  # a heading stays with the lines under it
        if doc.get_y() > doc.t_margin:  # no space above the first paragraph of a page
            doc.ln(look.before)
        doc.set_x(doc.l_margin + look.indent)
        doc.multi_cell(0, look.size * 1.3, _drawable(para.text, doc.current_font.cmap), new_x="LMARGIN",
                       new_y="NEXT")
    return bytes(doc.output())


def write_document(paragraphs: Iterable[Para | str], out: Path, xmp: dict[str, object]) -> int:
    """Typeset *paragraphs* as PDF/A-2b to *out* with the *xmp* fields; returns the number of pages.

    xmp should hold 'dc:title' (also the pages' footer) and 'xmp:CreateDate' (ISO 8601, the
    document's own date; also the modification and metadata dates unless given, so that the
    output does not depend on the clock).
    """
    title = str(xmp.get("dc:title", ""))
    created = dt.datetime.fromisoformat(str(xmp["xmp:CreateDate"])) if "xmp:CreateDate" in xmp else _EPOCH
    stamp = created.isoformat(timespec="seconds")
    xmp = {"xmp:CreateDate": stamp, "xmp:ModifyDate": stamp, "xmp:MetadataDate": stamp, **xmp}  # not the clock
    with pikepdf.open(io.BytesIO(_typeset(paragraphs, title, created))) as pdf:
        if "/ID" in pdf.trailer:  # let qpdf derive it from the content
            del pdf.trailer.ID
        if "/OpenAction" in pdf.Root:  # fpdf2's zoom hint; pikepdf's validator cannot check it
            del pdf.Root.OpenAction
        pikepdf.pdfa.prepare(pdf, "2b")
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=True) as meta:
            for key, value in xmp.items():
                meta[key] = value
        try:
            pikepdf_validated(lambda: pikepdf.pdfa.save(pdf, out, "2b", repair=False, deterministic_id=True))
        except pikepdf.pdfa.PdfaError as exc:
            raise PdfaConversionError("PDF/A validation failed: " + "; ".join(
                f"{f.rule} {f.where}: {f.message}" for f in exc.report.findings)) from exc
        pages = len(pdf.pages)
    second = check_pdf(out)
    if not second.passed:
        out.unlink(missing_ok=True)
        raise PdfaConversionError("second validation failed: " + "; ".join(
            f"{f.rule} {f.where}: {f.message}" for f in second.findings[:10]))
    return pages
