"""A small, tolerant COS reader (ISO 32000-1, 7.2-7.5): tokens and objects from raw bytes."""

from __future__ import annotations

import binascii
import re
from typing import Any, NamedTuple

_WS = rb"\x00\t\n\x0c\r "
_REGULAR = re.compile(rb"[^\x00\t\n\x0c\r ()<>\[\]{}/%]+")
_SKIP = re.compile(rb"(?:[\x00\t\n\x0c\r ]+|%[^\r\n]*)*")
_REF_TAIL = re.compile(  # "<gen> R" after an object number, with the whitespace and comments allowed around them
    rb"(?:[\x00\t\n\x0c\r ]++|%[^\r\n]*+)*+([+-]?+\d++)(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
    rb"(?:[\x00\t\n\x0c\r ]++|%[^\r\n]*+)*+R(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])")  # possessive: linear
_NUMBER_RUN = re.compile(  # up to 4096 plain numbers separated by whitespace, read in one match
    rb"(?:[\x00\t\n\x0c\r ]*+[+-]?(?>\d+\.?\d*|\.\d+)(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])){1,4096}")
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)\Z")
_OBJ_HEAD = re.compile(rb"(\d{1,10})[\x00\t\n\x0c\r ]+(\d{1,5})[\x00\t\n\x0c\r ]+obj(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])")
_LINE_START_OBJ = re.compile(rb"(?:(?<=[\r\n])|\A)(\d{1,10})[ ]+(\d{1,5})[ ]+obj\b")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_HEX_WS = re.compile(rb"[\x00\t\n\x0c\r ]")
_OCTAL = re.compile(rb"[0-7]{1,3}")
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
        """`num gen R` is a reference, else num is a number; one match instead of lexing two tokens
        and backing up (which read every number in an array three times)."""
        tail = _REF_TAIL.match(self.data, self.pos)
        if tail is None:
            return num
        self.pos = tail.end()
        return Ref(num, int(tail[1]))

    def _array(self, depth: int) -> list[Any]:
        """An array's items; runs of plain numbers (a /Widths or a coordinate list, or a hostile
        million zeros) are read many at a time, and `num gen R` is folded into a Ref at its R."""
        items: list[Any] = []
        data = self.data
        while True:
            run = _NUMBER_RUN.match(data, self.pos)
            if run is not None:
                words = run[0].split()
                items.extend(map(int, words) if b"." not in run[0] else
                             (float(w) if b"." in w else int(w) for w in words))
                self.pos = run.end()
            tok = self.token()
            if type(tok) is Punct and tok == "]":
                return items
            if type(tok) is Keyword and tok == "R" and len(items) > 1 and type(items[-1]) is int \
                    and type(items[-2]) is int:
                items[-2:] = [Ref(items[-2], items[-1])]
                continue
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
        digits = _HEX_WS.sub(b"", self.data[self.pos + 1:end])
        try:
            value = binascii.unhexlify(digits + b"0" * (len(digits) % 2))
        except (binascii.Error, ValueError):
            raise PdfSyntaxError(f"hex string with non-hex digits at byte {self.pos}") from None
        self.pos = end + 1
        return value


def _unescape_name(raw: bytes) -> str:
    if b"#" not in raw:  # nearly every name: no pattern to run
        return raw.decode("latin-1")
    return _NAME_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), raw).decode("latin-1")


def _unescape_into(out: bytearray, data: bytes, pos: int) -> int:
    """Append the character escaped at data[pos] (after a backslash); return the next position."""
    if pos >= len(data):
        return pos
    byte = data[pos]
    if byte in _ESCAPES:
        out.append(_ESCAPES[byte])
        return pos + 1
    octal = _OCTAL.match(data, pos, pos + 3)
    if octal:
        out.append(int(octal.group(), 8) & 0xFF)
        return pos + len(octal.group())
    if byte == 0x0D:  # line continuation
        return pos + 2 if data[pos + 1:pos + 2] == b"\n" else pos + 1
    if byte == 0x0A:
        return pos + 1
    out.append(byte)
    return pos + 1
