"""The file's structure as written: stream framing and filters, objects, cross-reference data."""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, wraps
from typing import Any, Literal, NamedTuple, TypeVar

from tasks.pdfcheck.findings import Finding, Kind
from tasks.pdfcheck.lexer import (
    _LINE_START_OBJ,
    _OBJ_HEAD,
    MAX_DECODED,
    Lexer,
    PdfSyntaxError,
    Ref,
)
from tasks.pdfcheck.xmp import XmpPacket, read_xmp

T = TypeVar("T")

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


def _whole_file_read(read: Callable[[PdfFile], T]) -> Callable[[PdfFile], T]:
    """For what reads the whole file (the xref chain, every object): a MemoryError under `verify`'s
    memory ceiling is remembered, so the next check that asks gets it at once instead of reading the
    file again (cached_property keeps only results; a million objects were read fifteen times)."""
    @wraps(read)
    def once(self: PdfFile) -> T:
        if self._out_of_memory:
            raise MemoryError("the file's structure did not fit in the memory allowed")
        try:
            return read(self)
        except MemoryError:
            self._out_of_memory = True
            raise
    return once


class PdfFile:
    """The file as its bytes say, read tolerantly: problems are recorded, never raised."""

    def __init__(self, data: bytes, flavour: str = "2b") -> None:
        self.data = data
        self.flavour = flavour
        self.part = int(flavour[0])
        self._reading: set[Ref] = set()
        self._out_of_memory = False  # reading the whole file ran out of memory (see _whole_file_read)

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
        return self._read_chain()

    @_whole_file_read
    def _read_chain(self) -> tuple[list[XrefSection], list[tuple[str, int]]]:
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
        return self._load_objects()

    @_whole_file_read
    def _load_objects(self) -> tuple[dict[Ref, IndirectObject], list[tuple[str, str]]]:
        """Every listed object, read once."""
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
        try:  # the message is kept, not the exception: its traceback and this frame would make a cycle,
            return self.read_object_at(offset, ref)  # which stays in memory while the cyclic collector is off
        except PdfSyntaxError as exc:
            error = str(exc)
        scanned = self.scanned_offsets.get(ref)
        if scanned is not None and scanned != offset:
            try:
                return self.read_object_at(scanned, ref)
            except PdfSyntaxError as exc:
                error = str(exc)
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
                cache[num] = _Failed(type(exc), exc.args)  # not the exception: see _read_listed_object
        if isinstance(cache[num], _Failed):
            kind, args = cache[num]
            raise kind(*args)
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


class _Failed(NamedTuple):
    """A failure remembered as its kind and arguments: raised anew each time it is asked for."""

    kind: type[Exception]
    args: tuple[Any, ...]


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
        trailer = str(exc)  # not the exception: see PdfFile._read_listed_object
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


def _where(obj: IndirectObject) -> str:
    inside = f" (in object stream {obj.in_object_stream})" if obj.in_object_stream is not None else ""
    return f"obj {obj.ref.num} {obj.ref.gen}{inside}"
