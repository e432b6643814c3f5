"""The checks: each takes the PdfFile and yields findings; CHECKS composes them in order."""

from __future__ import annotations

import importlib
import io
import re
import threading
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pikepdf
import pikepdf.pdfa

from tasks.pdfcheck.decoding import CLAUSES, Decoded, decode, filters_of
from tasks.pdfcheck.dispositions import disposition
from tasks.pdfcheck.findings import Finding
from tasks.pdfcheck.graphics import check_jpeg2000, check_page_transparency
from tasks.pdfcheck.lexer import MAX_DEPTH
from tasks.pdfcheck.reader import IndirectObject, PdfFile, XrefSection, _where
from tasks.pdfcheck.xmp import property_problems

T = TypeVar("T")
_PIKEPDF_VALIDATOR = threading.Lock()


def _ignored_outside(message: warnings.WarningMessage, filters: list) -> bool:
    """Whether the warning filters in force outside a catch would have ignored *message* (Python's
    defaults ignore DeprecationWarning, ResourceWarning, ...). Filters for one module are passed
    over: which module warned is not known here."""
    text = str(message.message)
    for action, pattern, category, module, lineno in filters:
        if module is not None or (lineno and lineno != message.lineno):
            continue
        if (pattern is None or pattern.match(text)) and issubclass(message.category, category):
            return action == "ignore"
    return False


class _ThisThreadsWarnings:
    """The ``warnings`` module as pikepdf's content parsers see it: ``catch_warnings(record=True)``
    records the calling thread's warnings only.

    pikepdf counts any warning raised while it parses a content stream or a CMap as a parse error
    (qpdf reports bad syntax as a warning), and before Python 3.14's context-aware warnings
    ``catch_warnings`` swaps process-wide state: a warning raised in another thread in that moment
    (a ResourceWarning as some library's file or socket is collected) was recorded too, and failed
    a valid archival PDF (measured: 2 of 20 validations beside a thread that warns often, 7 of 20
    for pikepdf's validator alone). A warning from another thread goes where it would have gone
    without the catch, unless the filters in force outside it ignore it.
    """

    def __getattr__(self, name: str) -> Any:  # the rest (simplefilter, warn, ...) is the module's own
        return getattr(warnings, name)

    @staticmethod
    @contextmanager
    def catch_warnings(*, record: bool = False, **kwargs: Any) -> Iterator[Any]:
        show, show_message = warnings.showwarning, getattr(warnings, "_showwarnmsg_impl", None)
        outside = warnings.filters  # the catch puts a copy in its place, and this list back on leaving
        with warnings.catch_warnings(record=record, **kwargs) as log:
            if not (record and show_message is not None and getattr(warnings, "_showwarnmsg_impl", None) == log.append):
                yield log  # context-aware warnings (Python 3.14+), or not recording: nothing to do
                return
            caller, recording = threading.get_ident(), [True]

            def recorded(message: warnings.WarningMessage) -> None:
                if recording[0] and threading.get_ident() == caller:
                    log.append(message)
                elif _ignored_outside(message, outside):
                    pass
                elif show is not getattr(warnings, "_showwarning_orig", show):  # replaced (captureWarnings)
                    show(message.message, message.category, message.filename, message.lineno, message.file,
                         message.line)
                else:
                    show_message(message)

            warnings._showwarnmsg_impl = recorded  # type: ignore[attr-defined]  # restored on leaving
            try:
                yield log
            finally:
                recording[0] = False  # should another thread's catch put this one back for good, it only passes on
                if warnings._showwarnmsg_impl is not recorded or warnings.filters[:1] != [_ALWAYS]:  # type: ignore
                    log.append(warnings.WarningMessage(_INTERFERED, RuntimeWarning, __file__, 0))


# Another thread's catch_warnings ended while a stream was parsed and put the process's warning
# settings back to what they were before this one began (Prefect validates a model in such a
# catch for every task run): the parser's own warnings were no longer recorded, and a stream
# that does not parse could pass (measured). The parse is then counted as failed, and
# pikepdf_validated checks the file again.
_INTERFERED = ("another thread changed the warning settings while this stream was parsed, so a problem could "
               "have gone unseen")
