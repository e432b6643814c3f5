"""Our own PDF/A-2b validator: pikepdf's validator plus the file-level rules it leaves to qpdf.

pikepdf.pdfa checks the *objects* of a file thoroughly, but it trusts the *bytes*: every rule on
the header, trailer, cross-reference table, stream framing and the bytes after ``%%EOF`` is marked
"writer: qpdf" in its ``pdfa/data/dispositions.json``, because it only promises anything about
files qpdf has just written. An archived file may have been written by anything, or damaged since,
and qpdf quietly repairs much of that while opening, so pikepdf never sees it. This module reads
the bytes itself with a small, tolerant COS reader and checks those rules, plus the ISO 32000-1
syntax they rest on (xref entries and free list, /Size, startxref and /Prev, 'endobj', and that
every Flate stream inflates cleanly, since nobody else decodes image data). It also re-checks a
few object rules that matter most to an archive (no JavaScript or other forbidden actions, in any
object, reachable or not; an embedded output profile; PDF/A identification in XMP) as a second,
independent opinion. Each check is one small function ``check_x(pdf) -> Iterable[Finding]``;
``CHECKS`` composes them, and a check that fails itself becomes a finding, never a traceback.

Rule ids are veraPDF's for ISO 19005-2, which veraPDF numbers identically for ISO 19005-3; they
are taken from pikepdf's bundled catalogue ``pikepdf/pdfa/data/verapdf_rules.json`` (imported
from the veraPDF 1.30 profiles) and veraPDF's PDFA-2B profile. Plain PDF syntax errors that have
no veraPDF rule are reported as ``ISO_32000_1:<clause>``.

Usage::

    report = check_pdf(Path("startpage.pdf"))
    if not report.passed:
        print(format_report(report))
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import io
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from os import PathLike, fspath
from pathlib import Path
import threading
from typing import Any, Literal, NamedTuple, TypeVar
from xml.etree import ElementTree

import pikepdf
import pikepdf.pdfa

__all__ = ["CHECKS", "RULES", "CheckReport", "Finding", "PdfFile", "check_pdf", "format_report", "pikepdf_validated"]

Source = Literal["pikepdf", "bytes"]
Kind = Literal["violation", "unsupported"]

# Every rule id the byte-level checks report, with what it requires. The veraPDF ids are the same
# for ISO 19005-2 and -3 (tests/test_pdfcheck.py checks each against pikepdf's catalogue).
RULES: dict[str, str] = {
    "6.1.2-1": "header %PDF-1.n (n 0-7) at byte 0, followed by a single EOL",
    "6.1.2-2": "header EOL followed by % and at least four bytes above 127",
    "6.1.3-1": "the last trailer dictionary contains /ID",
    "6.1.3-2": "no /Encrypt in the trailer",
    "6.1.3-3": "nothing after the last %%EOF except a single optional EOL",
    "6.1.4-2": "the xref keyword and the first subsection header separated by a single EOL",
    "6.1.7.1-1": "stream /Length equals the bytes between the EOL after 'stream' and the EOL before 'endstream'",
    "6.1.7.1-2": "'stream' followed by CR LF or LF; 'endstream' preceded by an EOL",
    "6.1.9-1": "'N G obj' with single white-space; 'N' and 'endobj' preceded, 'obj' and 'endobj' followed by an EOL",
    "6.2.3-1": "the PDF/A output intent embeds an ICC output (prtr) or monitor (mntr) profile, GRAY/RGB/CMYK, version < 5",
    "6.2.3-2": "all output intents with a DestOutputProfile share one profile object",
    "6.2.4.3-2": "DeviceRGB only with an RGB output intent profile",
    "6.2.4.3-3": "DeviceCMYK only with a CMYK output intent profile",
    "6.2.4.3-4": "DeviceGray only with an output intent",
    "6.5.1-1": "no Launch, Sound, Movie, ResetForm, ImportData, Hide, SetOCGState, Rendition, Trans, "
               "GoTo3DView, JavaScript, set-state or no-op actions",
    "6.5.2-1": "no /AA (additional actions) in the catalog",
    "6.5.2-2": "no /AA (additional actions) in a page",
    "6.6.2.1-1": "the catalog has /Metadata, a stream with /Type /Metadata and /Subtype /XML",
    "6.6.2.1-4": "the XMP packet is well-formed XML",
    "6.6.4-1": "the XMP declares the PDF/A identification schema (pdfaid)",
    "6.6.4-2": "pdfaid:part is the ISO 19005 part the file is checked against",
    "6.6.4-3": "pdfaid:conformance is A, B or U",
    "ISO_32000_1:7.3": "every object listed in the cross-reference data can be read",
    "ISO_32000_1:7.3.10": "every indirect object ends with 'endobj'",
    "ISO_32000_1:7.4.4": "every FlateDecode stream inflates without error to its end (no damaged data)",
    "ISO_32000_1:7.5.4": "xref table: subsection headers 'first count', 20-byte entries pointing at their objects, "
                         "a well-formed free list",
    "ISO_32000_1:7.5.5": "startxref, its offset and %%EOF on lines of their own at the end; "
                         "startxref and /Prev point at an xref table or xref stream; /Size is right",
    "ISO_32000_1:7.5.8": "xref streams are well-formed and point at their objects",
    "somearkiv:internal": "a check could not run (the file was not checked on that point)",
}
MAX_FINDINGS_PER_CHECK = 25


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One reason the file was not approved.

    ``rule`` is a veraPDF rule id as numbered for PDF/A-2 (``6.1.7.1-1``), ``ISO_32000_1:<clause>``
    for plain PDF syntax, ``pikepdf:<name>`` for pikepdf's own policies, or ``somearkiv:internal``.
    ``source`` says who found it: pikepdf's validator or our byte-level reader. ``kind`` is
    ``unsupported`` when the point could not be checked, which also withholds approval.
    """

    rule: str
    where: str
    message: str
    source: Source
    kind: Kind = "violation"

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False)

    def __str__(self) -> str:
        return f"{self.rule} [{self.source}] {self.where}: {self.message}"


@dataclass(frozen=True)
class CheckReport:
    """The verdict on one file: ``passed`` only if neither pikepdf nor the byte checks found anything."""

    passed: bool
    claimed: str | None  # e.g. "PDF/A-2B" as the XMP pdfaid says, or None
    flavour: str
    findings: list[Finding]
    sha256: str  # of exactly the bytes that were checked
    size: int
    validator: str

    @property
    def rules(self) -> set[str]:
        return {f.rule for f in self.findings}

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=indent)


# ---------------------------------------------------------------------------------------------
# A small, tolerant COS reader (ISO 32000-1, 7.2-7.5)
# ---------------------------------------------------------------------------------------------

_WS = rb"\x00\t\n\x0c\r "
_REGULAR = re.compile(rb"[^\x00\t\n\x0c\r ()<>\[\]{}/%]+")
_SKIP = re.compile(rb"(?:[\x00\t\n\x0c\r ]+|%[^\r\n]*)*")
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)\Z")
_OBJ_HEAD = re.compile(rb"(\d{1,10})[\x00\t\n\x0c\r ]+(\d{1,5})[\x00\t\n\x0c\r ]+obj(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])")
_LINE_START_OBJ = re.compile(rb"(?:(?<=[\r\n])|\A)(\d{1,10})[ ]+(\d{1,5})[ ]+obj\b")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12,
            ord("("): 40, ord(")"): 41, ord("\\"): 92}
MAX_DEPTH = 64
MAX_DECODED = 256 * 1024 * 1024


class PdfSyntaxError(ValueError):
    """The bytes do not parse as PDF syntax at this point."""


class Name(str):
    """A PDF name with its slash, Name('/Type'); compares equal to the plain string."""


class Keyword(str):
    """A bare keyword: obj, R, stream, ..."""


class Punct(str):
    """One of [ ] << >>."""


class Ref(NamedTuple):
    num: int
    gen: int

    def __str__(self) -> str:
        return f"{self.num} {self.gen} R"


