"""search_archive: find what was asked for under offentlighetsprincipen, from the Prefect UI."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from prefect import flow
from prefect.states import Completed, State
from pydantic import Field

from somearkiv.runstate import failed_state
from tasks.search import QueryError, parse_query
from tasks.search.run import find_in_archive, report_search

__all__ = ["search_archive"]


@flow(name="search-archive")
def search_archive(
    query: str,
    account: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    limit: Annotated[int, Field(ge=1, le=1000)] = 50,
) -> State:
    """Search the text of every capture (the archival PDF's text layer and the page's DOM) with Swedish
    stemming; the hits, with snippets and links, are the run's ``search-results`` artifact.

    The search index (SQLite FTS5 under the data dir) is brought up to date with the custody ledger
    first: captures filed since are added, disposed ones removed.
    """
    try:
        parse_query(query)
        if start and end and end < start:
            raise QueryError(f"'to' {end} is before 'from' {start}")
    except QueryError as exc:
        return failed_state(f"the search cannot be read: {exc}")
    result, update = find_in_archive(query, account, start, end, limit)
    filters = "".join([f", konto / account `{account}`" if account else "",
                       f", från / from {start}" if start else "", f", till / to {end}" if end else ""])
    report_search(result, update, filters)
    return Completed(message=f"{result.total} hits for {query!r}" + (f" ({len(update.not_indexed)} captures "
                                                                         "could not be indexed)"
                                                                         if update.not_indexed else ""))


# The Run form: a label and a description per parameter (Prefect would show the bare names)
