"""What a check reports: rule ids with their requirement, one finding, the verdict on a file."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

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
