"""The XMP packet of a file, read independently of pikepdf."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.etree import ElementTree

if TYPE_CHECKING:
    from tasks.pdfcheck.reader import PdfFile

_PDFAID = "http://www.aiim.org/pdfa/ns/id/"


@dataclass(frozen=True)
class XmpPacket:
    present: bool  # the catalog has /Metadata
    problem: str | None = None  # why it is not a readable metadata stream, if it is not
    problem_rule: str = "6.6.2.1-1"
    part: str | None = None
    conformance: str | None = None


def read_xmp(pdf: PdfFile) -> XmpPacket:
    """The catalog's XMP packet and its PDF/A identification."""
    if not pdf.catalog:
        return XmpPacket(present=False, problem="no document catalog found, so no metadata")
    ref = pdf.catalog.get("/Metadata")
    if ref is None:
        return XmpPacket(present=False, problem="the catalog has no /Metadata")
    obj = pdf.stream_object(ref)
    if obj is None:
        return XmpPacket(True, f"/Metadata is {ref}, not an indirect stream")
    if obj.value.get("/Type") != "/Metadata" or obj.value.get("/Subtype") != "/XML":
        return XmpPacket(True, f"the metadata stream {obj.ref.num} {obj.ref.gen} lacks /Type /Metadata /Subtype /XML")
    try:
        root = ElementTree.fromstring(pdf.stream_data(obj))
    except (ElementTree.ParseError, ValueError, zlib.error) as exc:
        return XmpPacket(True, f"the XMP packet cannot be read: {exc}", "6.6.2.1-4")
    return XmpPacket(True, None, part=_xmp_value(root, "part"), conformance=_xmp_value(root, "conformance"))


def _xmp_value(root: ElementTree.Element, name: str) -> str | None:
    """A pdfaid property, written as an attribute of rdf:Description or as an element."""
    key = f"{{{_PDFAID}}}{name}"
    for element in root.iter():
        if key in element.attrib:
            return element.attrib[key].strip()
        if element.tag == key:
            return (element.text or "").strip()
    return None
