"""The XMP packets of a file, read independently of pikepdf: PDF/A identification, and every property.

pikepdf's XMP rule (6.6.2.3.1-1) knows only a handful of schemas and no extension schemas, so it
rejects most real files (exif, tiff, xmpDM, photoshop... from any image editor). This module
replaces it: properties are checked against the XMP 2005 predefined schemas (``xmp_schemas``) and
the extension schemas the file declares (``xmp_extension``), values against their types
(``xmp_types``), in the catalog's packet and in every object's.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.etree import ElementTree

from tasks.pdfcheck.xmp_extension import Extensions, is_container, read_extensions, undeclared_types
from tasks.pdfcheck.xmp_rdf import Node, RdfError, parse_packet
from tasks.pdfcheck.xmp_schemas import PREDEFINED
from tasks.pdfcheck.xmp_types import ValueTypes

if TYPE_CHECKING:
    from tasks.pdfcheck.reader import IndirectObject, PdfFile

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


# ---------------------------------------------------------------------------------------------
# The properties of every XMP packet in the file (ISO 19005-2 6.6.2.3)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XmpProblem:
    rule: str
    where: str
    message: str


def metadata_streams(pdf: PdfFile) -> list[IndirectObject]:
    """Every XMP metadata stream in the file: the catalog's first, then those of pages, images, fonts..."""
    main = pdf.stream_object(pdf.catalog.get("/Metadata")) if pdf.catalog else None
    others = [obj for obj in pdf.objects.values() if obj.stream is not None and obj is not main
              and obj.value.get("/Type") == "/Metadata" and obj.value.get("/Subtype") == "/XML"]
    return ([main] if main is not None else []) + others


def property_problems(pdf: PdfFile, closed_choices: bool = True) -> list[XmpProblem]:
    """Properties that are neither predefined nor declared, values of the wrong type, bad extension schemas.

    A packet may use what the catalog's packet declares as well as what it declares itself
    (veraPDF's isDefinedInMainPackage / isDefinedInCurrentPackage for PDF/A-2 and -3).
    """
    main_obj = pdf.stream_object(pdf.catalog.get("/Metadata")) if pdf.catalog else None
    main = Extensions()
    problems: list[XmpProblem] = []
    for obj in metadata_streams(pdf):
        where = f"{'catalog' if obj is main_obj else 'object'} metadata {obj.ref.num} {obj.ref.gen}"
        try:
            properties = parse_packet(pdf.stream_data(obj))
        except RdfError as exc:
            problems.append(XmpProblem("6.6.2.1-4", where, str(exc)))
            continue
        except (ValueError, zlib.error) as exc:
            problems.append(XmpProblem("6.6.2.1-4", where, f"the XMP packet cannot be decoded: {exc}"))
            continue
        declared = read_extensions(properties)
        problems += [XmpProblem(rule, where, message) for rule, message in declared.problems]
        if obj is main_obj:
            main = declared
        known = declared.merged(main)
        types = ValueTypes(known.structs, closed_choices)
        problems += [XmpProblem(rule, where, message) for rule, message in
                     undeclared_types(declared, types) + _check_properties(properties, known, types)]
    return problems


def _check_properties(properties: list[Node], known: Extensions, types: ValueTypes) -> list[tuple[str, str]]:
    problems = []
    for node in properties:
        if is_container(node):
            continue
        key = (node.ns, node.name)
        kind = PREDEFINED.get(node.ns, {}).get(node.name) or known.properties.get(key)
        if kind is None:
            problems.append(("6.6.2.3.1-1", f"XMP property {node.label} is neither predefined in XMP 2005 "
                             "nor declared in an extension schema"))
        elif not types.valid(node, kind, key):
            problems.append(("6.6.2.3.1-2", f"XMP property {node.label} is not a value of type {kind!r}"))
    return problems
