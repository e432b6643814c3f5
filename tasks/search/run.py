"""The search as Prefect tasks, and its results as a markdown artifact with time-limited links."""

from __future__ import annotations

import datetime as dt

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from somearkiv.log import get_logger
from somearkiv.settings import get_settings
from storage import Archive
from tasks.search import IndexUpdate, SearchResult, search_archive
from tasks.search.index import STOCKHOLM

__all__ = ["find_in_archive", "report_search", "results_markdown"]


@task(name="search-captures", cache_policy=NO_CACHE)
def find_in_archive(query: str, account: str | None, start: dt.date | None, end: dt.date | None,
                    limit: int) -> tuple[SearchResult, IndexUpdate]:
    """Task: update the index from the custody ledger, then search it (read-only: the auditor identity)."""
    settings = get_settings()
    result, update = search_archive(settings, Archive.connected(settings, role="auditor"), query, account=account,
                                    start=start, end=end, limit=limit)
    get_logger().info("search.done", hits=result.total, shown=len(result.hits), added=len(update.added),
                      removed=len(update.removed), not_indexed=len(update.not_indexed),
                      seconds=round(result.seconds, 3))
    return result, update


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def results_markdown(result: SearchResult, links: dict[str, dict[str, str]], filters: str, link_hours: int,
                     update: IndexUpdate | None = None) -> str:
    """One row per capture found: when, account, the words around the match (in bold), links."""
    lines = [f"# Sökning / Search: `{_cell(result.query)}`", "",
             f"**{result.total}** {'träff' if result.total == 1 else 'träffar'} / hits{filters}"
             + (f" – de {len(result.hits)} bästa visas / the best {len(result.hits)} shown"
                if result.total > len(result.hits) else ""), ""]
    if result.hits:
        lines += ["| Tagen / Captured | Konto / Account | Utdrag / Snippet | Filer / Files |", "|---|---|---|---|"]
    for hit in result.hits:
        own = links.get(hit.capture_id, {})
        files = " · ".join(f"[{label}]({own[name]})" for name, label in (("pdf", "PDF/A"), ("record", "post / record"))
                           if name in own)
        where = "PDF" if hit.matched_in == "pdf" else "HTML"
        lines.append(f"| {hit.captured_at.astimezone(STOCKHOLM):%Y-%m-%d %H:%M} | `{hit.account}` | "
                     f"{_cell(hit.snippet_text())} ({where}) | {files or '—'}<br>`{hit.record_key}` |")
    if update is not None and update.not_indexed:
        lines += ["", f"⚠ {len(update.not_indexed)} fångster kunde inte läsas in i sökindexet / captures could not "
                      "be indexed: " + "; ".join(f"`{c}`: {_cell(why)}" for c, why in sorted(update.not_indexed.items()))]
    lines += ["", f"Länkarna gäller {link_hours} timmar / links are valid {link_hours} h. Sökindexet är härlett ur "
                  "arkivet, inte en handling / the index is derived from the archive, not a record."]
    return "\n".join(lines)


@task(name="report-search", cache_policy=NO_CACHE)
def report_search(result: SearchResult, update: IndexUpdate, filters: str) -> None:
    """Task: the ``search-results`` artifact, with links to each hit's archival PDF and record."""
    settings = get_settings()
    archive = Archive.connected(settings, role="auditor")
    seconds = settings.review_link_hours * 3600
    links = {h.capture_id: {"record": archive.presigned_url(h.record_key, seconds),
                            **({"pdf": archive.presigned_url(h.pdf_key, seconds)} if h.pdf_key else {})}
             for h in result.hits}
    create_markdown_artifact(results_markdown(result, links, filters, settings.review_link_hours, update),
                             key="search-results", description=f"{result.total} träffar / hits: {result.query}"[:200])
