"""Our own PDF/A-2b validator: pikepdf's validator plus the file-level rules it leaves to qpdf.

pikepdf.pdfa checks the *objects* of a file thoroughly, but it trusts the *bytes*: every rule on
the header, trailer, cross-reference table, stream framing and the bytes after ``%%EOF`` is marked
"writer: qpdf" in its ``pdfa/data/dispositions.json``, because it only promises anything about
files qpdf has just written. An archived file may have been written by anything, or damaged since,
and qpdf quietly repairs much of that while opening, so pikepdf never sees it. This package reads
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

The verdict has three values: ``valid``, ``invalid`` (a rule is violated) and ``not checked`` (no
violation, but some points could not be checked, e.g. Type 3 fonts or DeviceN colour, which
pikepdf reports as "unsupported"). ``dispositions`` says what happens to each pikepdf finding
we do not pass on as it is: its XMP rules are replaced by ours, which know the XMP 2005 schemas
and the file's extension schemas.

Modules: ``findings`` (rule ids, Finding, CheckReport), ``lexer`` and ``reader`` (the COS reader:
tokens, stream framing and filters, objects, cross-reference data), ``xmp`` with ``xmp_rdf``,
``xmp_schemas``, ``xmp_types`` and ``xmp_extension`` (every XMP packet and property),
``graphics`` (transparency without output intent, JPEG 2000 headers), ``dispositions``,
``checks`` (one function per rule group, and pikepdf's validator), ``validate`` (check_pdf,
format_report). ``bench/pdfa_corpus.py`` scores the whole on the veraPDF corpus.
"""

from tasks.pdfcheck.checks import CHECKS, pikepdf_validated
from tasks.pdfcheck.findings import RULES, CheckReport, Finding
from tasks.pdfcheck.reader import PdfFile
from tasks.pdfcheck.validate import check_pdf, format_report

__all__ = ["CHECKS", "RULES", "CheckReport", "Finding", "PdfFile", "check_pdf", "format_report", "pikepdf_validated"]
