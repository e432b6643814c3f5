"""Score our PDF/A-2b validator (tasks.pdfcheck) on the veraPDF test corpus.

    .venv/bin/python -m bench.pdfa_corpus /path/to/veraPDF-corpus        # a checkout or a bare git dir
    .venv/bin/python -m bench.pdfa_corpus CORPUS --jobs 2 --json out.json --list

The corpus (github.com/veraPDF/veraPDF-corpus, CC BY 4.0) names every test file after its
expected result: ``veraPDF test suite 6-1-2-t01-pass-a.pdf`` conforms, ``...-fail-a.pdf`` breaks
the clause its folder names. Only the names are used, to know what to expect; nothing in the
validator looks at them.

A file is *accepted* when the validator finds no violation; it may still have points that could
not be checked (``verdict == "not checked"``), which are counted apart. Prints the share of
valid files accepted and of invalid files rejected (targets: 98 % and 90 %), every valid file
rejected with the rules it broke, and the clauses of the invalid files that were let through.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

EXPECTED = re.compile(r"-(pass|fail)-[a-z]+\.pdf$")
TARGET_VALID, TARGET_INVALID = 98.0, 90.0


def corpus_files(corpus: Path, part: str, tmp: Path) -> list[Path]:
    """The test files of *part* (e.g. PDF_A-2b); a bare git directory is exported to *tmp* first."""
    if (corpus / "HEAD").is_file() and (corpus / "objects").is_dir():
        archive = subprocess.run(["git", "--git-dir", str(corpus), "archive", "HEAD", part],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        corpus = tmp
    return sorted(p for p in (corpus / part).rglob("*.pdf") if EXPECTED.search(p.name))


def check_one(path: str) -> tuple[str, str, list[tuple[str, str]], float]:
    from tasks.pdfcheck import check_pdf

    started = time.perf_counter()
    report = check_pdf(Path(path))
    return path, report.verdict, sorted({(f.rule, f.kind) for f in report.findings}), time.perf_counter() - started


def score(results: list[tuple[str, str, list[tuple[str, str]], float]]) -> dict:
    """Counts per expected outcome and verdict, the valid files rejected, the invalid ones let through."""
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    false_rejections, missed = [], collections.Counter()
    for path, verdict, rules, _ in results:
        expected = EXPECTED.search(path)[1]  # type: ignore[index]
        counts[(expected, verdict)] += 1
        if expected == "pass" and verdict == "invalid":
            false_rejections.append((Path(path).name, [r for r, kind in rules if kind == "violation"]))
        if expected == "fail" and verdict != "invalid":
            missed[Path(path).parent.name] += 1
    valid = sum(n for (e, _), n in counts.items() if e == "pass")
    invalid = sum(n for (e, _), n in counts.items() if e == "fail")
    return {
        "valid_files": valid, "invalid_files": invalid,
        "valid_accepted": valid - counts[("pass", "invalid")],
        "valid_fully_checked": counts[("pass", "valid")],
        "invalid_rejected": counts[("fail", "invalid")],
        "accepted_valid_pct": round(100 * (valid - counts[("pass", "invalid")]) / max(valid, 1), 1),
        "rejected_invalid_pct": round(100 * counts[("fail", "invalid")] / max(invalid, 1), 1),
        "false_rejections": false_rejections,
        "missed_by_clause": dict(missed.most_common()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="veraPDF-corpus: a checkout, or a bare git directory")
    parser.add_argument("--part", default="PDF_A-2b")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--json", type=Path, help="also write every file's verdict and rules here")
    parser.add_argument("--list", action="store_true", help="list every valid file rejected")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        files = [str(p) for p in corpus_files(args.corpus, args.part, Path(tmp))]
        if not files:
            print(f"no test files under {args.corpus}/{args.part}", file=sys.stderr)
            return 2
        started = time.perf_counter()
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(check_one, files, chunksize=8))
        elapsed = time.perf_counter() - started
    result = score(results)
    print(f"{args.part}: {len(files)} files in {elapsed:.0f} s")
    print(f"  valid files accepted:    {result['valid_accepted']}/{result['valid_files']} "
          f"= {result['accepted_valid_pct']} % (target {TARGET_VALID} %); fully checked: "
          f"{result['valid_fully_checked']}, the rest with points not checked")
    print(f"  invalid files rejected:  {result['invalid_rejected']}/{result['invalid_files']} "
          f"= {result['rejected_invalid_pct']} % (target {TARGET_INVALID} %)")
    rules = collections.Counter(rule for _, broken in result["false_rejections"] for rule in broken)
    if rules:
        print("  rules that rejected valid files: " + ", ".join(f"{r} ({n})" for r, n in rules.most_common()))
    if args.list:
        for name, broken in result["false_rejections"]:
            print(f"    {name}: {', '.join(broken)}")
    print("  invalid files let through, by clause: " +
          ", ".join(f"{clause} ({n})" for clause, n in result["missed_by_clause"].items()))
    if args.json:
        args.json.write_text(json.dumps({"score": result, "files": results}, indent=1))
    met = result["accepted_valid_pct"] >= TARGET_VALID and result["rejected_invalid_pct"] >= TARGET_INVALID
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
