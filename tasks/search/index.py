"""The search index: SQLite FTS5 in one file under the data dir. Derived data, never the record.

Two tables: ``captures`` (one row per indexed capture: its id, account, time, title, record key,
the ledgered objects its text was read from, and the text itself, for snippets) and ``docs``, a
contentless FTS5 table over the same rows with four columns: the stems and the lower-case words of
the PDF text layer and of the DOM text. Stemming happens in Python (tasks.search.stemmer), so
FTS5's ``ascii`` tokenizer only splits what it is given at spaces: every index term is exactly a
stem or a word made here. The ``meta`` table names the bucket, the stemmer and the last custody
ledger entry read; an index of another bucket, stemmer or schema is started afresh.

The file is 0600 in a 0700 folder (the text of the archive is in it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.request import pathname2url
from zoneinfo import ZoneInfo

from tasks.search.query import Query
from tasks.search.stemmer import STEMMER_VERSION, spans, stem, tokens

__all__ = ["Hit", "IndexedCapture", "SearchIndex", "SearchResult", "Source", "default_index_path"]

SCHEMA_VERSION = "1"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
_SNIPPET_WORDS = 12  # words of context on each side of the first match


def default_index_path(data_dir: Path) -> Path:
    return Path(data_dir) / "search" / "index.sqlite"


@dataclass(frozen=True)
class Source:
    """One ledgered object a capture's text (or its record) was read from."""

    key: str
    version_id: str | None
    sha256: str | None

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class IndexedCapture:
    capture_id: str
    account: str
    platform: str
    started_at: dt.datetime
    title: str
    record_key: str
    pdf_key: str | None
    sources: tuple[Source, ...]
    pdf_text: str
    dom_text: str


@dataclass(frozen=True)
class Hit:
    capture_id: str
    account: str
    platform: str
    captured_at: dt.datetime
    title: str
    record_key: str
    pdf_key: str | None
    matched_in: str  # "pdf" (the archival PDF's text layer) or "dom" (the page's HTML)
    snippet: list[tuple[str, bool]]  # (text, highlighted)

    def snippet_text(self, mark: tuple[str, str] = ("**", "**")) -> str:
        return "".join(f"{mark[0]}{t}{mark[1]}" if hit else t for t, hit in self.snippet)

    def as_dict(self) -> dict:
        return {"capture_id": self.capture_id, "account": self.account, "platform": self.platform,
                "captured_at": self.captured_at.isoformat(),
                "captured_at_local": self.captured_at.astimezone(STOCKHOLM).isoformat(),
                "title": self.title, "record_key": self.record_key, "pdf_key": self.pdf_key,
                "matched_in": self.matched_in, "snippet": self.snippet_text(),
                "highlights": [t for t, hit in self.snippet if hit]}


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int
    hits: list[Hit] = field(default_factory=list)
    seconds: float = 0.0


def _stems_and_words(text: str) -> tuple[str, str]:
    words = tokens(text)
    return " ".join(stem(w) for w in words), " ".join(words)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NotAnIndex(Exception):
    """The path holds something else than a somearkiv search index: it is neither changed nor replaced."""


