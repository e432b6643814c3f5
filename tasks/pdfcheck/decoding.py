"""A stream's filters undone in bounded pieces: to find damaged data, and to count what it decodes to.

Neither pikepdf nor qpdf decode image data when validating, so a damaged image (bit rot, a bad
copy, a cut-off transfer) would otherwise pass. Each filter here is a generator over pieces of at
most PIECE_OUT bytes, so a chain of filters ([/FlateDecode /FlateDecode], [/ASCII85Decode
/RunLengthDecode], ...) decodes a stream of any size in a few MB, the output thrown away.

What qpdf reads without complaint is not called damaged: an empty stream, ASCIIHex, ASCII85 or
RunLength data without its end-of-data marker but otherwise whole (Flate's own end and checksum
are part of its data, and are checked).

Filters that only a full image decoder undoes are taken as far as it is safe: DCT (JPEG) data is
decoded by Pillow at 1/8 scale (libjpeg reads every entropy-coded block, so a cut-off or broken
JPEG is found in 1/64 of the pixels' memory); a bit flipped inside the entropy-coded data that
libjpeg only warns about is not seen. LZW (forbidden in PDF/A, pikepdf reports it), CCITT fax,
JBIG2 and JPEG 2000 data are not decoded: the chain stops there, neither passed nor failed.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tasks.pdfcheck.ceiling import memory_headroom

PIECE_IN = 1 << 20  # bytes of the file handed to the first filter at a time
# bytes a filter makes at a time; measured on archival PDFs: pieces of 256 KB (which stay in the CPU's
# cache) took two thirds of the time of 16 MB ones, and far less memory
PIECE_OUT = 1 << 18
MAX_JPEG = 64 << 20  # a JPEG's bytes (after the filters before it) that are handed to Pillow
MAX_JPEG_PIXELS = 40_000_000  # pixels of a JPEG that is decoded (at 1/8 scale: a baseline one in a few MB)
# a progressive JPEG's coefficients are held whole whatever the scale, 2 bytes a pixel and component: a JPEG
# needing more is not decoded (under `verify`'s memory ceiling libjpeg's failed allocation reads as damage)
MAX_JPEG_COEFFICIENT_BYTES = 96 << 20

FLATE, RUN_LENGTH, HEX, ASCII85, DCT = "/FlateDecode", "/RunLengthDecode", "/ASCIIHexDecode", "/ASCII85Decode", \
    "/DCTDecode"
_ABBREVIATED = {"/Fl": FLATE, "/RL": RUN_LENGTH, "/AHx": HEX, "/A85": ASCII85, "/DCT": DCT}
# ISO 32000-1's clause for each filter, for a finding's rule
CLAUSES = {FLATE: "7.4.4", RUN_LENGTH: "7.4.5", HEX: "7.4.2", ASCII85: "7.4.3", DCT: "7.4.8"}


class Damaged(Exception):
    """The data of one filter is damaged; args[0] says how."""


@dataclass(frozen=True)
class Decoded:
    """What a stream's filters made: the bytes counted (past *stop_after*: counting stopped), the
    filter whose data is damaged and how (or None), and the filters not decoded (from the first)."""

    size: int
    damaged_in: str | None = None
    damage: str | None = None
    not_decoded: tuple[str, ...] = ()


def filters_of(value: Any) -> list[str]:
    """A stream's /Filter value as full names, in order; a name that is not a name is kept as its text."""
    names = value if isinstance(value, list) else [] if value is None else [value]
    return [_ABBREVIATED.get(name, name) if isinstance(name, str) else repr(name) for name in names]


def decode(raw: memoryview | bytes, filters: list[str], stop_after: int | None = None) -> Decoded:
    """Run *raw* through *filters*, throwing the output away. Counting (and decoding) stops just past
    *stop_after* bytes of output; damage found later is then not seen."""
    filters = [_ABBREVIATED.get(name, name) for name in filters]
    if not len(raw) or not filters:  # empty (a page without content), or the data as it is: nothing to decode
        return Decoded(len(raw))
    decodable = 0
    while decodable < len(filters) and filters[decodable] in _FILTERS:
        decodable += 1
    if decodable < len(filters) and filters[decodable] == DCT and decodable == len(filters) - 1:
        return _decode_jpeg(raw, filters[:decodable])
    stage = _chain(raw, filters[:decodable])
    size = 0
    try:
        for piece in stage:
            size += len(piece)
            if stop_after is not None and size > stop_after:
                break
    except Damaged as exc:
        return Decoded(size, exc.args[1], exc.args[0], tuple(filters[decodable:]))
    return Decoded(size, not_decoded=tuple(filters[decodable:]))


