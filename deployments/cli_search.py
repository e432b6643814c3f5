"""`somearkiv search`: find captures by their text (offentlighetsprincipen).

Registered in deployments/cli.py; the CLI's helpers are imported when the command runs (this
module is imported by cli.py itself).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["search"]


def search(
    query: Annotated[str | None, typer.Argument(help='What to look for: skolan (any form: skola, skolor), '
                                                    '"nya skolan" (a phrase), skol* (a prefix), a OR b, -word.')] = None,
    account: Annotated[str | None, typer.Option("--account", "-a", help="Only this account.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Captured on or after this day (YYYY-MM-DD, "
                                                              "Swedish time).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="... up to and including this day (YYYY-MM-DD).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100_000,
                                       help="Show at most this many hits, best first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    reindex: Annotated[bool, typer.Option("--reindex", help="Rebuild the search index from the bucket first "
                                                            "(the whole custody ledger read afresh).")] = False,
    index: Annotated[Path | None, typer.Option("--index", help="The index file; default "
                                                               "DATA_DIR/search/index.sqlite.")] = None,
) -> None:
    """Search the text of every capture: the archival PDF's text layer and the page's DOM, with Swedish
    stemming. Each hit: the capture, when, which account, the words around the match, its record's key.

    The index (SQLite FTS5 under the data dir) is derived data, never the record: every search first
    adds the captures filed since the last one and drops those disposed of; --reindex rebuilds it.
    Exit 0 with or without hits; 2 for a search that cannot be read.
    """
    from deployments.cli import _archive, _date, _fail, _printable, _settings
    from tasks.search import NotAnIndex, QueryError, default_index_path, parse_query, search_archive
    from tasks.search.index import check_index_path

    if query is None and not reindex:
        raise _fail('say what to look for, e.g. somearkiv search "nya skolan" (or --reindex to rebuild the index)')
    day_from, day_to = _date(start, "--from"), _date(end, "--to")
    try:  # a search that cannot be read is refused before anything is started or read
        if query is not None:
            parse_query(query)
        if day_from and day_to and day_to < day_from:
            raise QueryError(f"--to {day_to} is before --from {day_from}")
    except QueryError as exc:
        raise _fail(f"search: {exc}") from None
    settings = _settings()
    path = index or default_index_path(settings.data_dir)
    try:
        check_index_path(path)  # before the archive is asked anything
        result, update = search_archive(settings, _archive("auditor"), query, account=account, start=day_from,
                                        end=day_to, limit=limit, reindex=reindex, index_path=path)
    except QueryError as exc:
        raise _fail(f"search: {exc}") from None
    except NotAnIndex as exc:
        raise _fail(f"{exc}, not a somearkiv search index: left as it is (name another --index)", 7) from None
    except sqlite3.Error as exc:
        raise _fail(f"the search index {path}: {exc}; rebuild it with `somearkiv search --reindex` "
                    "(it is derived from the archive)", 7) from None
    if as_json:
        typer.echo(json.dumps({"query": query, "account": account, "from": start, "to": end,
                               "total": None if result is None else result.total,
                               "seconds": None if result is None else round(result.seconds, 4),
                               "hits": [] if result is None else [h.as_dict() for h in result.hits],
                               "index": {"path": str(path), **update.as_dict()}}, indent=2, ensure_ascii=False))
        return
    for why in update.warnings:
        typer.secho(f"warning: {why}", err=True, fg=typer.colors.YELLOW)
    for capture_id, why in sorted(update.not_indexed.items()):
        typer.secho(f"not indexed: {capture_id}: {why}", err=True, fg=typer.colors.YELLOW)
    if update.rebuilt or update.added or update.removed:
        typer.echo(f"index {'rebuilt' if update.rebuilt else 'updated'}: {len(update.added)} captures added, "
                   f"{len(update.removed)} removed ({update.seconds:.1f} s)", err=True)
    if result is None:
        return
    tty = sys.stdout.isatty()
    shown = f", the best {len(result.hits)} shown" if result.total > len(result.hits) else ""
    asked = _printable(query if len(query or "") <= 200 else f"{query[:200]}…")  # (as written: not obeyed, not all)
    typer.echo(f"{result.total} {'hit' if result.total == 1 else 'hits'} for {asked}{shown} ({result.seconds:.3f} s)")
    for hit in result.hits:
        local = hit.captured_at.astimezone(_stockholm())
        typer.echo("")
        typer.echo(f"{local:%Y-%m-%d %H:%M}  {hit.account}  {hit.capture_id}")
        snippet = "".join(typer.style(t, bold=True, fg=typer.colors.YELLOW) if h and tty else
                          (f"[{t}]" if h else t) for t, h in hit.snippet)
        typer.echo(f"    {snippet}  ({'PDF' if hit.matched_in == 'pdf' else 'HTML'})")
        typer.echo(f"    {hit.record_key}")


def _stockholm():
    from tasks.search.index import STOCKHOLM

    return STOCKHOLM
