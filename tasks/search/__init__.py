"""Search across every capture's text (offentlighetsprincipen): ``somearkiv search`` and the
``search-archive`` deployment.

- ``stemmer``: Swedish stemming (Snowball Swedish and the definite -an), applied when indexing and
  when reading a query.
- ``query``: the search language (words, "phrases", prefix*, OR, -word) into an FTS5 expression.
- ``text``: a capture's text: the archival PDF's text layer (the word files) and the DOM's text.
- ``index``: the SQLite FTS5 index (derived data, under the data dir, 0600).
- ``sync``: the index kept in step with the custody ledger (new captures in, disposed ones out),
  or rebuilt from the bucket.
- ``run``: the Prefect tasks and the results artifact with links.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from somearkiv.settings import Settings
from storage import Archive
from tasks.search.index import Hit, NotAnIndex, SearchIndex, SearchResult, default_index_path
from tasks.search.query import Query, QueryError, parse_query
from tasks.search.stemmer import stem, tokens
from tasks.search.sync import IndexUpdate, day_range, rebuild_index, update_index

__all__ = ["Hit", "IndexUpdate", "NotAnIndex", "Query", "QueryError", "SearchIndex", "SearchResult", "day_range",
           "default_index_path", "parse_query", "rebuild_index", "search_archive", "stem", "tokens",
           "update_index"]


def search_archive(settings: Settings, archive: Archive, query: str | None, *, account: str | None = None,
                   start: dt.date | None = None, end: dt.date | None = None, limit: int = 50,
                   reindex: bool = False, index_path: Path | None = None) -> tuple[SearchResult | None, IndexUpdate]:
    """Bring the index up to date (or rebuild it), then search it: what ``somearkiv search`` does.

    The query is read first, so a malformed one (QueryError) touches nothing. start and end are days
    in Swedish time, both included."""
    parsed = parse_query(query) if query is not None else None
    if start and end and end < start:
        raise QueryError(f"--to {end} is before --from {start}")
    if limit < 1:
        raise QueryError("the limit must be at least 1")
    path = index_path or default_index_path(settings.data_dir)
    if reindex:
        update = rebuild_index(path, archive)
    with SearchIndex(path, archive.bucket) as index:
        if not reindex:
            update = update_index(index, archive)
        if parsed is None:
            return None, update
        begin, until = day_range(start, end)
        return index.search(parsed, account, begin, until, limit), update