def check_index_path(path: Path) -> None:
    """Raise NotAnIndex unless *path* is free, an empty file, a somearkiv search index (of any
    version) or a damaged SQLite file. The index is derived data that may be rebuilt at will, but
    only ever *our* file: `--index /dev/null --reindex`, run as root, would otherwise replace the
    device."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_file():
        raise NotAnIndex(f"{path} is not a regular file")
    if path.stat().st_size == 0:
        return
    with path.open("rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise NotAnIndex(f"{path} is not an SQLite file")
    try:
        db = sqlite3.connect(f"file:{pathname2url(str(path.resolve()))}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            keys = {row[0] for row in db.execute("SELECT key FROM meta")} if "meta" in tables else set()
        finally:
            db.close()
    except sqlite3.Error:
        return  # a damaged SQLite file where an index was asked for: what --reindex is for
    if not {"schema", "stemmer", "bucket"} <= keys:
        raise NotAnIndex(f"{path} is an SQLite database of something else")


class SearchIndex:
    """One index file. Use as a context manager, or close()."""

    def __init__(self, path: Path, bucket: str):
        self.path = Path(path)
        self.bucket = bucket
        check_index_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path.parent, 0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(self.path, 0o600)
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)  # transactions by hand
        self.db.execute("PRAGMA busy_timeout = 60000")
        self._prepare()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- schema ------------------------------------------------------------------------------------

    def _identity(self) -> dict[str, str]:
        return {"schema": SCHEMA_VERSION, "stemmer": STEMMER_VERSION, "bucket": self.bucket}

    def _prepare(self) -> None:
        with self.transaction():
            have = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "meta" in have:
                meta = dict(self.db.execute("SELECT key, value FROM meta"))
                if all(meta.get(k) == v for k, v in self._identity().items()):
                    return
            for table in ("docs", "captures", "pending", "meta"):
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE captures (
                    id INTEGER PRIMARY KEY,
                    capture_id TEXT NOT NULL UNIQUE,
                    account TEXT NOT NULL,
                    platform TEXT NOT NULL,
                    started_at TEXT NOT NULL,
                    title TEXT NOT NULL,
                    record_key TEXT NOT NULL,
                    pdf_key TEXT,
                    sources TEXT NOT NULL,
                    pdf_text TEXT NOT NULL,
                    dom_text TEXT NOT NULL,
                    indexed_at TEXT NOT NULL
                );
                CREATE INDEX captures_account ON captures (account, started_at);
                CREATE INDEX captures_started ON captures (started_at);
                CREATE TABLE pending (capture_id TEXT PRIMARY KEY, sources TEXT NOT NULL, reason TEXT NOT NULL);
                CREATE VIRTUAL TABLE docs USING fts5 (pdf_stems, pdf_words, dom_stems, dom_words,
                                                      content = '', tokenize = 'ascii')
            """.split(";"):
                self.db.execute(statement)
            self.db.executemany("INSERT INTO meta VALUES (?, ?)", list(self._identity().items()))

    @property
    def is_fresh(self) -> bool:
        return self.ledger_head is None

    # -- state -------------------------------------------------------------------------------------

    class _Transaction:
        def __init__(self, db: sqlite3.Connection):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")
            return self

        def __exit__(self, kind, *rest):
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def transaction(self) -> SearchIndex._Transaction:
        """One write transaction (other writers wait: two searches never index the same capture twice)."""
        return self._Transaction(self.db)

    @property
    def ledger_head(self) -> int | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'ledger_head'").fetchone()
        return None if row is None else int(row[0])

    def set_ledger_head(self, seq: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('ledger_head', ?)", (str(seq),))

    def indexed(self) -> dict[str, tuple[Source, ...]]:
        """Every indexed capture id and the objects it was read from."""
        return {cid: tuple(Source(*s) for s in json.loads(sources))
                for cid, sources in self.db.execute("SELECT capture_id, sources FROM captures")}

    def pending(self) -> dict[str, tuple[tuple[Source, ...], str]]:
        """Captures that could not be indexed yet (an object unreadable): tried again on every update."""
        return {cid: (tuple(Source(*s) for s in json.loads(sources)), reason)
                for cid, sources, reason in self.db.execute("SELECT capture_id, sources, reason FROM pending")}

    def set_pending(self, capture_id: str, sources: tuple[Source, ...], reason: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO pending VALUES (?, ?, ?)",
                        (capture_id, json.dumps([[s.key, s.version_id, s.sha256] for s in sources]), reason))

    def clear_pending(self, capture_id: str) -> None:
        self.db.execute("DELETE FROM pending WHERE capture_id = ?", (capture_id,))

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM captures").fetchone()[0]

    # -- writing (inside transaction()) ------------------------------------------------------------

    def add(self, doc: IndexedCapture) -> None:
        self.remove(doc.capture_id)
        cursor = self.db.execute(
            "INSERT INTO captures (capture_id, account, platform, started_at, title, record_key, pdf_key, sources, "
            "pdf_text, dom_text, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc.capture_id, doc.account, doc.platform, _utc(doc.started_at), doc.title, doc.record_key, doc.pdf_key,
             json.dumps([[s.key, s.version_id, s.sha256] for s in doc.sources]), doc.pdf_text, doc.dom_text,
             _utc(dt.datetime.now(dt.UTC))))
        self.db.execute("INSERT INTO docs (rowid, pdf_stems, pdf_words, dom_stems, dom_words) VALUES (?, ?, ?, ?, ?)",
                        (cursor.lastrowid, *_stems_and_words(doc.pdf_text), *_stems_and_words(doc.dom_text)))
        self.clear_pending(doc.capture_id)

    def remove(self, capture_id: str) -> bool:
        """Take a capture out of the index (a contentless FTS5 row is deleted with the values it was given)."""
        row = self.db.execute("SELECT id, pdf_text, dom_text FROM captures WHERE capture_id = ?",
                              (capture_id,)).fetchone()
        self.clear_pending(capture_id)
        if row is None:
            return False
        rowid, pdf, dom = row
        self.db.execute("INSERT INTO docs (docs, rowid, pdf_stems, pdf_words, dom_stems, dom_words) "
                        "VALUES ('delete', ?, ?, ?, ?, ?)", (rowid, *_stems_and_words(pdf), *_stems_and_words(dom)))
        self.db.execute("DELETE FROM captures WHERE id = ?", (rowid,))
        return True

    # -- searching ---------------------------------------------------------------------------------

    def search(self, query: Query, account: str | None = None, start: dt.datetime | None = None,
               end: dt.datetime | None = None, limit: int = 50) -> SearchResult:
        """The best *limit* captures for *query* (FTS5's bm25), captured in [start, end), with snippets."""
        import time

        began = time.perf_counter()
        where = ["docs MATCH ?"]
        args: list = [query.fts()]
        if account:
            where.append("c.account = ?")
            args.append(account)
        if start:
            where.append("c.started_at >= ?")
            args.append(_utc(start))
        if end:
            where.append("c.started_at < ?")
            args.append(_utc(end))
        sql_where = " AND ".join(where)
        total = self.db.execute(f"SELECT count(*) FROM docs JOIN captures c ON c.id = docs.rowid WHERE {sql_where}",
                                args).fetchone()[0]
        rows = self.db.execute(
            "SELECT c.capture_id, c.account, c.platform, c.started_at, c.title, c.record_key, c.pdf_key, c.pdf_text, "
            f"c.dom_text FROM docs JOIN captures c ON c.id = docs.rowid WHERE {sql_where} "
            "ORDER BY bm25(docs), c.started_at DESC LIMIT ?", [*args, limit]).fetchall()
        hits = []
        for cid, acc, platform, started, title, record_key, pdf_key, pdf, dom in rows:
            where_found, snippet = _snippet(query, pdf, dom)
            hits.append(Hit(cid, acc, platform, dt.datetime.strptime(started, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.UTC), title, record_key, pdf_key, where_found, snippet))
        return SearchResult(query.text, total, hits, time.perf_counter() - began)

    def rows(self) -> Iterator[tuple]:
        """Every indexed capture (id, account, time, sources, pdf text, dom text), for comparing two indexes."""
        yield from self.db.execute("SELECT capture_id, account, platform, started_at, title, record_key, pdf_key, "
                                   "sources, pdf_text, dom_text FROM captures ORDER BY capture_id")