_ALWAYS = ("always", None, Warning, None, 0)


def _record_this_threads_warnings_only() -> tuple[str, ...]:
    """Give pikepdf's content and CMap parsers the thread-aware catch; the modules it was given to."""
    given = []
    for name in ("pikepdf.pdfa._content", "pikepdf.pdfa._cmap"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue  # a pikepdf that moved them: the serialised, confirmed validation below still holds
        if getattr(module, "warnings", None) is warnings:
            module.warnings = _ThisThreadsWarnings()  # type: ignore[attr-defined]
            given.append(name)
    return tuple(given)


PARSERS_WITH_OWN_WARNINGS = _record_this_threads_warnings_only()


def _stray_warning_suspect(report: Any) -> bool:
    return any(f.rule == "pikepdf:content-parse" for f in report.findings)


def pikepdf_validated(call: Callable[[], T]) -> T:
    """Run a pikepdf.pdfa call that validates (``save``, ``validate_written``), safe from other threads.

    pikepdf's validator counts *any* Python warning raised while it parses a content stream as a
    parse error, and ``warnings.catch_warnings`` is process-wide before Python 3.14: a warning
    raised meanwhile in another thread (a ResourceWarning when some library's temporary file is
    collected, say) failed a valid file once in CI. Its parsers record only their own thread's
    warnings (``_ThisThreadsWarnings``); the catch itself swaps process-wide state, so our own
    validations are serialised (two at once would restore each other's state wrongly); and a
    content-parse finding is confirmed by validating once more: the input is the same bytes, so a
    real one comes back and a stray warning does not. ``save`` with ``repair=False`` changes
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
    the file-level rules below; those are the byte checks' job. Its findings on rules we check
    better ourselves (XMP) are dropped; see ``dispositions``.
    """
    oversized = _oversized_content_stream(pdf)
    if oversized is not None:  # qpdf would inflate it whole into memory: a 4 MB file took 8 GB (measured)
        yield Finding("somearkiv:limit", oversized, f"a content stream inflates past {MAX_CONTENT_STREAM >> 20} MB: "
                      "the object-level checks (pikepdf) were not run on this file (a decompression bomb, or a page "
                      "too large to check safely)", "pikepdf", "unsupported")
        return
    report = pikepdf_validated(lambda: pikepdf.pdfa.validate_written(io.BytesIO(pdf.data), pdf.flavour))
    for found in report.findings:
        rule = _short_rule(found.rule)
        kept = disposition(rule, found.kind, found.message)
        if kept in ("replaced", "dismissed"):
            continue  # checked by us instead, or not an unchecked point (see dispositions)
        where, message = (re.sub(r"<_io\.BytesIO object at 0x[0-9a-f]+>", "file", text)
                          for text in (found.where, found.message))
        yield Finding(rule, where, message, "pikepdf", "unsupported" if kept == "not checked" else found.kind)


MAX_CONTENT_STREAM = 64 << 20  # decoded bytes of one non-image stream pikepdf's validator may parse


def _oversized_content_stream(pdf: PdfFile) -> str | None:
    """Where a stream that is not an image decodes past MAX_CONTENT_STREAM through its filters, or None.

    pikepdf (qpdf) parses page contents, forms and glyph procedures in memory; image data it
    leaves alone. Decoded here in bounded pieces, counted and thrown away.
    """
    for obj in _streams(pdf):
        if obj.value.get("/Subtype") == "/Image" or pdf.encrypted:
            continue
        assert obj.stream is not None
        if _decoded(pdf, obj, MAX_CONTENT_STREAM).size > MAX_CONTENT_STREAM:
            return _where(obj)
    return None


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
    """ISO 32000-1 7.5.5: trailer /Size covers the highest object number. qpdf ignores a wrong /Size."""
    if pdf.reconstructed or not pdf.trailer:
        return  # reported by check_startxref / check_trailer_id
    size, highest = pdf.trailer.get("/Size"), max(pdf.xref_entries, default=0)
    # A /Size above highest + 1 is harmless (readers and veraPDF accept it, and valid files have it);
    # one at or below the highest object number leaves objects outside the cross-reference data.
    if type(size) is not int or size <= highest:
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


def check_stream_data(pdf: PdfFile) -> Iterator[Finding]:
    """ISO 32000-1 7.4: each stream's data decodes cleanly through its filters to its end (Flate's
    checksum included). Neither pikepdf nor qpdf decode image data when validating, so a damaged
    image (bit rot, a bad copy) would otherwise pass. See ``decoding`` for what is decoded how."""
    if pdf.encrypted:
        return
    for obj in _streams(pdf):
        found = _decoded(pdf, obj)
        if found.damaged_in:
            filters = _filters(pdf, obj)
            where = _where(obj) + (f" (filters {' '.join(filters)})" if len(filters) > 1 else "")
            yield pdf.finding(f"ISO_32000_1:{CLAUSES[found.damaged_in]}", where,
                              f"the {found.damaged_in[1:]} data is damaged: {found.damage}")


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


def _decoded(pdf: PdfFile, obj: IndirectObject, stop_after: int | None = None) -> Decoded:
    """The stream's data through its filters (``decoding.decode``), decoded once per file: a result that
    reached the end of the data is kept for the next check that asks (the content-stream bound before
    pikepdf, then the damage check, read the same streams)."""
    kept = pdf.__dict__.setdefault("_decoded", {})
    found = kept.get(obj.ref)
    if found is None:
        assert obj.stream is not None
        found = decode(memoryview(pdf.data)[obj.stream.start:obj.stream.end], _filters(pdf, obj), stop_after)
        if stop_after is None or found.size <= stop_after:  # whole: not cut at the bound
            kept[obj.ref] = found
    return found


def _filters(pdf: PdfFile, obj: IndirectObject) -> list[str]:
    """The stream's filters, each name read through an indirect reference ('/Filter 5 0 R') if it is one."""
    value = pdf.resolve(obj.value.get("/Filter"))
    return filters_of([pdf.resolve(v) for v in value] if isinstance(value, list) else value)


def _streams(pdf: PdfFile) -> Iterator[IndirectObject]:
    return (obj for obj in pdf.objects.values() if obj.stream is not None)


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
            if isinstance(item, dict | list):  # a number or a name holds no dictionary
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
            if isinstance(item, dict | list) or (isinstance(item, str) and item in _DEVICE_RULES):
                found |= _device_spaces(item, depth + 1)
    return found


def check_xmp_metadata(pdf: PdfFile) -> Iterator[Finding]:
    """6.6.2.1-1, 6.6.2.1-4: an XMP metadata stream, read from the bytes and parsed as XML."""
    if pdf.encrypted:
        return  # the packet is encrypted as well; 6.1.3-2 is reported
    xmp = pdf.xmp
    if xmp.problem:
        yield pdf.finding(xmp.problem_rule, "catalog /Metadata", xmp.problem)


def check_xmp_properties(pdf: PdfFile) -> Iterator[Finding]:
    """6.6.2.3.1-1/-2, 6.6.2.3.2-1, 6.6.2.3.3-x: every XMP property predefined or declared, and of its type.

    In every metadata stream of the file, the catalog's and those of pages, images or fonts.
    """
    if pdf.encrypted:
        return  # the packets are encrypted as well; 6.1.3-2 is reported
    for problem in property_problems(pdf):
        yield pdf.finding(problem.rule, problem.where, problem.message)


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
    check_stream_data,
    check_actions,
    check_output_intent,
    check_device_colour,
    check_page_transparency,
    check_jpeg2000,
    check_xmp_metadata,
    check_xmp_properties,
    check_pdfa_identification,
)
