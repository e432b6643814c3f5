"""What we do with each pikepdf finding that we do not simply pass on.

pikepdf's validator is an allowlist: whatever it does not know, it reports, either as a
violation of a rule or as ``unsupported``. Two kinds of its findings are not passed on as they
come:

* ``REPLACED``: rules we check ourselves, more completely, so pikepdf's verdict is dropped and
  ours stands (see ``xmp``). Its XMP rule, for one, knows seven schemas and no extension schemas,
  and would reject every file with EXIF or Camera Raw metadata.
* ``DISMISSED``: "unsupported" findings that do not describe an unchecked point, with the reason.

Every other ``unsupported`` finding is a point nobody checked: it is reported as *not checked*,
which is neither a pass nor a failure (``somearkiv verify`` exits 4, not 1). ``NOT_CHECKED``
explains, for a person, what each of those means.
"""

from __future__ import annotations

REPLACED: dict[str, str] = {
    "6.6.2.3.1-1": "XMP properties are checked against the XMP 2005 schemas and the file's extension schemas",
    "6.6.2.3.1-2": "XMP value types are checked by our own XMP reader, structures included",
    "6.6.4-3": "pdfaid:conformance may be A, B or U in a PDF/A-2 file (pikepdf accepts only B)",
    "pikepdf:xmp-default-namespace": "our XMP reader resolves default namespaces",
    "pikepdf:schema-ObjectMetadata": "metadata streams of pages, images and fonts are checked by our XMP reader",
}
# Replaced only when pikepdf reports them as unsupported (its violations of these rules stand).
REPLACED_IF_UNSUPPORTED: dict[str, str] = {
    "6.6.2.1-4": "rdf:about values are compared by our XMP reader, as XMP requires",
}

DISMISSED: dict[str, str] = {
    # pikepdf adds this whenever /OutputIntents is absent, as a caution. The points it warns about
    # are checked all the same: pikepdf's content checker reports device colour used without an
    # output intent (6.2.4.3-2/-3/-4), and check_device_colour does for colour space dictionaries.
    "pikepdf:output-intent": "device colour without an output intent is checked by 6.2.4.3-2/-3/-4",
}

NOT_CHECKED: dict[str, str] = {
    "pikepdf:colour-space": "Separation, DeviceN and Pattern colour spaces (6.2.4.4, 6.2.4.5)",
    "pikepdf:pattern": "content drawn with patterns",
    "pikepdf:shading": "shadings",
    "pikepdf:font-type3": "Type 3 fonts (6.2.11)",
    "pikepdf:font-program": "font programs pikepdf cannot read (6.2.11.4)",
    "pikepdf:font-cmap": "CMaps of composite fonts (6.2.11.3.3)",
    "pikepdf:font-vertical": "vertical writing fonts",
    "pikepdf:schema-Catalog": "catalog entries pikepdf does not model (forms, permissions, optional content)",
    "pikepdf:schema-Resources": "resources pikepdf does not model",
    "pikepdf:schema-ImageXObject": "images pikepdf does not model (JPEG 2000, ...)",
    "pikepdf:inline-image": "inline images pikepdf cannot read",
    "pikepdf:internal": "pikepdf could not validate the file at all",
    "somearkiv:internal": "one of our checks could not run",
}


# pikepdf's own policies (not ISO 19005 rules) that reject what PDF/A allows: (rule, message) -> why.
# The first are dismissed; the second become "not checked".
NOT_PDFA_RULES: dict[tuple[str, str], str] = {
    ("pikepdf:schema-OutputIntents", "should be non-empty"): "an empty /OutputIntents array is allowed",
}
DOWNGRADED: dict[tuple[str, str], str] = {
    ("pikepdf:schema-ImageXObject", "image has no /ColorSpace"):
        "a JPEG 2000 image may omit /ColorSpace (ISO 32000-1 8.9.5); pikepdf does not read JPEG 2000",
}


def disposition(rule: str, kind: str, message: str = "") -> str:
    """'keep', 'replaced', 'dismissed' or 'not checked' for one pikepdf finding."""
    if rule in REPLACED or (kind == "unsupported" and rule in REPLACED_IF_UNSUPPORTED):
        return "replaced"
    if (kind == "unsupported" and rule in DISMISSED) or any(
            rule == r and text in message for r, text in NOT_PDFA_RULES):
        return "dismissed"
    if any(rule == r and text in message for r, text in DOWNGRADED):
        return "not checked"
    return "keep"
