"""What a PDF/A conversion is asked and what it answers, as plain data: JSON between the flow's
process and a conversion worker (tasks.pdfa_worker), with no PDF library imported to read it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

__all__ = ["ConversionJob", "Converted", "Written"]


@dataclass(frozen=True)
class Written:
    """What write_pdfa wrote and checked (tasks.pdfa makes the record's PdfaInfo of it)."""

    validator: str
    findings: tuple[str, ...]
    pages: int
    words: int


@dataclass(frozen=True)
class ConversionJob:
    """One capture's conversion, as plain paths and strings (sent to a worker process as JSON).

    pages: (png, word-box file or None) per page, desktop first; out: startpage.pdf; xmp: the
    document metadata (must hold 'dc:identifier'); printed/derived: Chromium's print PDF and
    where its PDF/A copy goes (both None when there is no print PDF).
    """

    pages: tuple[tuple[str, str | None], ...]
    out: str
    xmp: dict[str, object]
    text_layer: bool = True
    printed: str | None = None
    derived: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ConversionJob:
        data = json.loads(text)
        return cls(pages=tuple((png, words) for png, words in data["pages"]), out=data["out"], xmp=data["xmp"],
                   text_layer=data["text_layer"], printed=data["printed"], derived=data["derived"])


@dataclass(frozen=True)
class Converted:
    """The outcome of a ConversionJob: *written* (validated twice), or the *error* that stopped it; and
    whether the print PDF's PDF/A copy validated, with its findings when it did not."""

    written: Written | None = None
    second_validator: str = ""
    error: str | None = None
    print_ok: bool = False
    print_findings: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Converted:
        data = json.loads(text)
        written = data["written"]
        return cls(written=None if written is None else Written(
                       written["validator"], tuple(written["findings"]), written["pages"], written["words"]),
                   second_validator=data["second_validator"], error=data["error"], print_ok=data["print_ok"],
                   print_findings=tuple(data["print_findings"]))