class Lexer:
    """Reads tokens and objects from *data* starting at *pos*; raises PdfSyntaxError, nothing else."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def skip(self) -> None:
        self.pos = _SKIP.match(self.data, self.pos).end()  # type: ignore[union-attr]

    def token(self) -> Any:
        self.skip()
        data, pos = self.data, self.pos
        if pos >= len(data):
            raise PdfSyntaxError(f"unexpected end of data at byte {pos}")
        char = data[pos:pos + 1]
        if char == b"/":
            match = _REGULAR.match(data, pos + 1)
            self.pos = match.end() if match else pos + 1
            return Name("/" + _unescape_name(data[pos + 1:self.pos]))
        if char == b"(":
            return self._literal_string()
        if char == b"<" or char == b">":
            if data[pos + 1:pos + 2] == char:
                self.pos = pos + 2
                return Punct(char.decode() * 2)
            if char == b"<":
                return self._hex_string()
            raise PdfSyntaxError(f"stray '>' at byte {pos}")
        if char in (b"[", b"]"):
            self.pos = pos + 1
            return Punct(char.decode())
        match = _REGULAR.match(data, pos)
        if match is None:
            raise PdfSyntaxError(f"unexpected {char!r} at byte {pos}")
        word = match.group()
        self.pos = match.end()
        if _NUMBER.match(word):
            return float(word) if b"." in word else int(word)
        if word in (b"true", b"false", b"null"):
            return {b"true": True, b"false": False, b"null": None}[word]
        return Keyword(word.decode("latin-1"))

    def object(self, depth: int = 0) -> Any:
        return self._object_from(self.token(), depth)

    def _object_from(self, tok: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise PdfSyntaxError(f"objects nested more than {MAX_DEPTH} deep at byte {self.pos}")
        if type(tok) is int:
            return self._maybe_ref(tok)
        if isinstance(tok, Punct):
            if tok == "[":
                return self._array(depth)
            if tok == "<<":
                return self._dict(depth)
            raise PdfSyntaxError(f"unexpected '{tok}' at byte {self.pos}")
        if isinstance(tok, Keyword):
            raise PdfSyntaxError(f"unexpected keyword '{tok}' at byte {self.pos}")
        return tok

    def _maybe_ref(self, num: int) -> int | Ref:
        saved = self.pos
        try:
            gen, keyword = self.token(), self.token()
        except PdfSyntaxError:
            gen = keyword = None
        if type(gen) is int and keyword == "R" and isinstance(keyword, Keyword):
            return Ref(num, gen)
        self.pos = saved
        return num

    def _array(self, depth: int) -> list[Any]:
        items = []
        while True:
            tok = self.token()
            if isinstance(tok, Punct) and tok == "]":
                return items
            items.append(self._object_from(tok, depth + 1))

    def _dict(self, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            tok = self.token()
            if isinstance(tok, Punct) and tok == ">>":
                return result
            if not isinstance(tok, Name):
                raise PdfSyntaxError(f"dictionary key is not a name at byte {self.pos}")
            result[tok] = self.object(depth + 1)

    def _literal_string(self) -> bytes:
        data, pos, depth, out = self.data, self.pos + 1, 1, bytearray()
        while pos < len(data):
            byte = data[pos]
            if byte == 0x5C:  # backslash
                pos = _unescape_into(out, data, pos + 1)
                continue
            depth += (byte == 0x28) - (byte == 0x29)
            if depth == 0:
                self.pos = pos + 1
                return bytes(out)
            out.append(byte)
            pos += 1
        raise PdfSyntaxError(f"unterminated string starting at byte {self.pos}")

    def _hex_string(self) -> bytes:
        end = self.data.find(b">", self.pos)
        if end < 0:
            raise PdfSyntaxError(f"unterminated hex string at byte {self.pos}")
        digits = re.sub(rb"[\x00\t\n\x0c\r ]", b"", self.data[self.pos + 1:end])
        try:
            value = binascii.unhexlify(digits + b"0" * (len(digits) % 2))
        except (binascii.Error, ValueError):
            raise PdfSyntaxError(f"hex string with non-hex digits at byte {self.pos}") from None
        self.pos = end + 1
        return value


def _unescape_name(raw: bytes) -> str:
    return re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), raw).decode("latin-1")


def _unescape_into(out: bytearray, data: bytes, pos: int) -> int:
    """Append the character escaped at data[pos] (after a backslash); return the next position."""
    if pos >= len(data):
        return pos
    byte = data[pos]
    if byte in _ESCAPES:
        out.append(_ESCAPES[byte])
        return pos + 1
    octal = re.match(rb"[0-7]{1,3}", data[pos:pos + 3])
    if octal:
        out.append(int(octal.group(), 8) & 0xFF)
        return pos + len(octal.group())
    if byte == 0x0D:  # line continuation
        return pos + 2 if data[pos + 1:pos + 2] == b"\n" else pos + 1
    if byte == 0x0A:
        return pos + 1
    out.append(byte)
    return pos + 1


# -- streams and filters ----------------------------------------------------------------------


@dataclass(frozen=True)
class StreamFrame:
    """Where a stream's data lies in the file as written, whatever /Length claims."""

    keyword_at: int  # offset of the 'stream' keyword
    after_keyword: bytes  # the bytes between 'stream' and the data (a conforming file: CR LF or LF)
    start: int  # first data byte
    length: Any  # /Length as written: int, Ref or anything else
    declared: int | None  # /Length resolved to an int, if it could be
    endstream_at: int | None  # offset of the 'endstream' keyword, if found
    eol_before_end: bytes  # the EOL just before 'endstream' (b"" if none)

    @property
    def real_length(self) -> int | None:
        if self.endstream_at is None:
            return None
        return self.endstream_at - len(self.eol_before_end) - self.start

    @property
    def end(self) -> int:
        real = self.real_length
        return self.start + (real if real is not None else max(self.declared or 0, 0))


_AFTER_STREAM = re.compile(rb"[ \t\x0c\x00]*(?:\r\n|\n|\r)?")
_EOL_THEN_ENDSTREAM = re.compile(rb"(\r\n|\n|\r)endstream")


def _frame_stream(data: bytes, keyword_at: int, length: Any, declared: int | None) -> StreamFrame:
    """Locate a stream's data, giving /Length the benefit of the doubt when it fits."""
    after = _AFTER_STREAM.match(data, keyword_at + 6).group()  # type: ignore[union-attr]
    start = keyword_at + 6 + len(after)
    if declared is not None and declared >= 0:
        fits = _EOL_THEN_ENDSTREAM.match(data, start + declared)
        if fits:
            return StreamFrame(keyword_at, after, start, length, declared, fits.end() - 9, fits[1])
    end_at = data.find(b"endstream", start)
    if end_at < 0:
        return StreamFrame(keyword_at, after, start, length, declared, None, b"")
    before = data[max(start, end_at - 2):end_at]
    eol = b"\r\n" if before == b"\r\n" else before[-1:] if before[-1:] in (b"\r", b"\n") else b""
    return StreamFrame(keyword_at, after, start, length, declared, end_at, eol)


def decode_stream(raw: bytes, stream_dict: dict[str, Any]) -> bytes:
    """Apply the stream's filters (Flate with PNG predictors, ASCIIHex, ASCII85); raise ValueError otherwise."""
    filters = stream_dict.get("/Filter")
    filters = filters if isinstance(filters, list) else [] if filters is None else [filters]
    parms = stream_dict.get("/DecodeParms")
    parms = parms if isinstance(parms, list) else [parms] * len(filters)
    for name, parm in zip(filters, parms, strict=False):
        if name in ("/FlateDecode", "/Fl"):
            raw = _inflate(raw)
            raw = _unpredict(raw, parm if isinstance(parm, dict) else {})
        elif name in ("/ASCIIHexDecode", "/AHx"):
            digits = re.sub(rb"[\x00\t\n\x0c\r ]", b"", raw.split(b">")[0])
            raw = binascii.unhexlify(digits + b"0" * (len(digits) % 2))
        elif name in ("/ASCII85Decode", "/A85"):
            raw = base64.a85decode(raw.strip().removesuffix(b"~>").removeprefix(b"<~") + b"~>", adobe=True)
        else:
            raise ValueError(f"filter {name} is not decoded by this reader")
    return raw


