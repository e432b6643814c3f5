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
    "6.2.8.3-1": "JPEG 2000 images have 1, 3 or 4 colour channels",
    "6.2.8.3-2": "a JPEG 2000 image with several colour specifications has exactly one with APPROX 1",
    "6.2.8.3-3": "a JPEG 2000 image without /ColorSpace uses colour specification method 1, 2 or 3",
    "6.2.8.3-4": "a JPEG 2000 image without /ColorSpace does not use the CIEJab enumerated colour space (19)",
    "6.2.8.3-5": "JPEG 2000 colour channels share one bit depth, 1 to 38",
    "6.2.10-2": "without a PDF/A output intent, a page with transparency has /Group with /CS",
    "6.5.1-1": "no Launch, Sound, Movie, ResetForm, ImportData, Hide, SetOCGState, Rendition, Trans, "
               "GoTo3DView, JavaScript, set-state or no-op actions",
    "6.5.2-1": "no /AA (additional actions) in the catalog",
    "6.5.2-2": "no /AA (additional actions) in a page",
    "6.6.2.1-1": "the catalog has /Metadata, a stream with /Type /Metadata and /Subtype /XML",
    "6.6.2.1-4": "the XMP packet is well-formed XML",
    "6.6.2.3.1-1": "every XMP property is predefined in XMP 2005 or ISO 19005, or declared in an extension schema",
    "6.6.2.3.1-2": "every XMP property has the value type its schema defines",
    "6.6.2.3.2-1": "extension schema descriptions hold only the fields ISO 19005-2 6.6.2.3.3 defines",
    "6.6.2.3.3-1": "pdfaExtension:schemas is a Bag, with prefix pdfaExtension",
    "6.6.2.3.3-2": "pdfaSchema:schema is present, Text, with prefix pdfaSchema",
    "6.6.2.3.3-3": "pdfaSchema:namespaceURI is present, URI, with prefix pdfaSchema",
    "6.6.2.3.3-4": "pdfaSchema:prefix is present, Text, with prefix pdfaSchema",
    "6.6.2.3.3-5": "pdfaSchema:property is a Seq Property, with prefix pdfaSchema",
    "6.6.2.3.3-6": "pdfaSchema:valueType is a Seq ValueType, with prefix pdfaSchema",
    "6.6.2.3.3-7": "pdfaProperty:name is present, Text, with prefix pdfaProperty",
    "6.6.2.3.3-8": "pdfaProperty:valueType is present, Text, with prefix pdfaProperty, and a defined type",
    "6.6.2.3.3-9": "pdfaProperty:category is present, 'internal' or 'external', with prefix pdfaProperty",
    "6.6.2.3.3-10": "pdfaProperty:description is present, Text, with prefix pdfaProperty",
    "6.6.2.3.3-11": "pdfaType:type is present, Text, with prefix pdfaType",
    "6.6.2.3.3-12": "pdfaType:namespaceURI is present, URI, with prefix pdfaType",
    "6.6.2.3.3-13": "pdfaType:prefix is present, Text, with prefix pdfaType",
    "6.6.2.3.3-14": "pdfaType:description is present, Text, with prefix pdfaType",
    "6.6.2.3.3-15": "pdfaType:field is a Seq Field, with prefix pdfaType",
    "6.6.2.3.3-16": "pdfaField:name is present, Text, with prefix pdfaField",
    "6.6.2.3.3-17": "pdfaField:valueType is present, Text, with prefix pdfaField, and a defined type",
    "6.6.2.3.3-18": "pdfaField:description is present, Text, with prefix pdfaField",
    "6.6.4-1": "the XMP declares the PDF/A identification schema (pdfaid)",
    "6.6.4-2": "pdfaid:part is the ISO 19005 part the file is checked against",
    "6.6.4-3": "pdfaid:conformance is A, B or U",
    "ISO_32000_1:7.3": "every object listed in the cross-reference data can be read",
    "ISO_32000_1:7.3.10": "every indirect object ends with 'endobj'",
    "ISO_32000_1:7.4.2": "every ASCIIHexDecode stream holds only hexadecimal digits and ends with '>'",
    "ISO_32000_1:7.4.3": "every ASCII85Decode stream decodes without error and ends with '~>'",
    "ISO_32000_1:7.4.4": "every FlateDecode stream inflates without error to its end (no damaged data)",
    "ISO_32000_1:7.4.5": "every RunLengthDecode stream ends with a whole run",
    "ISO_32000_1:7.4.8": "every DCTDecode (JPEG) image decodes without error (a cut-off or broken JPEG)",
    "ISO_32000_1:7.5.4": "xref table: subsection headers 'first count', 20-byte entries pointing at their objects, "
                         "a well-formed free list",
    "ISO_32000_1:7.5.5": "startxref, its offset and %%EOF on lines of their own at the end; "
                         "startxref and /Prev point at an xref table or xref stream; /Size is right",
    "ISO_32000_1:7.5.8": "xref streams are well-formed and point at their objects",
    "somearkiv:internal": "a check could not run (the file was not checked on that point)",
    "somearkiv:limit": "a part of the file is too large to check safely (a decompression bomb?), or checking it "
                       "needs more memory than allowed: not checked",
}
MAX_FINDINGS_PER_CHECK = 25


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One reason the file was not approved: a violated rule, or a point that could not be checked.

    ``rule`` is a veraPDF rule id as numbered for PDF/A-2 (``6.1.7.1-1``), ``ISO_32000_1:<clause>``
    for plain PDF syntax, ``pikepdf:<name>`` for pikepdf's own policies, or ``somearkiv:internal``.
    ``source`` says who found it: pikepdf's validator or our byte-level reader. ``kind`` is
    ``unsupported`` when the point could not be checked: not a failure, but it withholds approval.
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


Verdict = Literal["valid", "invalid", "not checked"]


def verdict_of(findings: list[Finding]) -> Verdict:
    """'invalid' if any rule is violated; else 'not checked' if some point could not be checked; else 'valid'."""
    if any(f.kind == "violation" for f in findings):
        return "invalid"
    return "not checked" if findings else "valid"


@dataclass(frozen=True)
class CheckReport:
    """The verdict on one file.

    ``verdict`` separates a file found *invalid* (a rule is violated) from one that could *not be
    checked* completely (no violation, but some points unchecked: ``not_checked``). ``passed``
    means fully checked and valid, the only verdict an archive may act on without a person.
    """

    passed: bool
    verdict: Verdict
    claimed: str | None  # e.g. "PDF/A-2B" as the XMP pdfaid says, or None
    flavour: str
    findings: list[Finding]
    sha256: str | None  # of exactly the bytes that were checked (None: a file too large to hash in time)
    size: int
    validator: str

    @property
    def rules(self) -> set[str]:
        return {f.rule for f in self.findings}

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "violation"]

    @property
    def not_checked(self) -> list[Finding]:
        """The points that could not be checked (pikepdf's "unsupported" findings, checks that failed)."""
        return [f for f in self.findings if f.kind != "violation"]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=indent)