def _snippet(query: Query, pdf: str, dom: str) -> tuple[str, list[tuple[str, bool]]]:
    """Where the query matched (the PDF's text first) and a few words around its first match there."""
    for name, text in (("pdf", pdf), ("dom", dom)):
        text = unicodedata.normalize("NFC", text)
        found = spans(text)
        words = [w for _, _, w in found]
        matched = query.hits(words, [stem(w) for w in words])
        if not matched:
            continue
        first, _ = matched[0]
        lo, hi = max(0, first - _SNIPPET_WORDS), min(len(found), matched[0][1] + _SNIPPET_WORDS)
        marked = {i for a, b in matched for i in range(a, b) if lo <= i < hi}
        joined = {i for a, b in matched for i in range(a + 1, b)}  # inside one phrase: the gap is marked too
        parts: list[tuple[str, bool]] = [("… ", False)] if lo > 0 else []
        for i in range(lo, hi):
            s, e, _ = found[i]
            if i > lo:
                parts.append((re.sub(r"\s+", " ", text[found[i - 1][1]:s]), i in joined and i in marked))
            parts.append((text[s:e], i in marked))
        if hi < len(found):
            parts.append((" …", False))
        else:  # the end of the text: its last punctuation too
            parts.append((" ".join(text[found[-1][1]:].split())[:20], False))
        if lo == 0:
            parts.insert(0, (" ".join(text[:found[0][0]].split())[-20:], False))
        return name, _merge(parts)
    return "", [((pdf or dom)[:160], False)]


def _merge(parts: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    merged: list[tuple[str, bool]] = []
    for text, hit in parts:
        if merged and merged[-1][1] == hit:
            merged[-1] = (merged[-1][0] + text, hit)
        else:
            merged.append((text, hit))
    return merged
