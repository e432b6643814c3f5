"""How fast `somearkiv search` answers over 10 000 captures, against a plain LIKE scan, in one process.

    .venv/bin/python bench/search.py                  # 10 000 captures, ~300 words each
    .venv/bin/python bench/search.py --captures 2000 --json

Builds a synthetic index in a temporary folder (no S3: the index's own add(), as the sync calls it)
of captures with realistic Swedish municipal text (news, opening hours, schools, roads, culture;
inflected forms, names, dates, phone numbers), ~300 words in the PDF text layer and the DOM text
each, spread over 20 accounts and three years. Then times each query (median of several runs,
the first run discarded), end to end as the CLI runs it: the FTS5 match, the total count, the best
50 rows and their snippets. The baseline is what one would do without an index: a LIKE scan over
the same text in the same database (``pdf_text LIKE '%skolan%' OR dom_text LIKE ...``), which finds
neither other forms of a word nor knows word boundaries. Ratios are taken within the run, so the
machine's speed cancels out. Goal: every query under a second over 10 000 captures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.search.index import IndexedCapture, SearchIndex, Source  # noqa: E402
from tasks.search.query import parse_query  # noqa: E402

_NOUNS = [("skola", "skolan", "skolor", "skolorna"), ("förskola", "förskolan", "förskolor", "förskolorna"),
          ("bibliotek", "biblioteket", "bibliotek", "biblioteken"), ("väg", "vägen", "vägar", "vägarna"),
          ("gata", "gatan", "gator", "gatorna"), ("park", "parken", "parker", "parkerna"),
          ("kommun", "kommunen", "kommuner", "kommunerna"), ("invånare", "invånaren", "invånare", "invånarna"),
          ("möte", "mötet", "möten", "mötena"), ("beslut", "beslutet", "beslut", "besluten"),
          ("förälder", "föräldern", "föräldrar", "föräldrarna"), ("elev", "eleven", "elever", "eleverna"),
          ("simhall", "simhallen", "simhallar", "simhallarna"), ("konsert", "konserten", "konserter", "konserterna"),
          ("bygglov", "bygglovet", "bygglov", "bygglovet"), ("vecka", "veckan", "veckor", "veckorna"),
          ("kyrka", "kyrkan", "kyrkor", "kyrkorna"), ("tävling", "tävlingen", "tävlingar", "tävlingarna"),
          ("snöröjning", "snöröjningen", "snöröjningar", "snöröjningarna"), ("buss", "bussen", "bussar", "bussarna"),
          ("lekplats", "lekplatsen", "lekplatser", "lekplatserna"), ("ansökan", "ansökan", "ansökningar",
                                                                   "ansökningarna"),
          ("sommarlov", "sommarlovet", "sommarlov", "sommarloven"), ("utställning", "utställningen", "utställningar",
                                                                    "utställningarna"),
          ("medarbetare", "medarbetaren", "medarbetare", "medarbetarna"), ("cykelväg", "cykelvägen", "cykelvägar",
                                                                        "cykelvägarna")]
_RARE = [("vattenläcka", "vattenläckan", "vattenläckor", "vattenläckorna")]
_ADJ = ["nya", "ny", "nytt", "stora", "gamla", "fina", "öppna", "stängda", "kommunala", "viktiga", "populära",
        "tillfälliga", "fler", "många", "goda"]
_VERBS = ["öppnar", "stänger", "bygger", "renoverar", "informerar om", "välkomnar", "besöker", "planerar",
          "inviger", "söker", "presenterar", "firar", "bjuder in till", "har", "får", "visar"]
_FILLER = ["och", "i", "på", "med", "för", "till", "av", "under", "efter", "inför", "hos", "om", "vid", "från",
           "den", "det", "de", "vi", "ni", "alla", "här", "nu", "idag", "imorgon", "också", "gärna", "mer"]
_PLACES = ["Perstorp", "Oderljunga", "Hälsinggården", "Skåne", "Centrum", "Stationsgatan", "Kulturhuset"]
_NAMES = ["Anna Andersson", "Erik Nilsson", "Maria Persson", "Johan Lindgren", "Sara Holm"]
_NAV = ("Startsida Nyheter Evenemang Kontakt Om kommunen Följ oss Gilla Dela Kommentera Visa fler inlägg "
        "Integritetspolicy Cookies Logga in Skapa konto").split()


def _sentence(rng: random.Random, rare: bool) -> str:
    pool = _NOUNS + (_RARE if rare else [])
    noun = rng.choice(pool)[rng.randrange(4)]
    other = rng.choice(_NOUNS)[rng.randrange(4)]
    parts = [rng.choice(["Kommunen", "Vi", "Perstorps kommun", "Kultur och fritid", "Barn- och utbildning"]),
             rng.choice(_VERBS), rng.choice(_ADJ), noun, rng.choice(_FILLER), rng.choice(_PLACES),
             rng.choice(_FILLER), rng.choice(_ADJ), other]
    if rng.random() < 0.15:
        parts += ["kontakta", rng.choice(_NAMES), f"070-{rng.randrange(100, 999)} {rng.randrange(10, 99)} "
                                                  f"{rng.randrange(10, 99)}"]
    if rng.random() < 0.2:
        parts += [f"den {rng.randrange(1, 29)} {rng.choice(['januari', 'mars', 'maj', 'augusti', 'oktober'])}"]
    return " ".join(parts) + rng.choice([".", "!", "."])


def _text(rng: random.Random, words: int, rare: bool) -> str:
    out, count = [], 0
    while count < words:
        s = _sentence(rng, rare)
        out.append(s)
        count += len(s.split())
    return " ".join(out)


def build(path: Path, captures: int, seed: int = 20) -> tuple[float, int]:
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    began = time.perf_counter()
    with SearchIndex(path, "bench") as index, index.transaction():
        for i in range(captures):
            account = f"konto-{i % 20:02d}"
            when = start + dt.timedelta(minutes=i * 157)  # ~3 years
            cid = f"{account}/{when:%Y-%m-%dT%H%M%SZ}-scheduled"
            rare = i % 500 == 0  # 'vattenläcka' in 20 of 10 000
            pdf = _text(rng, 300, rare) + (" Larm om en vattenläcka vid Stationsgatan." if rare else "")
            dom = " ".join(_NAV) + " " + _text(rng, 280, False)
            index.add(IndexedCapture(cid, account, "facebook", when, f"{account} – Facebook",
                                     f"captures/{cid}/record.json", f"captures/{cid}/startpage.pdf",
                                     (Source(f"captures/{cid}/record.json", "v", "0" * 64),), pdf, dom))
    return time.perf_counter() - began, path.stat().st_size


def _timed(fn, runs: int) -> tuple[float, object]:
    fn()  # warm: the first run reads pages from disk
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


QUERIES = [  # (label, query, filters, LIKE patterns a person without an index would try)
    ("word, stemmed", "skolan", {}, ["%skolan%"]),
    ("word, 4 forms by LIKE", "skolan", {}, ["%skola%", "%skolan%", "%skolor%", "%skolorna%"]),
    ("phrase", '"nya skolan"', {}, ["%nya skolan%"]),
    ("prefix", "skol*", {}, ["%skol%"]),
    ("rare word (20 captures)", "vattenläckan", {}, ["%vattenläckan%"]),
    ("name phrase", '"anna andersson"', {}, ["%anna andersson%"]),
    ("two words, OR, NOT", "kyrkan simhallen OR biblioteket -konserten", {}, ["%kyrkan%"]),
    ("word + account + one year", "skolan", {"account": "konto-03", "start": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                                              "end": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}, ["%skolan%"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captures", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "search" / "index.sqlite"
        seconds, size = build(path, args.captures)
        rows = []
        with SearchIndex(path, "bench") as index:
            db = index.db
            for label, text, filters, likes in QUERIES:
                query = parse_query(text)
                fts_s, result = _timed(lambda q=query, f=filters: index.search(q, limit=50, **f), args.runs)
                where = " OR ".join("pdf_text LIKE ? OR dom_text LIKE ?" for _ in likes)
                extra, params = "", [p for like in likes for p in (like, like)]
                if filters:
                    extra = " AND account = ? AND started_at >= ? AND started_at < ?"
                    params += [filters["account"], filters["start"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                               filters["end"].strftime("%Y-%m-%dT%H:%M:%SZ")]
                like_s, like_count = _timed(lambda w=where, e=extra, p=params: db.execute(
                    f"SELECT count(*) FROM captures WHERE ({w}){e}", p).fetchone()[0], args.runs)
                rows.append({"query": label, "typed": text, "hits": result.total, "fts_ms": round(fts_s * 1000, 2),
                             "like_hits": like_count, "like_ms": round(like_s * 1000, 2),
                             "like_over_fts": round(like_s / fts_s, 1)})
    report = {"captures": args.captures, "build_s": round(seconds, 1), "index_mb": round(size / 1e6, 1),
              "queries": rows, "goal_met": all(r["fts_ms"] < 1000 for r in rows)}
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    print(f"{args.captures} captures indexed in {seconds:.1f} s ({args.captures / seconds:.0f}/s), "
          f"index {size / 1e6:.1f} MB")
    print(f"{'query':30} {'hits':>6} {'search ms':>10} {'LIKE hits':>10} {'LIKE ms':>9} {'LIKE/search':>12}")
    for r in rows:
        print(f"{r['query']:30} {r['hits']:>6} {r['fts_ms']:>10.1f} {r['like_hits']:>10} {r['like_ms']:>9.1f} "
              f"{r['like_over_fts']:>11.1f}×")
    print("goal (every query < 1 s over 10 000 captures): " + ("met" if report["goal_met"] else "NOT met"))


if __name__ == "__main__":
    main()