def _pieces(raw: memoryview | bytes) -> Iterator[bytes]:
    view = memoryview(raw)
    for at in range(0, len(view), PIECE_IN):
        yield bytes(view[at:at + PIECE_IN])


def _named(name: str):  # noqa: ANN202 - a decorator: tags a filter's Damaged with its name
    def wrap(make):  # noqa: ANN001, ANN202
        def run(pieces: Iterable[bytes]) -> Iterator[bytes]:
            try:
                yield from make(pieces)
            except Damaged as exc:
                if len(exc.args) > 1:  # from a filter before this one: passed on as it is
                    raise
                raise Damaged(exc.args[0], name) from None
        return run
    return wrap


@_named(FLATE)
def _flate(pieces: Iterable[bytes]) -> Iterator[bytes]:
    inflater = zlib.decompressobj()
    try:
        for piece in pieces:
            pending = piece
            while not inflater.eof:
                made = inflater.decompress(pending, PIECE_OUT)
                if made:
                    yield made
                pending = inflater.unconsumed_tail
                if not pending and len(made) < PIECE_OUT:
                    break  # this piece is used up (a full output piece may leave more inside zlib: asked again)
            if inflater.eof:
                return  # bytes after the end of the compressed data are ignored, as readers do
    except zlib.error as exc:
        raise Damaged(str(exc)) from None
    raise Damaged("the data ends before the end of the compressed stream")


