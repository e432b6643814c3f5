"""Two graphics rules pikepdf does not check as such: transparency without an output intent, JPEG 2000.

* 6.2.10-2: pikepdf covers it by demanding an output intent in every file, and reports its absence
  as "unsupported" (which ``dispositions`` dismisses, since PDF/A does not require one). So the
  rule itself is checked here: without a PDF/A output intent, a page that contains transparency
  must have a transparency group with a blending colour space (/Group /CS).
* 6.2.8.3-1..5: pikepdf does not read JPEG 2000 at all. The header boxes (channels, bit depth,
  colour specifications) are read here; the image data is not decoded, so the image as a whole
  stays "not checked" by pikepdf.

Transparency is looked for in everything a page reaches (resources, form XObjects, patterns,
Type 3 fonts, annotation appearances), whether or not its content draws it: a little stricter than
veraPDF, which follows the content streams.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from tasks.pdfcheck.findings import Finding
from tasks.pdfcheck.lexer import Ref
from tasks.pdfcheck.reader import IndirectObject, PdfFile, _where

_NOT_FOLLOWED = {"/Parent", "/P", "/Dest", "/A", "/Next", "/Prev", "/First", "/Last", "/StructParent",
                 "/StructParents", "/Metadata", "/Popup", "/IRT", "/B", "/Thumb", "/PieceInfo", "/Contents"}
_MAX_VISITS = 5000


def check_page_transparency(pdf: PdfFile) -> Iterator[Finding]:
    """6.2.10-2: without a PDF/A output intent, pages with transparency need /Group with /CS."""
    if pdf.encrypted or _has_pdfa_output_intent(pdf):
        return
    for obj in pdf.objects.values():
        page = obj.value
        if not (isinstance(page, dict) and page.get("/Type") == "/Page"):
            continue
        group = pdf.resolve(page.get("/Group"))
        if isinstance(group, dict) and "/CS" in group:
            continue
        found = _transparency(pdf, page)
        if found:
            yield pdf.finding("6.2.10-2", _where(obj), f"the page contains transparency ({found}) but its "
                              "transparency group has no /CS, and there is no PDF/A output intent")


def _has_pdfa_output_intent(pdf: PdfFile) -> bool:
    intents = pdf.resolve(pdf.catalog.get("/OutputIntents"))
    return isinstance(intents, list) and any(
        isinstance(i := pdf.resolve(item), dict) and i.get("/S") == "/GTS_PDFA1" for item in intents)


def _transparency(pdf: PdfFile, page: dict[str, Any]) -> str | None:
    """What makes *page* transparent, looking through everything it reaches; None if nothing does."""
    stack: list[tuple[Any, bool]] = [(value, False) for key, value in page.items() if key not in _NOT_FOLLOWED]
    seen: set[Ref] = set()
    while stack and len(seen) < _MAX_VISITS:
        value, _ = stack.pop()
        if isinstance(value, Ref):
            if value in seen:
                continue
            seen.add(value)
            value = pdf.resolve(value)
        if isinstance(value, list):
            stack += [(item, False) for item in value]
        elif isinstance(value, dict):
            reason = _transparent(value)
            if reason:
                return reason
            stack += [(item, False) for key, item in value.items() if key not in _NOT_FOLLOWED]
    return None


def _transparent(d: dict[str, Any]) -> str | None:
    for key in ("/CA", "/ca"):
        if isinstance(d.get(key), int | float) and d[key] < 1:
            return f"{key} {d[key]}"
    blend = d.get("/BM")
    if blend is not None and blend not in ("/Normal", "/Compatible", ["/Normal"], ["/Compatible"]):
        return f"blend mode {blend}"
    if d.get("/SMask") not in (None, "/None"):
        return "a soft mask"
    if isinstance(d.get("/SMaskInData"), int) and d["/SMaskInData"] > 0:
        return "/SMaskInData"
    group = d.get("/Group")
    if d.get("/Subtype") == "/Form" and isinstance(group, dict) and group.get("/S") == "/Transparency":
        return "a transparency group"
    return None


# -- JPEG 2000 ------------------------------------------------------------------------------------


def check_jpeg2000(pdf: PdfFile) -> Iterator[Finding]:
    """6.2.8.3-1..5: channels, colour specifications and bit depth of every JPXDecode image."""
    if pdf.encrypted:
        return
    for obj in pdf.objects.values():
        filters = obj.value.get("/Filter") if obj.stream is not None else None
        if filters not in ("/JPXDecode", ["/JPXDecode"]):
            continue
        try:
            assert obj.stream is not None
            header = _jp2_header(pdf.data[obj.stream.start:obj.stream.end])
        except (ValueError, struct.error) as exc:
            yield pdf.finding("6.2.8.3-1", _where(obj), f"the JPEG 2000 header cannot be read: {exc}")
            continue
        yield from _jpx_findings(pdf, obj, header, has_colour_space="/ColorSpace" in obj.value)


def _jpx_findings(pdf: PdfFile, obj: IndirectObject, header: dict[str, Any], has_colour_space: bool
                  ) -> Iterator[Finding]:
    where = _where(obj)
    if header["channels"] not in (1, 3, 4):
        yield pdf.finding("6.2.8.3-1", where, f"{header['channels']} colour channels; 1, 3 or 4 are allowed")
    colr = header["colr"]  # (method, approx, enumerated colour space or None)
    if not has_colour_space and colr:
        if len(colr) > 1 and sum(1 for c in colr if c[1] == 1) != 1:
            yield pdf.finding("6.2.8.3-2", where, f"{len(colr)} colour specifications, but not exactly one "
                              "with APPROX 1")
        used = next((c for c in colr if c[1] == 1), colr[0]) if len(colr) > 1 else colr[0]
        if used[0] not in (1, 2, 3):
            yield pdf.finding("6.2.8.3-3", where, f"the colour specification method is {used[0]}, not 1, 2 or 3")
        if used[2] == 19:
            yield pdf.finding("6.2.8.3-4", where, "the enumerated colour space is 19 (CIEJab)")
    depth = header["depth"]
    if header["bpcc"] or depth is None or not 1 <= depth <= 38:
        yield pdf.finding("6.2.8.3-5", where, "the colour channels have different bit depths" if header["bpcc"]
                          else f"bit depth {depth} is outside 1-38")


def _jp2_header(data: bytes) -> dict[str, Any]:
    """Channels, bit depth, bpcc presence and 'colr' boxes of a JP2 file or a raw codestream."""
    if data[:4] == b"\xff\x4f\xff\x51":  # a bare codestream: the SIZ marker segment
        components = struct.unpack(">H", data[40:42])[0]
        depths = {(data[42 + 3 * i] & 0x7F) + 1 for i in range(components)}
        return {"channels": components, "depth": depths.pop() if len(depths) == 1 else None,
                "bpcc": len(depths) > 1, "colr": []}
    header: dict[str, Any] = {"channels": None, "depth": None, "bpcc": False, "colr": []}
    for kind, body in _boxes(data):
        if kind == b"jp2h":
            for sub, content in _boxes(body):
                if sub == b"ihdr":
                    header["channels"] = struct.unpack(">H", content[8:10])[0]
                    bpc = content[10]
                    header["bpcc"] = header["bpcc"] or bpc == 0xFF
                    header["depth"] = None if bpc == 0xFF else (bpc & 0x7F) + 1
                elif sub == b"bpcc":
                    header["bpcc"] = True
                elif sub == b"colr":
                    method, approx = content[0], content[2]
                    enum = struct.unpack(">I", content[3:7])[0] if method == 1 and len(content) >= 7 else None
                    header["colr"].append((method, approx, enum))
    if header["channels"] is None:
        raise ValueError("no image header (ihdr) box")
    return header


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    at = 0
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        start = at + 8
        if length == 1:
            length = struct.unpack(">Q", data[at + 8:at + 16])[0]
            start = at + 16
        end = len(data) if length == 0 else at + length
        if end < start or end > len(data):
            raise ValueError(f"a {kind!r} box runs past the end of the data")
        yield kind, data[start:end]
        at = end
