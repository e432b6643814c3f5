"""Entry points: check a file, and a plain-text report for a person."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from importlib import resources
from os import PathLike, fspath
from pathlib import Path
from typing import Any

import pikepdf
import pikepdf.pdfa

from tasks.pdfcheck.ceiling import CHECK_TIME_BUDGET_S, OutOfTime, memory_ceiling, time_limit
from tasks.pdfcheck.checks import CHECKS, Check, check_binary_comment, check_header
from tasks.pdfcheck.dispositions import NOT_CHECKED
from tasks.pdfcheck.findings import MAX_FINDINGS_PER_CHECK, RULES, CheckReport, Finding, verdict_of
from tasks.pdfcheck.reader import PdfFile

VALIDATOR = f"somearkiv pdfcheck + pikepdf {pikepdf.__version__}"
MEMORY_PER_FILE_BYTE = 5  # measured: a file of long strings took about five times its size to check


def check_pdf(path_or_bytes: str | PathLike[str] | bytes | bytearray | memoryview, flavour: str = "2b",
              checks: Iterable[Check] = CHECKS, max_memory: int | None = None) -> CheckReport:
    """Validate a PDF/A-2b (or -3b) file; never raises on a bad file, only on a bad *flavour*.

    The file is read once; pikepdf and the byte checks look at exactly those bytes, whose SHA-256
    the report records. *max_memory*: the memory the check may add to the process (a file from
    outside: see ``ceiling``); a file too large for it, or whose check came near it, is reported
    as not completely checked instead of exhausting the machine. Such a file's check is bounded in
    time too (CHECK_TIME_BUDGET_S): what is not checked by then is reported as not checked.
    """
    flavour = str(pikepdf.pdfa.Flavour(flavour))
    if flavour not in ("2b", "3b"):
        raise ValueError(f"flavour {flavour!r}: the byte-level checks use PDF/A-2/-3 rule ids; use '2b' or '3b'")
    if max_memory is not None and not isinstance(path_or_bytes, bytes | bytearray | memoryview):
        too_large = _too_large(Path(fspath(path_or_bytes)), flavour, max_memory)
        if too_large is not None:
            return too_large
    with memory_ceiling(max_memory) if max_memory else nullcontext(lambda: False) as reached:
        data = bytes(path_or_bytes) if isinstance(path_or_bytes, bytes | bytearray | memoryview) \
            else Path(fspath(path_or_bytes)).read_bytes()
        findings: list[Finding] = []
        ran_out = out_of_time = False
        claimed = None
        try:
            with _no_cyclic_gc(), time_limit(CHECK_TIME_BUDGET_S) if max_memory else nullcontext():
                pdf = PdfFile(data, flavour)
                for check in checks:
                    try:
                        findings += _run(check, pdf)
                    except MemoryError:  # the file's objects did not fit; the checks that need none still run
                        ran_out = True
                claimed = None if ran_out else _safely(lambda: pdf.claimed)
        except OutOfTime:  # the findings of the checks that ended are kept
            out_of_time = True
    if ran_out or reached():  # qpdf "repaired" what it could not allocate: its findings describe another file
        findings = [f for f in findings if f.source != "pikepdf"] + [_memory_finding(max_memory)]
    if out_of_time:
        findings.append(Finding("somearkiv:limit", "file", f"checking it took more than {CHECK_TIME_BUDGET_S:g} s: "
                                "not completely checked (the findings of the checks that ended are kept)", "bytes",
                                "unsupported"))
    return CheckReport(passed=not findings, verdict=verdict_of(findings), claimed=claimed, flavour=flavour,
                       findings=findings, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                       validator=VALIDATOR)


def _memory_finding(max_memory: int | None) -> Finding:
    needs = f"more than {max_memory >> 20} MB of memory" if max_memory else "more memory than the machine gave"
    return Finding("somearkiv:limit", "file", f"checking it needs {needs}: not completely checked "
                   "(pikepdf's findings are left out; the byte checks that ran are kept)", "bytes", "unsupported")


def _too_large(path: Path, flavour: str, max_memory: int) -> CheckReport | None:
    """A report without reading the file into memory, when checking it could not fit under *max_memory*."""
    size = path.stat().st_size
    if size * MEMORY_PER_FILE_BYTE <= max_memory:
        return None
    with path.open("rb") as f:
        head = f.read(1024)
        f.seek(max(0, size - 1024))
        tail = f.read()
        f.seek(0)
        try:  # a file of 100 GB (a sparse one is made in a moment) took 109 s to hash
            with time_limit(CHECK_TIME_BUDGET_S):
                sha256: str | None = hashlib.file_digest(f, "sha256").hexdigest()
        except OutOfTime:
            sha256 = None
    # what can be seen without reading the file: the header lines and the end, where readers look
    seen = PdfFile(head, flavour)
    findings = [found for check in (check_header, check_binary_comment) for found in _run(check, seen)]
    if sha256 is None:
        findings.append(Finding("somearkiv:limit", "file", f"hashing its {size} bytes took more than "
                                f"{CHECK_TIME_BUDGET_S:g} s: no SHA-256 in this report (`sha256sum` makes one)",
                                "bytes", "unsupported"))
    if b"%%EOF" not in tail:
        findings.append(Finding("ISO_32000_1:7.5.5", "end of file", "no %%EOF marker in the last 1024 bytes", "bytes",
                                "violation"))
    findings.append(_memory_finding(max_memory))
    return CheckReport(passed=False, verdict=verdict_of(findings), claimed=None, flavour=flavour, findings=findings,
                       sha256=sha256, size=size, validator=VALIDATOR)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Python's cyclic collector off while a file's objects are read: the reader makes no cycles, and
    with a million objects in the file the collector's repeated passes over them took 40 % of the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run(check: Check, pdf: PdfFile) -> list[Finding]:
    """One check's findings, capped; a check that fails itself becomes an 'unsupported' finding.
    A MemoryError is passed on: check_pdf reports the file as not completely checked."""
    try:
        findings = list(check(pdf))
    except MemoryError:
        raise
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
    except Exception:  # noqa: BLE001 - MemoryError included: the claim is then unknown
        return None


def format_report(report: CheckReport) -> str:
    """A plain-text report for a person: verdict, what the file claims, and each finding with its rule."""
    if report.verdict == "valid":
        verdict = "PASSED"
    elif report.verdict == "invalid":
        verdict = f"FAILED ({len(report.violations)} violation(s), {len(report.not_checked)} point(s) not checked)"
    else:
        verdict = f"NOT FULLY CHECKED (no violation; {len(report.not_checked)} point(s) not checked)"
    lines = [
        f"PDF/A-{report.flavour} check: {verdict}",
        f"  file:     {report.size} bytes, sha256 {report.sha256 or 'not computed (see below)'}",
        f"  claims:   {report.claimed or 'no PDF/A identification'}",
        f"  checked:  {report.validator}",
    ]
    if report.violations:
        lines.append("  violations:")
        lines += [f"    {f.rule:<18} [{f.source}] {f.where}: {f.message}" for f in report.violations]
    if report.not_checked:
        lines.append("  not checked (neither passed nor failed):")
        lines += [f"    {f.rule:<18} [{f.source}] {f.where}: {f.message}" for f in report.not_checked]
    if report.findings:
        described = [(rule, _describe(rule)) for rule in dict.fromkeys(f.rule for f in report.findings)]
        lines.append("  rules:")
        lines += [f"    {rule:<18} {text}" for rule, text in described if text]
    return "\n".join(lines)


def _describe(rule: str) -> str:
    if rule in RULES:
        return RULES[rule]
    if rule in NOT_CHECKED:
        return f"not checked: {NOT_CHECKED[rule]}"
    entry = _verapdf_rules().get(f"ISO_19005_2:{rule}")
    return entry["description"][:160] if entry else ""


_CATALOGUE: dict[str, Any] = {}


def _verapdf_rules() -> dict[str, Any]:
    """pikepdf's bundled veraPDF rule catalogue (CC BY 4.0, veraPDF Consortium)."""
    if not _CATALOGUE:
        text = resources.files("pikepdf.pdfa").joinpath("data/verapdf_rules.json").read_text(encoding="utf-8")
        _CATALOGUE.update(json.loads(text)["rules"])
    return _CATALOGUE