def _inflate(raw: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(raw, MAX_DECODED)
    if inflater.unconsumed_tail:
        raise ValueError(f"stream inflates to more than {MAX_DECODED} bytes")
    return out


def _unpredict(data: bytes, parms: dict[str, Any]) -> bytes:
    """Undo PNG predictors (Predictor >= 10), which xref streams use."""
    predictor = parms.get("/Predictor", 1)
    if predictor in (None, 1):
        return data
    if not isinstance(predictor, int) or predictor < 10:
        raise ValueError(f"predictor {predictor} is not decoded by this reader")
    colors, bits, columns = parms.get("/Colors", 1), parms.get("/BitsPerComponent", 8), parms.get("/Columns", 1)
    if not all(isinstance(v, int) and v > 0 for v in (colors, bits, columns)):
        raise ValueError("bad predictor parameters")
    bpp = max(1, colors * bits // 8)
    rowlen = (colors * bits * columns + 7) // 8
    out, prev = bytearray(), bytearray(rowlen)
    for at in range(0, len(data), rowlen + 1):
        kind, row = data[at], bytearray(data[at + 1:at + 1 + rowlen].ljust(rowlen, b"\0"))
        for i in range(rowlen):
            left = row[i - bpp] if i >= bpp else 0
            up, upleft = prev[i], prev[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + _png_predict(kind, left, up, upleft)) & 0xFF
        out += row
        prev = row
    return bytes(out)


def _png_predict(kind: int, left: int, up: int, upleft: int) -> int:
    if kind == 0:
        return 0
    if kind == 1:
        return left
    if kind == 2:
        return up
    if kind == 3:
        return (left + up) // 2
    if kind == 4:
        guess = left + up - upleft
        dl, du, dul = abs(guess - left), abs(guess - up), abs(guess - upleft)
        return left if dl <= du and dl <= dul else up if du <= dul else upleft
    raise ValueError(f"PNG predictor row type {kind}")


# -- objects and cross-reference data ---------------------------------------------------------


@dataclass(frozen=True)
class ObjectFrame:
    """The keywords around a top-level object as written: 'N G obj' ... 'endobj'."""

    before: bytes  # the byte before the object number
    head: bytes  # 'N G obj' as written
    after_obj: bytes  # the two bytes after 'obj'
    endobj_at: int | None  # offset of 'endobj', None if it is missing
    before_endobj: bytes  # the byte before 'endobj'
    after_endobj: bytes  # the two bytes after 'endobj'


@dataclass
class IndirectObject:
    ref: Ref
    value: Any
    offset: int | None  # byte offset of 'N G obj', None inside an object stream
    stream: StreamFrame | None = None
    in_object_stream: int | None = None
    frame: ObjectFrame | None = None


@dataclass
class XrefSection:
    """One cross-reference section as found in the file (a table with its trailer, or an xref stream)."""

    offset: int
    kind: Literal["table", "stream"]
    trailer: dict[str, Any] = field(default_factory=dict)
    entries: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # num -> (type, f2, f3)
    after_keyword: bytes = b""  # table: the bytes between 'xref' and the first subsection header
    headers: list[tuple[int, bytes]] = field(default_factory=list)  # (offset, raw header line)
    raw_entries: list[tuple[int, bytes]] = field(default_factory=list)  # (offset, raw entry)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, message)


_XREF_KEYWORD_GAP = re.compile(rb"[\x00\t\x0c\r\n ]*")
_SUBSECTION = re.compile(rb"(\d+)([ \t]+)(\d+)[ \t]*(?:\r\n|\r|\n)?")
_ENTRY = re.compile(rb"[ \t]*(\d+)[ \t]+(\d+)[ \t]+([nf])[ \t]*(?:\r\n|\r|\n)?")


class PdfFile:
    """The file as its bytes say, read tolerantly: problems are recorded, never raised."""

    def __init__(self, data: bytes, flavour: str = "2b") -> None:
        self.data = data
        self.flavour = flavour
        self.part = int(flavour[0])
        self._reading: set[Ref] = set()

    # -- locating the cross-reference data

    @cached_property
    def startxref(self) -> int | None:
        at = self.data.rfind(b"startxref")
        match = re.compile(rb"startxref[\x00\t\x0c\r\n ]+(\d+)").match(self.data, at) if at >= 0 else None
        return int(match[1]) if match else None

    @property
    def sections(self) -> list[XrefSection]:
        """The xref sections from startxref along /Prev (and /XRefStm), newest first."""
        return self._chain[0]

    @property
    def broken_links(self) -> list[tuple[str, int]]:
        """(key, offset) for each /Prev or /XRefStm that does not point at xref data."""
        return self._chain[1]

    @cached_property
    def _chain(self) -> tuple[list[XrefSection], list[tuple[str, int]]]:
        sections: list[XrefSection] = []
        broken: list[tuple[str, int]] = []
        pending: list[tuple[str, int | None]] = [("startxref", self.startxref)]
        seen: set[int] = set()
        while pending and len(sections) < 1000:
            key, offset = pending.pop(0)
            if offset is None or offset in seen:
                continue
            seen.add(offset)
            section = self._read_section(offset) if 0 <= offset < len(self.data) else None
            if section is None:
                if key != "startxref":  # a bad startxref is reported on its own
                    broken.append((key, offset))
                continue
            sections.append(section)
            pending += [(key, section.trailer[key]) for key in ("/XRefStm", "/Prev")
                        if type(section.trailer.get(key)) is int]
        return sections, broken

    def _read_section(self, offset: int) -> XrefSection | None:
        if self.data.startswith(b"xref", offset):
            return _read_xref_table(self.data, offset)
        if _OBJ_HEAD.match(self.data, offset):
            return self._read_xref_stream(offset)
        return None

    def _read_xref_stream(self, offset: int) -> XrefSection:
        section = XrefSection(offset, "stream")
        where = f"xref stream at byte {offset}"
        try:
            obj = self.read_object_at(offset)
            if obj.stream is None or obj.value.get("/Type") != "/XRef":
                raise PdfSyntaxError("the object is not a stream with /Type /XRef")
            section.trailer = obj.value
            data = self.stream_data(obj)
            section.entries, used = _xref_stream_entries(obj.value, data)
            if used < len(data):
                section.problems.append((where, f"{len(data) - used} byte(s) of entries beyond those "
                                         "/Index (or /Size) lists"))
        except (ValueError, zlib.error, KeyError, TypeError, IndexError) as exc:
            section.problems.append((where, str(exc)))
        return section

    @cached_property
    def reconstructed(self) -> bool:
        """True if the xref data is unusable and the objects were found by scanning the file."""
        return not any(section.entries for section in self.sections)

    @cached_property
    def xref_entries(self) -> dict[int, tuple[int, int, int]]:
        """Entries of all sections; newer override older, but a free entry never hides an object
        (in a hybrid file the table lists as free what its /XRefStm places in object streams)."""
        merged: dict[int, tuple[int, int, int]] = {}
        for section in reversed(self.sections):  # oldest first
            for num, entry in section.entries.items():
                if entry[0] != 0 or num not in merged:
                    merged[num] = entry
        return merged

    @cached_property
    def scanned_offsets(self) -> dict[Ref, int]:
        """'N G obj' found at line starts anywhere in the file; the last one of each ref wins."""
        return {Ref(int(m[1]), int(m[2])): m.start() for m in _LINE_START_OBJ.finditer(self.data)}

    @cached_property
    def trailer(self) -> dict[str, Any]:
        """The newest trailer dictionary (of a table, or the xref stream's dictionary)."""
        if not self.reconstructed:
            return self.sections[0].trailer
        at = self.data.rfind(b"trailer")
        if at >= 0:
            try:
                value = Lexer(self.data, at + 7).object()
                if isinstance(value, dict):
                    return value
            except PdfSyntaxError:
                pass
        for offset in sorted(self.scanned_offsets.values(), reverse=True):  # the last xref stream
            try:
                value = self.read_object_at(offset).value
            except PdfSyntaxError:
                continue
            if isinstance(value, dict) and value.get("/Type") == "/XRef":
                return value
        return {}

    @cached_property
    def trailers(self) -> list[dict[str, Any]]:
        return [s.trailer for s in self.sections] or [self.trailer]

    @cached_property
    def encrypted(self) -> bool:
        return any("/Encrypt" in trailer for trailer in self.trailers)

    # -- reading objects

    def read_object_at(self, offset: int, expect: Ref | None = None) -> IndirectObject:
        head = _OBJ_HEAD.match(self.data, offset)
        if head is None:
            raise PdfSyntaxError(f"no 'N G obj' at byte {offset}")
        ref = Ref(int(head[1]), int(head[2]))
        if expect is not None and ref != expect:
            raise PdfSyntaxError(f"byte {offset} holds object {ref.num} {ref.gen}, not {expect.num} {expect.gen}")
        lexer = Lexer(self.data, head.end())
        value = lexer.object()
        lexer.skip()
        stream = None
        if isinstance(value, dict) and self.data.startswith(b"stream", lexer.pos):
            length = value.get("/Length")
            stream = _frame_stream(self.data, lexer.pos, length, self._resolve_int(length))
            if stream.endstream_at is not None:
                lexer.pos = stream.endstream_at + 9
                lexer.skip()
        endobj = lexer.pos if self.data.startswith(b"endobj", lexer.pos) else None
        data = self.data
        frame = ObjectFrame(data[offset - 1:offset] if offset else b"", head.group(), data[head.end():head.end() + 2],
                            endobj, data[endobj - 1:endobj] if endobj else b"",
                            data[endobj + 6:endobj + 8] if endobj is not None else b"")
        return IndirectObject(ref, value, offset, stream, frame=frame)

    def _resolve_int(self, value: Any) -> int | None:
        if type(value) is int:
            return value
        if isinstance(value, Ref) and value not in self._reading:
            self._reading.add(value)
            try:
                resolved = self._value_of(value)
            finally:
                self._reading.discard(value)
            return resolved if type(resolved) is int else None
        return None

    def _value_of(self, ref: Ref) -> Any:
        """The value of one object, for /Length: looked up without reading every object."""
        if "_loaded" in self.__dict__:
            obj = self.objects.get(ref)
            return obj.value if obj else None
        entry = self.xref_entries.get(ref.num)
        try:
            if entry and entry[0] == 1:
                return self.read_object_at(entry[1], ref).value
            if entry and entry[0] == 2:
                return self._object_stream(entry[1]).get(ref.num)
            if ref in self.scanned_offsets:
                return self.read_object_at(self.scanned_offsets[ref], ref).value
        except (PdfSyntaxError, ValueError, zlib.error):
            return None
        return None

    def stream_data(self, obj: IndirectObject) -> bytes:
        """The decoded data of a stream object; raises ValueError if it cannot be decoded."""
        assert obj.stream is not None
        return decode_stream(self.data[obj.stream.start:obj.stream.end], obj.value)

    @property
    def objects(self) -> dict[Ref, IndirectObject]:
        """Every object the file lists (or, if its xref data is unusable, every object found by scanning)."""
        return self._loaded[0]

    @property
    def object_problems(self) -> list[tuple[str, str]]:
        """(where, message) for each listed object that could not be read."""
        return self._loaded[1]

    @cached_property
    def misplaced_entries(self) -> list[tuple[XrefSection, int, int, str]]:
        """(section, object number, offset, what is there) for each in-use entry not pointing at its object."""
        wrong = []
        for section in self.sections:
            for num, (kind, offset, gen) in section.entries.items():
                if kind != 1 or num == 0:
                    continue
                head = _OBJ_HEAD.match(self.data, offset) if 0 <= offset < len(self.data) else None
                if head is None or (int(head[1]), int(head[2])) != (num, gen):
                    found = f"'{head[1].decode()} {head[2].decode()} obj'" if head else repr(self.data[offset:offset + 12])
                    wrong.append((section, num, offset, found))
        return wrong

    @cached_property
    def _loaded(self) -> tuple[dict[Ref, IndirectObject], list[tuple[str, str]]]:
        problems: list[tuple[str, str]] = []
        objects: dict[Ref, IndirectObject] = {}
        if self.reconstructed:
            locations = {ref: (1, offset) for ref, offset in self.scanned_offsets.items()}
        else:
            locations = {Ref(num, e[2] if e[0] == 1 else 0): (e[0], e[1])
                         for num, e in self.xref_entries.items() if e[0] in (1, 2) and num > 0}
        for ref, (kind, where) in sorted(locations.items()):
            if kind == 1:
                obj = self._read_listed_object(ref, where, problems)
                if obj is not None:
                    objects[ref] = obj
        for ref, (kind, where) in sorted(locations.items()):
            if kind == 2:
                self._add_compressed_object(ref, where, objects, problems)
        if self.reconstructed:
            for obj in list(objects.values()):
                if isinstance(obj.value, dict) and obj.value.get("/Type") == "/ObjStm" and not self.encrypted:
                    self._add_object_stream_members(obj, objects, problems)
        return objects, problems

    def _add_object_stream_members(self, container: IndirectObject, objects: dict[Ref, IndirectObject],
                                   problems: list[tuple[str, str]]) -> None:
        try:
            members = self._object_stream(container.ref.num, objects)
        except (PdfSyntaxError, ValueError, zlib.error, KeyError, TypeError) as exc:
            problems.append((_where(container), f"object stream cannot be read: {exc}"))
            return
        for num, value in members.items():
            objects.setdefault(Ref(num, 0), IndirectObject(Ref(num, 0), value, None, None, container.ref.num))

    def _read_listed_object(self, ref: Ref, offset: int, problems: list[tuple[str, str]]) -> IndirectObject | None:
        """The object at its listed offset, or where a scan found it (as qpdf would); None if neither."""
        try:
            return self.read_object_at(offset, ref)
        except PdfSyntaxError as exc:
            error = exc
        scanned = self.scanned_offsets.get(ref)
        if scanned is not None and scanned != offset:
            try:
                return self.read_object_at(scanned, ref)
            except PdfSyntaxError as exc:
                error = exc
        problems.append((f"obj {ref.num} {ref.gen}", f"cannot be read: {error}"))
        return None

    def _add_compressed_object(self, ref: Ref, stream_num: int, objects: dict[Ref, IndirectObject],
                               problems: list[tuple[str, str]]) -> None:
        if self.encrypted:
            return  # object streams are encrypted too; 6.1.3-2 is reported instead
        try:
            members = self._object_stream(stream_num, objects)
        except (PdfSyntaxError, ValueError, zlib.error, KeyError, TypeError) as exc:
            problems.append((f"obj {ref.num} {ref.gen}", f"object stream {stream_num} cannot be read: {exc}"))
            return
        if ref.num not in members:
            problems.append((f"obj {ref.num} {ref.gen}", f"not found in object stream {stream_num}"))
            return
        objects[ref] = IndirectObject(ref, members[ref.num], None, None, stream_num)

    def _object_stream(self, num: int, objects: dict[Ref, IndirectObject] | None = None) -> dict[int, Any]:
        """The members of object stream *num*, decoded once (a failure is remembered and raised again)."""
        cache = self.__dict__.setdefault("_objstm_cache", {})
        if num not in cache:
            try:
                cache[num] = self._read_object_stream(num, objects)
            except (PdfSyntaxError, ValueError, zlib.error, KeyError, TypeError) as exc:
                cache[num] = exc
        if isinstance(cache[num], Exception):
            raise cache[num]
        return cache[num]

    def _read_object_stream(self, num: int, objects: dict[Ref, IndirectObject] | None) -> dict[int, Any]:
        container = (objects or {}).get(Ref(num, 0))
        if container is None:
            entry = self.xref_entries.get(num)
            offset = entry[1] if entry and entry[0] == 1 else self.scanned_offsets.get(Ref(num, 0))
            if offset is None:
                raise PdfSyntaxError(f"object stream {num} is not in the file")
            container = self.read_object_at(offset, Ref(num, 0))
        if container.stream is None or container.value.get("/Type") != "/ObjStm":
            raise PdfSyntaxError(f"object {num} is not an object stream")
        data = self.stream_data(container)
        count, first = container.value.get("/N"), container.value.get("/First")
        if type(count) is not int or type(first) is not int:
            raise PdfSyntaxError("object stream without integer /N and /First")
        lexer = Lexer(data)
        pairs = [(lexer.token(), lexer.token()) for _ in range(count)]
        members = {}
        for member, offset in pairs:
            if type(member) is not int or type(offset) is not int:
                raise PdfSyntaxError("object stream header is not pairs of integers")
            members.setdefault(member, Lexer(data, first + offset).object())
        return members

    def resolve(self, value: Any) -> Any:
        """Follow a reference (one level at a time, up to 32) to its value; None if it dangles."""
        for _ in range(32):
            if not isinstance(value, Ref):
                return value
            obj = self.objects.get(value)
            value = obj.value if obj else None
        return None

    def stream_object(self, value: Any) -> IndirectObject | None:
        obj = self.objects.get(value) if isinstance(value, Ref) else None
        return obj if obj is not None and obj.stream is not None else None

    @cached_property
    def catalog(self) -> dict[str, Any]:
        """The trailer's /Root, or failing that the last /Type /Catalog object (as qpdf's recovery does)."""
        catalog = self.resolve(self.trailer.get("/Root"))
        if isinstance(catalog, dict):
            return catalog
        found = [o.value for _, o in sorted(self.objects.items())
                 if isinstance(o.value, dict) and o.value.get("/Type") == "/Catalog"]
        return found[-1] if found else {}

    # -- XMP

    @cached_property
    def xmp(self) -> XmpPacket:
        return read_xmp(self)

    @cached_property
    def claimed(self) -> str | None:
        part, conformance = self.xmp.part, self.xmp.conformance
        if part is None:
            return None
        return f"PDF/A-{part}{(conformance or '').upper()}"

    # -- findings

    def finding(self, rule: str, where: str, message: str, kind: Kind = "violation") -> Finding:
        return Finding(rule, where, message, "bytes", kind)


def _read_xref_table(data: bytes, offset: int) -> XrefSection:
    """Read a classic table leniently, keeping the raw bytes for the strict checks."""
    section = XrefSection(offset, "table")
    gap = _XREF_KEYWORD_GAP.match(data, offset + 4)
    section.after_keyword = gap.group()  # type: ignore[union-attr]
    pos = gap.end()  # type: ignore[union-attr]
    while header := _SUBSECTION.match(data, pos):
        section.headers.append((pos, header.group()))
        first, count, pos = int(header[1]), int(header[3]), header.end()
        for num in range(first, first + count):
            entry = _ENTRY.match(data, pos)
            if entry is None:
                section.problems.append((f"xref at byte {offset}", f"entry for object {num} at byte {pos} "
                                         f"is not 'offset generation n|f': {data[pos:pos + 20]!r}"))
                return _read_trailer_after(data, data.find(b"trailer", pos), section)
            section.raw_entries.append((pos, entry.group()))
            section.entries.setdefault(num, (1 if entry[3] == b"n" else 0, int(entry[1]), int(entry[2])))
            pos = entry.end()
        pos = _XREF_KEYWORD_GAP.match(data, pos).end()  # type: ignore[union-attr]
    return _read_trailer_after(data, pos, section)


def _read_trailer_after(data: bytes, pos: int, section: XrefSection) -> XrefSection:
    where = f"xref at byte {section.offset}"
    lexer = Lexer(data, max(pos, 0))
    lexer.skip()
    if pos < 0 or not data.startswith(b"trailer", lexer.pos):
        section.problems.append((where, f"no 'trailer' keyword after the table (at byte {lexer.pos})"))
        return section
    lexer.pos += 7
    try:
        trailer = lexer.object()
    except PdfSyntaxError as exc:
        trailer = exc
    if isinstance(trailer, dict):
        section.trailer = trailer
    else:
        section.problems.append((where, f"the trailer is not a dictionary: {trailer}"))
    return section


def _xref_stream_entries(xref: dict[str, Any], data: bytes) -> tuple[dict[int, tuple[int, int, int]], int]:
    """The entries of an xref stream and the number of data bytes they take."""
    widths = xref.get("/W")
    if not (isinstance(widths, list) and len(widths) == 3 and all(type(w) is int and 0 <= w <= 8 for w in widths)):
        raise PdfSyntaxError(f"/W is not three small integers: {widths!r}")
    index = xref.get("/Index", [0, xref.get("/Size")])
    if not (isinstance(index, list) and len(index) % 2 == 0 and all(type(i) is int and i >= 0 for i in index)):
        raise PdfSyntaxError(f"/Index is not pairs of integers: {index!r}")
    size = sum(widths)
    if size == 0:
        raise PdfSyntaxError("/W gives entries of width 0")
    entries: dict[int, tuple[int, int, int]] = {}
    at = 0
    for first, count in zip(index[::2], index[1::2], strict=True):
        if at + count * size > len(data):
            raise PdfSyntaxError(f"the stream holds {len(data) // size} entries, /Index asks for more")
        for num in range(first, first + count):
            fields, pos = [], at
            for width in widths:
                fields.append(int.from_bytes(data[pos:pos + width], "big"))
                pos += width
            kind = fields[0] if widths[0] else 1
            entries.setdefault(num, (kind, fields[1], fields[2]))
            at += size
    return entries, at


# -- XMP --------------------------------------------------------------------------------------

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
# The checks: each takes the PdfFile and yields findings; CHECKS composes them in order.
# ---------------------------------------------------------------------------------------------


T = TypeVar("T")
_PIKEPDF_VALIDATOR = threading.Lock()


def _stray_warning_suspect(report: Any) -> bool:
    return any(f.rule == "pikepdf:content-parse" for f in report.findings)


def pikepdf_validated(call: Callable[[], T]) -> T:
    """Run a pikepdf.pdfa call that validates (``save``, ``validate_written``), safe from other threads.

    pikepdf's validator counts *any* Python warning raised while it parses a content stream as a
    parse error, and ``warnings.catch_warnings`` is process-wide before Python 3.14: a warning
    raised meanwhile in another thread (a ResourceWarning when some library's temporary file is
    collected, say) failed a valid file once in CI. Our own validations are therefore serialised,
    and a content-parse finding is confirmed by validating once more: the input is the same bytes,
    so a real one comes back and a stray warning does not. ``save`` with ``repair=False`` changes
    nothing when it fails, so repeating it is safe.
    """
    with _PIKEPDF_VALIDATOR:
        try:
            result = call()
        except pikepdf.pdfa.PdfaError as exc:
            if not _stray_warning_suspect(exc.report):
                raise
            return call()
        if hasattr(result, "findings") and not getattr(result, "passed", True) and _stray_warning_suspect(result):
            return call()
        return result


def check_with_pikepdf(pdf: PdfFile) -> Iterator[Finding]:
    """pikepdf's own validator: every object-level rule (fonts, colour, XMP, actions, limits, ...).

    It opens the file with qpdf, which repairs damaged structure on the way in, so it cannot see
    the file-level rules below; those are the byte checks' job.
    """
    report = pikepdf_validated(lambda: pikepdf.pdfa.validate_written(io.BytesIO(pdf.data), pdf.flavour))
    for found in report.findings:
        where, message = (re.sub(r"<_io\.BytesIO object at 0x[0-9a-f]+>", "file", text)
                          for text in (found.where, found.message))
        yield Finding(_short_rule(found.rule), where, message, "pikepdf", found.kind)


def _short_rule(rule: str) -> str:
    """'ISO_19005_2:6.1.3-2' -> '6.1.3-2'; pikepdf's own ids are kept as they are."""
    return re.sub(r"^ISO_19005_\d:", "", rule)


def check_header(pdf: PdfFile) -> Iterator[Finding]:
    """6.1.2-1: '%PDF-1.n' at byte 0 and an EOL. pikepdf checks only the version qpdf parsed."""
    if re.match(rb"%PDF-1\.[0-7](?:\r\n|\r|\n)", pdf.data):
        return
    at = pdf.data.find(b"%PDF-")
    first_line = pdf.data[max(at, 0):max(at, 0) + 16].splitlines()[0] if pdf.data else b""
    where = "byte 0" if at <= 0 else f"byte {at}"
    detail = "no %PDF- header" if at < 0 else f"header {first_line!r} at byte {at}"
    yield pdf.finding("6.1.2-1", where, f"{detail}; expected '%PDF-1.n' (n 0-7) at byte 0 followed by an EOL")


def check_binary_comment(pdf: PdfFile) -> Iterator[Finding]:
    """6.1.2-2: a comment of 4+ bytes above 127 on the second line. qpdf always writes one, so pikepdf trusts it."""
    eol = re.search(rb"\r\n|\r|\n", pdf.data[:1024])
    start = eol.end() if eol else len(pdf.data)
    if re.match(rb"%[\x80-\xff]{4}", pdf.data[start:start + 5]):
        return
    yield pdf.finding("6.1.2-2", f"byte {start}",
                      f"second line starts {pdf.data[start:start + 5]!r}; expected '%' and four bytes above 127")


def check_trailer_id(pdf: PdfFile) -> Iterator[Finding]:
    """6.1.3-1: /ID in the last trailer, read from the bytes (qpdf's repaired trailer may differ)."""
    ids = pdf.trailer.get("/ID")
    if not pdf.trailer:
        yield pdf.finding("6.1.3-1", "trailer", "no trailer dictionary found, so no /ID")
    elif ids is None:
        yield pdf.finding("6.1.3-1", "trailer", "the trailer has no /ID")
    elif not (isinstance(ids, list) and len(ids) == 2 and all(isinstance(i, bytes) for i in ids)):
        yield pdf.finding("6.1.3-1", "trailer /ID", f"/ID is not an array of two strings: {ids!r}")
    elif not any(ids):
        yield pdf.finding("6.1.3-1", "trailer /ID", "/ID holds two empty strings")


def check_not_encrypted(pdf: PdfFile) -> Iterator[Finding]:
    """6.1.3-2: no /Encrypt in any trailer. pikepdf cannot even open a file with a user password."""
    if pdf.encrypted:
        yield pdf.finding("6.1.3-2", "trailer", "the trailer has /Encrypt: the file is encrypted, "
                          "so its objects were not checked independently")


def check_nothing_after_eof(pdf: PdfFile) -> Iterator[Finding]:
    """6.1.3-3: only an optional EOL after the last %%EOF. qpdf never reads past it, so pikepdf cannot see it."""
    at = pdf.data.rfind(b"%%EOF")
    if at < 0:
        return  # reported by check_startxref
    tail = pdf.data[at + 5:]
    if tail not in (b"", b"\n", b"\r", b"\r\n"):
        yield pdf.finding("6.1.3-3", f"byte {at + 5}",
                          f"{len(tail)} byte(s) follow the last %%EOF marker: {tail[:24]!r}")


def check_startxref(pdf: PdfFile) -> Iterator[Finding]:
    """ISO 32000-1 7.5.5: startxref and /Prev point at xref data; the file ends 'startxref', offset, '%%EOF'.

    qpdf silently rebuilds a broken xref by scanning, so pikepdf never learns it was broken.
    """
    offset, eof = pdf.startxref, pdf.data.rfind(b"%%EOF")
    if eof < 0:
        yield pdf.finding("ISO_32000_1:7.5.5", "end of file", "no %%EOF marker")
    if offset is None:
        yield pdf.finding("ISO_32000_1:7.5.5", "end of file", "no 'startxref' followed by an offset")
    elif eof >= 0 and not _TAIL.search(pdf.data, max(0, eof - 1024), eof + 5):
        at = pdf.data.rfind(b"startxref")
        yield pdf.finding("ISO_32000_1:7.5.5", f"byte {at}", f"the file ends {pdf.data[at:eof + 5]!r}; expected "
                          "'startxref', the offset and '%%EOF' each on a line of their own")
    if offset is not None and not any(section.offset == offset for section in pdf.sections):
        yield pdf.finding("ISO_32000_1:7.5.5", f"startxref {offset}", _not_xref(pdf, offset))
    for key, target in pdf.broken_links:
        yield pdf.finding("ISO_32000_1:7.5.5", f"trailer {key} {target}", _not_xref(pdf, target))
    if pdf.reconstructed and offset is not None:
        yield pdf.finding("ISO_32000_1:7.5.5", "xref", "no usable cross-reference data; "
                          "the objects were found by scanning the file")


_TAIL = re.compile(rb"(?:\r\n|\r|\n)startxref(?:\r\n|\r|\n)\d+(?:\r\n|\r|\n)%%EOF\Z")  # what follows is 6.1.3-3


def _not_xref(pdf: PdfFile, offset: int) -> str:
    found = repr(pdf.data[offset:offset + 16]) if 0 <= offset < len(pdf.data) else "the end of the file"
    return f"points at {found}, which is neither an xref table nor an xref stream"


def check_trailer_size(pdf: PdfFile) -> Iterator[Finding]:
    """ISO 32000-1 7.5.5: trailer /Size is one more than the highest object number. qpdf ignores a wrong /Size."""
    if pdf.reconstructed or not pdf.trailer:
        return  # reported by check_startxref / check_trailer_id
    size, highest = pdf.trailer.get("/Size"), max(pdf.xref_entries, default=0)
    if size != highest + 1 or type(size) is not int:
        yield pdf.finding("ISO_32000_1:7.5.5", "trailer /Size",
                          f"/Size is {size!r}, but the highest object number is {highest}")


def check_xref_keyword(pdf: PdfFile) -> Iterator[Finding]:
    """6.1.4-2: 'xref' then a single EOL then the subsection header. qpdf writes it so; pikepdf trusts it."""
    for section in pdf.sections:
        if section.kind == "table" and section.after_keyword not in (b"\r\n", b"\n", b"\r"):
            yield pdf.finding("6.1.4-2", f"xref at byte {section.offset}",
                              f"'xref' is followed by {section.after_keyword!r}, not a single EOL")


def check_xref_table_syntax(pdf: PdfFile) -> Iterator[Finding]:
    """ISO 32000-1 7.5.4: 'first count' subsection headers and 20-byte entries. qpdf reads past sloppy ones."""
    for section in pdf.sections:
        if section.kind != "table":
            continue
        for where, message in section.problems:
            yield pdf.finding("ISO_32000_1:7.5.4", where, message)
        for at, header in section.headers:
            if not re.fullmatch(rb"\d+ \d+ *(?:\r\n|\r|\n)", header):
                yield pdf.finding("ISO_32000_1:7.5.4", f"xref subsection header at byte {at}",
                                  f"{header!r} is not two numbers separated by a single space, then an EOL")
        for at, entry in section.raw_entries:
            if not re.fullmatch(rb"\d{10} \d{5} [nf](?: \r| \n|\r\n)", entry):
                yield pdf.finding("ISO_32000_1:7.5.4", f"xref entry at byte {at}",
                                  f"{entry!r} is not a 20-byte 'nnnnnnnnnn ggggg n|f' entry with a 2-byte EOL")
        yield from _free_list_findings(pdf, section)


def _free_list_findings(pdf: PdfFile, section: XrefSection) -> Iterator[Finding]:
    """Object 0 heads the free list with generation 65535; each free entry names the next free one, or 0."""
    where = f"xref at byte {section.offset}"
    head = section.entries.get(0)
    if section.headers and section.headers[0][1].startswith(b"0 ") and (head is None or head[0] != 0 or head[2] != 65535):
        yield pdf.finding("ISO_32000_1:7.5.4", where, f"object 0 is not free with generation 65535: {head}")
    for num, (kind, next_free, _) in section.entries.items():
        if kind == 0 and next_free != 0 and section.entries.get(next_free, (1,))[0] != 0:
            yield pdf.finding("ISO_32000_1:7.5.4", f"{where}, object {num}",
                              f"the free entry points at object {next_free}, which is not a free entry here")


def check_xref_streams(pdf: PdfFile) -> Iterator[Finding]:
    """ISO 32000-1 7.5.8: xref streams decode to entries; pikepdf never sees them (qpdf consumes them)."""
    for section in pdf.sections:
        if section.kind == "stream":
            for where, message in section.problems:
                yield pdf.finding("ISO_32000_1:7.5.8", where, message)


def check_xref_offsets(pdf: PdfFile) -> Iterator[Finding]:
    """ISO 32000-1 7.5.4/7.5.8: each in-use entry points at its 'N G obj'. qpdf finds misplaced objects by scanning."""
    for section, num, offset, found in pdf.misplaced_entries:
        rule = "ISO_32000_1:7.5.4" if section.kind == "table" else "ISO_32000_1:7.5.8"
        yield pdf.finding(rule, f"xref at byte {section.offset}, object {num}",
                          f"the entry points at byte {offset}, where there is {found}")


def check_objects_readable(pdf: PdfFile) -> Iterator[Finding]:
    """ISO 32000-1 7.3: every listed object parses. qpdf may repair or skip what it cannot parse."""
    for where, message in pdf.object_problems:
        yield pdf.finding("ISO_32000_1:7.3", where, message)


_EOL_FIRST = re.compile(rb"\r|\n")
_HEAD_SPACING = re.compile(rb"\d+[\x00\t\n\x0c\r ]\d+[\x00\t\n\x0c\r ]obj")


def check_object_keywords(pdf: PdfFile) -> Iterator[Finding]:
    """6.1.9-1 and ISO 32000-1 7.3.10: the spacing around 'N G obj' and 'endobj'. qpdf writes it; pikepdf trusts it."""
    for obj in pdf.objects.values():
        frame = obj.frame
        if frame is None:
            continue  # inside an object stream: no keywords
        where = f"{_where(obj)} at byte {obj.offset}"
        if frame.endobj_at is None:
            yield pdf.finding("ISO_32000_1:7.3.10", where, "no 'endobj' after the object")
        problems = [text for bad, text in (
            (not _HEAD_SPACING.fullmatch(frame.head), f"{frame.head!r} is not separated by single white-space"),
            (frame.before not in (b"\r", b"\n"), "the object number is not preceded by an EOL"),
            (not _EOL_FIRST.match(frame.after_obj), f"'obj' is followed by {frame.after_obj!r}, not an EOL"),
            (frame.endobj_at is not None and frame.before_endobj not in (b"\r", b"\n"),
             "'endobj' is not preceded by an EOL"),
            (frame.endobj_at is not None and not _EOL_FIRST.match(frame.after_endobj),
             f"'endobj' is followed by {frame.after_endobj!r}, not an EOL"),
        ) if bad]
        if problems:
            yield pdf.finding("6.1.9-1", where, "; ".join(problems))


def check_flate_streams(pdf: PdfFile) -> Iterator[Finding]:
    """ISO 32000-1 7.4.4: each Flate stream inflates cleanly to its end (checksum included).

    Neither pikepdf nor qpdf decode image data when validating, so a damaged image (bit rot,
    a bad copy) would otherwise pass. The data is inflated in bounded chunks and thrown away.
    """
    for obj in _streams(pdf):
        filters = obj.value.get("/Filter")
        first = filters[0] if isinstance(filters, list) and filters else filters
        if first in ("/FlateDecode", "/Fl") and not pdf.encrypted:
            assert obj.stream is not None
            problem = _inflate_problem(memoryview(pdf.data)[obj.stream.start:obj.stream.end])
            if problem:
                yield pdf.finding("ISO_32000_1:7.4.4", _where(obj), f"the FlateDecode data is damaged: {problem}")


def _inflate_problem(raw: memoryview) -> str | None:
    inflater = zlib.decompressobj()
    try:
        for at in range(0, len(raw), 1 << 20):
            pending = bytes(raw[at:at + (1 << 20)])
            while pending and not inflater.eof:
                inflater.decompress(pending, 1 << 24)
                pending = inflater.unconsumed_tail
    except zlib.error as exc:
        return str(exc)
    return None if inflater.eof else "the data ends before the end of the compressed stream"


def check_stream_keywords(pdf: PdfFile) -> Iterator[Finding]:
    """6.1.7.1-2: 'stream' + CR LF or LF, and an EOL before 'endstream'. qpdf writes these; pikepdf trusts it."""
    for obj in _streams(pdf):
        frame, where = obj.stream, _where(obj)
        assert frame is not None
        if frame.after_keyword not in (b"\r\n", b"\n"):
            yield pdf.finding("6.1.7.1-2", f"{where} at byte {frame.keyword_at}",
                              f"'stream' is followed by {frame.after_keyword!r}, not CR LF or LF")
        if frame.endstream_at is not None and not frame.eol_before_end:
            yield pdf.finding("6.1.7.1-2", f"{where} at byte {frame.endstream_at}",
                              "'endstream' is not preceded by an EOL")


def check_stream_lengths(pdf: PdfFile) -> Iterator[Finding]:
    """6.1.7.1-1: /Length equals the data actually between the keywords. qpdf rewrites lengths; pikepdf trusts it."""
    for obj in _streams(pdf):
        frame, where = obj.stream, _where(obj)
        assert frame is not None
        if frame.endstream_at is None:
            yield pdf.finding("6.1.7.1-1", where, "no 'endstream' after the stream data")
        elif frame.declared is None:
            yield pdf.finding("6.1.7.1-1", where, f"/Length {frame.length!r} is not an integer")
        elif frame.eol_before_end and frame.real_length != frame.declared:
            yield pdf.finding("6.1.7.1-1", where, f"/Length is {frame.declared}, "
                              f"but {frame.real_length} bytes lie between the keywords")


def _streams(pdf: PdfFile) -> Iterator[IndirectObject]:
    return (obj for obj in pdf.objects.values() if obj.stream is not None)


def _where(obj: IndirectObject) -> str:
    inside = f" (in object stream {obj.in_object_stream})" if obj.in_object_stream is not None else ""
    return f"obj {obj.ref.num} {obj.ref.gen}{inside}"


FORBIDDEN_ACTIONS = {"/Launch", "/Sound", "/Movie", "/ResetForm", "/ImportData", "/Hide", "/SetOCGState",
                     "/Rendition", "/Trans", "/GoTo3DView", "/JavaScript", "/SetState", "/NOP"}


def check_actions(pdf: PdfFile) -> Iterator[Finding]:
    """6.5.1-1, 6.5.2-1, 6.5.2-2: no JavaScript or other forbidden actions, no /AA in the catalog or pages.

    pikepdf finds JavaScript actions it reaches, but reports /OpenAction only as "unsupported";
    this looks at every object in the file, reachable or not, including those in object streams.
    """
    if "/AA" in pdf.catalog:
        yield pdf.finding("6.5.2-1", "catalog /AA", "the catalog has additional actions")
    names = pdf.resolve(pdf.catalog.get("/Names"))
    if isinstance(names, dict) and "/JavaScript" in names:
        yield pdf.finding("6.5.1-1", "catalog /Names /JavaScript", "the document has a JavaScript name tree")
    for obj in pdf.objects.values():
        for path, value in _dicts(obj.value, _where(obj)):
            yield from _action_findings(pdf, path, value)


def _action_findings(pdf: PdfFile, path: str, value: dict[str, Any]) -> Iterator[Finding]:
    kind = value.get("/Type")
    action = value.get("/S")
    if action in FORBIDDEN_ACTIONS and kind in (None, "/Action") and "/K" not in value:
        yield pdf.finding("6.5.1-1", path, f"{action} action is not permitted")
    elif "/JS" in value:
        yield pdf.finding("6.5.1-1", f"{path} /JS", "JavaScript (/JS) is not permitted")
    if kind == "/Page" and "/AA" in value:
        yield pdf.finding("6.5.2-2", f"{path} /AA", "the page has additional actions")


def _dicts(value: Any, path: str, depth: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every dictionary in a direct value, with its path (references are not followed)."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _dicts(item, f"{path} {key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _dicts(item, f"{path}[{index}]", depth + 1)


def check_output_intent(pdf: PdfFile) -> Iterator[Finding]:
    """6.2.3-1, 6.2.3-2: the PDF/A output intent embeds a usable ICC profile, the same one in every intent.

    Read independently of pikepdf; a missing profile is reported here as 6.2.3-1 (veraPDF would
    report only its consequence, 6.2.4.3-x, which check_device_colour adds).
    """
    if pdf.encrypted:
        return  # the profile is encrypted as well; 6.1.3-2 is reported
    intents = [pdf.resolve(i) for i in _as_list(pdf.resolve(pdf.catalog.get("/OutputIntents")))]
    profiles = {str(i.get("/DestOutputProfile")) for i in intents if isinstance(i, dict) and "/DestOutputProfile" in i}
    if len(profiles) > 1:
        yield pdf.finding("6.2.3-2", "catalog /OutputIntents", f"different DestOutputProfiles: {sorted(profiles)}")
    for index, intent in enumerate(intents):
        if isinstance(intent, dict) and intent.get("/S") == "/GTS_PDFA1":
            where = f"catalog /OutputIntents[{index}]"
            profile = intent.get("/DestOutputProfile")
            if profile is None:
                yield pdf.finding("6.2.3-1", where, "the PDF/A output intent has no /DestOutputProfile (no ICC profile)")
            else:
                problem = _icc_problem(pdf, profile)
                if problem:
                    yield pdf.finding("6.2.3-1", f"{where} /DestOutputProfile", problem)


def _icc_problem(pdf: PdfFile, profile: Any) -> str | None:
    obj = pdf.stream_object(profile)
    if obj is None:
        return f"{profile!r} is not an indirect ICC profile stream"
    try:
        header = pdf.stream_data(obj)[:128]
    except (ValueError, zlib.error) as exc:
        return f"the ICC profile cannot be decoded: {exc}"
    if len(header) < 128 or header[36:40] != b"acsp":
        return "the stream is not an ICC profile (no 'acsp' signature)"
    device, space, version = header[12:16], header[16:20], header[8]
    if device not in (b"prtr", b"mntr") or space not in (b"RGB ", b"CMYK", b"GRAY") or version >= 5:
        return f"the ICC profile is class {device!r}, colour space {space!r}, version {version}"
    return None


def output_colour_space(pdf: PdfFile) -> str | None:
    """The colour space of the PDF/A output intent's profile ('RGB ', 'CMYK', 'GRAY'), like veraPDF's gOutputCS."""
    for intent in _as_list(pdf.resolve(pdf.catalog.get("/OutputIntents"))):
        intent = pdf.resolve(intent)
        if isinstance(intent, dict) and intent.get("/S") == "/GTS_PDFA1":
            obj = pdf.stream_object(intent.get("/DestOutputProfile"))
            try:
                return pdf.stream_data(obj)[16:20].decode("latin-1") if obj else None
            except (ValueError, zlib.error):
                return None
    return None


_DEVICE_RULES = {"/DeviceRGB": ("6.2.4.3-2", "RGB "), "/DeviceCMYK": ("6.2.4.3-3", "CMYK"),
                 "/DeviceGray": ("6.2.4.3-4", None)}


def check_device_colour(pdf: PdfFile) -> Iterator[Finding]:
    """6.2.4.3-2/-3/-4: device colour only with a matching output intent, as far as dictionaries show it.

    Colour operators inside content streams (rg, k, g) are left to pikepdf, which parses content.
    """
    if pdf.encrypted:
        return  # the output profile is encrypted, so its colour space is unknown; 6.1.3-2 is reported
    output = output_colour_space(pdf)
    for obj in pdf.objects.values():
        used = _device_spaces(obj.value)
        for space in sorted(used):
            rule, needs = _DEVICE_RULES[space]
            if output is None or (needs is not None and output != needs):
                yield pdf.finding(rule, _where(obj), f"{space[1:]} is used, but the output intent profile "
                                  f"is {output.strip() if output else 'missing'}")


def _device_spaces(value: Any, depth: int = 0) -> set[str]:
    """Device colour space names in a value, except as an ICC profile's /Alternate."""
    found: set[str] = set()
    if depth > MAX_DEPTH:
        return found
    if isinstance(value, str) and value in _DEVICE_RULES:
        found.add(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in ("/Alternate", "/DefaultRGB", "/DefaultCMYK", "/DefaultGray"):
                found |= _device_spaces(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            found |= _device_spaces(item, depth + 1)
    return found


def check_xmp_metadata(pdf: PdfFile) -> Iterator[Finding]:
    """6.6.2.1-1, 6.6.2.1-4: an XMP metadata stream, read from the bytes and parsed as XML."""
    if pdf.encrypted:
        return  # the packet is encrypted as well; 6.1.3-2 is reported
    xmp = pdf.xmp
    if xmp.problem:
        yield pdf.finding(xmp.problem_rule, "catalog /Metadata", xmp.problem)


def check_pdfa_identification(pdf: PdfFile) -> Iterator[Finding]:
    """6.6.4-1/-2/-3: pdfaid:part and pdfaid:conformance in the XMP, matching the flavour checked."""
    xmp = pdf.xmp
    if pdf.encrypted or xmp.problem:
        return
    if xmp.part is None:
        yield pdf.finding("6.6.4-1", "XMP", "no PDF/A identification (pdfaid:part)")
        return
    if xmp.part != str(pdf.part):
        yield pdf.finding("6.6.4-2", "XMP pdfaid:part", f"the file claims part {xmp.part}, checked as part {pdf.part}")
    if (xmp.conformance or "") not in ("A", "B", "U"):
        yield pdf.finding("6.6.4-3", "XMP pdfaid:conformance", f"conformance {xmp.conformance!r} is not A, B or U")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


Check = Callable[[PdfFile], Iterable[Finding]]

CHECKS: tuple[Check, ...] = (
    check_with_pikepdf,
    check_header,
    check_binary_comment,
    check_trailer_id,
    check_not_encrypted,
    check_nothing_after_eof,
    check_startxref,
    check_trailer_size,
    check_xref_keyword,
    check_xref_table_syntax,
    check_xref_streams,
    check_xref_offsets,
    check_objects_readable,
    check_object_keywords,
    check_stream_keywords,
    check_stream_lengths,
    check_flate_streams,
    check_actions,
    check_output_intent,
    check_device_colour,
    check_xmp_metadata,
    check_pdfa_identification,
)


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def check_pdf(path_or_bytes: str | PathLike[str] | bytes | bytearray | memoryview, flavour: str = "2b",
              checks: Iterable[Check] = CHECKS) -> CheckReport:
    """Validate a PDF/A-2b (or -3b) file; never raises on a bad file, only on a bad *flavour*.

    The file is read once; pikepdf and the byte checks look at exactly those bytes, whose SHA-256
    the report records.
    """
    flavour = str(pikepdf.pdfa.Flavour(flavour))
    if flavour not in ("2b", "3b"):
        raise ValueError(f"flavour {flavour!r}: the byte-level checks use PDF/A-2/-3 rule ids; use '2b' or '3b'")
    data = bytes(path_or_bytes) if isinstance(path_or_bytes, bytes | bytearray | memoryview) \
        else Path(fspath(path_or_bytes)).read_bytes()
    pdf = PdfFile(data, flavour)
    findings = [found for check in checks for found in _run(check, pdf)]
    return CheckReport(passed=not findings, claimed=_safely(lambda: pdf.claimed), flavour=flavour,
                       findings=findings, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                       validator=f"somearkiv pdfcheck + pikepdf {pikepdf.__version__}")


def _run(check: Check, pdf: PdfFile) -> list[Finding]:
    """One check's findings, capped; a check that fails itself becomes an 'unsupported' finding."""
    try:
        findings = list(check(pdf))
    except Exception as exc:  # noqa: BLE001 - a damaged file must give findings, not a traceback
        return [Finding("somearkiv:internal", check.__name__, f"{type(exc).__name__}: {exc}", "bytes", "unsupported")]
    if len(findings) > MAX_FINDINGS_PER_CHECK:
        rest = findings[MAX_FINDINGS_PER_CHECK:]
        findings = findings[:MAX_FINDINGS_PER_CHECK]
        findings.append(dataclasses.replace(rest[0], where="...", message=f"and {len(rest)} more from {check.__name__}"))
    return findings


def _safely(get: Callable[[], str | None]) -> str | None:
    try:
        return get()
    except Exception:  # noqa: BLE001
        return None


def format_report(report: CheckReport) -> str:
    """A plain-text report for a person: verdict, what the file claims, and each finding with its rule."""
    verdict = "PASSED" if report.passed else f"FAILED ({len(report.findings)} finding(s))"
    lines = [
        f"PDF/A-{report.flavour} check: {verdict}",
        f"  file:     {report.size} bytes, sha256 {report.sha256}",
        f"  claims:   {report.claimed or 'no PDF/A identification'}",
        f"  checked:  {report.validator}",
    ]
    if report.findings:
        lines.append("  findings:")
        lines += [f"    {f.rule:<18} [{f.source}{'' if f.kind == 'violation' else ', ' + f.kind}] "
                  f"{f.where}: {f.message}" for f in report.findings]
        described = [(rule, _describe(rule)) for rule in dict.fromkeys(f.rule for f in report.findings)]
        lines.append("  rules:")
        lines += [f"    {rule:<18} {text}" for rule, text in described if text]
    return "\n".join(lines)


def _describe(rule: str) -> str:
    if rule in RULES:
        return RULES[rule]
    entry = _verapdf_rules().get(f"ISO_19005_2:{rule}")
    return entry["description"][:160] if entry else ""


_CATALOGUE: dict[str, Any] = {}


def _verapdf_rules() -> dict[str, Any]:
    """pikepdf's bundled veraPDF rule catalogue (CC BY 4.0, veraPDF Consortium)."""
    if not _CATALOGUE:
        text = resources.files("pikepdf.pdfa").joinpath("data/verapdf_rules.json").read_text(encoding="utf-8")
        _CATALOGUE.update(json.loads(text)["rules"])
    return _CATALOGUE