@_named(RUN_LENGTH)
def _run_length(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """ISO 32000-1 7.4.5: a length byte n, then n+1 literal bytes (n < 128) or one byte repeated 257-n
    times (n > 128); 128 ends the data."""
    out, carry = bytearray(), b""
    for piece in pieces:
        data, at = carry + piece, 0
        while at < len(data):
            length = data[at]
            if length == 128:
                if out:
                    yield bytes(out)
                return
            end = at + length + 2 if length < 128 else at + 2
            if end > len(data):
                break  # the run goes on in the next piece
            out += data[at + 1:end] if length < 128 else data[at + 1:end] * (257 - length)
            at = end
            if len(out) >= PIECE_OUT:
                yield bytes(out)
                out.clear()
        carry = data[at:]
    if out:
        yield bytes(out)
    if carry:  # (without its end-of-data byte 128 but whole, it is read as qpdf and pdf.js read it)
        raise Damaged(f"the data ends inside a run ({len(carry)} byte(s) of an unfinished run)")


_WHITE = b"\x00\t\n\x0c\r "


@_named(HEX)
def _ascii_hex(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """7.4.2: hexadecimal digit pairs and white-space up to '>' (an odd last digit has an implied 0). Data
    without the '>' is read to its end, as qpdf reads it."""
    carry = b""
    for piece in pieces:
        digits, end, _ = piece.partition(b">")
        digits = carry + digits.translate(None, _WHITE)
        if end and len(digits) % 2:
            digits += b"0"
        whole = len(digits) - len(digits) % 2
        for at in range(0, whole, 2 * PIECE_OUT):
            try:
                yield binascii.unhexlify(digits[at:min(whole, at + 2 * PIECE_OUT)])
            except binascii.Error:
                bad = next(c for c in digits[at:] if c not in b"0123456789abcdefABCDEF")
                raise Damaged(f"{bytes([bad])!r} is not a hexadecimal digit") from None
        carry = digits[whole:]
        if end:
            return
    if carry:
        yield binascii.unhexlify(carry + b"0")


_A85_SLICE = 65_535  # characters of ASCII85 decoded at a time (a multiple of 5): Python's decoder takes
# about 150 times its input in memory for a moment


@_named(ASCII85)
def _ascii85(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """7.4.3: groups of five characters '!'..'u' (a 'z' alone stands for four zero bytes, only between
    groups), white-space ignored, up to '~>'; a '<~' at the start is passed over. Data without its '~>'
    is read to its end, as qpdf reads it."""
    carry, began, start, pieces = b"", False, b"", iter(pieces)
    for piece in pieces:
        if not began:  # the start may come in pieces: white-space, then '<~' or not
            start += piece
            lead = start.lstrip(_WHITE)
            if len(lead) < 2 and lead in (b"", b"<"):
                continue
            piece, began = lead.removeprefix(b"<~"), True
        text, end, after = piece.partition(b"~")
        if end and after[:1] != b">" and (after or next(pieces, b"")[:1] != b">"):
            raise Damaged("a '~' not followed by '>' (the end-of-data marker is '~>')")
        text = text.translate(None, _WHITE)
        at_in_group = len(carry)
        for between in text.split(b"z")[:-1]:  # each 'z' must come where a group begins
            at_in_group = (at_in_group + len(between)) % 5
            if at_in_group:
                raise Damaged("a 'z' inside a group of five characters")
        text = carry + text.replace(b"z", b"!!!!!")
        whole = len(text) if end else len(text) - len(text) % 5
        for at in range(0, whole, _A85_SLICE):
            try:
                yield base64.a85decode(text[at:min(whole, at + _A85_SLICE)], ignorechars=b"")
            except ValueError as exc:
                raise Damaged(str(exc)) from None
        carry = text[whole:]
        if end:
            return
    lead = start.lstrip(_WHITE) if not began else b""
    try:
        if carry or lead:
            yield base64.a85decode(carry or lead, ignorechars=b"")
    except ValueError as exc:
        raise Damaged(str(exc)) from None


_FILTERS = {FLATE: _flate, RUN_LENGTH: _run_length, HEX: _ascii_hex, ASCII85: _ascii85}


def _decode_jpeg(raw: memoryview | bytes, before: list[str]) -> Decoded:
    """The JPEG after *before*'s filters, decoded by Pillow at 1/8 scale; a JPEG too large to hold or
    decode safely is left undecoded."""
    from PIL import Image, UnidentifiedImageError

    if before:
        result = decode(raw, before, stop_after=MAX_JPEG)
        if result.damage or result.size > MAX_JPEG:
            return Decoded(result.size, result.damaged_in, result.damage, (DCT,))
        jpeg = b"".join(_chain(raw, before))
    elif len(raw) > MAX_JPEG:
        return Decoded(len(raw), not_decoded=(DCT,))
    else:
        jpeg = bytes(raw)
    frame = _jpeg_frame(jpeg)
    if frame is not None and frame[0] > MAX_JPEG_PIXELS:  # before Pillow reads it: Pillow warns of a large one,
        return Decoded(len(jpeg), not_decoded=(DCT,))  # and a warning filter is process-wide (checks run in threads)
    try:
        with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as image:
            if not _fits(jpeg, frame, image):
                return Decoded(len(jpeg), not_decoded=(DCT,))
            width, height = image.size
            image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
            image.load()
    except MemoryError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        if isinstance(exc, Image.DecompressionBombError):
            return Decoded(len(jpeg), not_decoded=(DCT,))
        return Decoded(len(jpeg), DCT, "not a JPEG image (no JPEG header Pillow can read)")
    except Exception as exc:  # noqa: BLE001 - Pillow's errors for a broken JPEG are OSError, SyntaxError, ...
        message = re.sub(r"<[^<>]* at 0x[0-9a-f]+>", "the data", " ".join(str(exc).split()))  # no addresses
        return Decoded(len(jpeg), DCT, message or type(exc).__name__)
    return Decoded(len(jpeg))


def _fits(jpeg: bytes, frame: tuple[int, int, bool] | None, image: Any) -> bool:
    """Whether decoding *image* (opened, not yet decoded) is safe: at most MAX_JPEG_PIXELS, and what
    libjpeg then holds fits. A progressive JPEG, or one whose components come in scans of their own,
    holds every coefficient (2 bytes a pixel and component) whatever the scale; a JPEG of one scan a
    few rows. Read from the frame header where its markers lead, else from Pillow's reading of it."""
    if frame is None:
        width, height = image.size
        components = len(image.getbands())
        progressive = bool(image.info.get("progressive") or image.info.get("progression"))
        pixels = width * height
    else:
        pixels, components, progressive = frame
    buffered = progressive or jpeg.count(b"\xff\xda") > 1  # (0xFF in coded data is always 0xFF00)
    needs = 2 * pixels * components if buffered else pixels * components // 16
    headroom = memory_headroom()
    return pixels <= MAX_JPEG_PIXELS and not (buffered and needs > MAX_JPEG_COEFFICIENT_BYTES) and (
        headroom is None or 2 * needs <= headroom)


def _chain(raw: memoryview | bytes, filters: list[str]) -> Iterator[bytes]:
    stage: Iterator[bytes] = _pieces(raw)
    for name in filters:
        stage = _FILTERS[name](stage)
    return stage


def _jpeg_frame(jpeg: bytes) -> tuple[int, int, bool] | None:
    """(width × height, components, progressive) from the JPEG's frame header (SOFn), or None where the
    markers do not lead to one."""
    at = 2
    while at + 10 <= len(jpeg) and jpeg[at] == 0xFF:
        marker = jpeg[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width, components = struct.unpack(">HHB", jpeg[at + 5:at + 10])
            return width * height, components, marker in (0xC2, 0xC6, 0xCA, 0xCE)
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            at += 2
            continue
        at += 2 + int.from_bytes(jpeg[at + 2:at + 4], "big")
    return None
