"""Keeping the search index in step with the archive's custody ledger.

The ledger says what the archive holds: a ``capture`` entry names every object filed for a
capture, a ``disposal`` entry the versions that were disposed of. The index remembers the last
ledger entry it read, so bringing it up to date lists only the ledger's newer keys (one LIST
request when nothing is new), indexes the captures filed since and removes the ones disposed of.
Text is read from the exact versions the ledger names, and checked against their SHA-256; a
capture that cannot be read is kept as *pending* and tried again next time.

``rebuild_index`` starts from nothing: it reads the whole ledger afresh (its hash chain
recomputed), indexes every capture in custody into a new file and puts it in place of the old one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from somearkiv.models import CaptureRecord, CaptureStatus, LedgerEntry, LedgerObject
from storage import Archive, ArchiveError
from storage.ledger import LEDGER_PREFIX, custody
from tasks.search.index import IndexedCapture, SearchIndex, Source, check_index_path
from tasks.search.text import dom_text, words_text

__all__ = ["IndexUpdate", "SOURCE_NAMES", "rebuild_index", "update_index"]

WORD_FILES = ("words-desktop.json", "words-mobile.json")  # page 1 and page 2 of the archival PDF
SOURCE_NAMES = ("record.json", *WORD_FILES, "page.html")
_READERS = 8  # objects read at once


@dataclass
class IndexUpdate:
    """What one update did."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    not_indexed: dict[str, str] = field(default_factory=dict)  # capture id: why (tried again next time)
    ledger_head: int | None = None
    rebuilt: bool = False
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"added": len(self.added), "removed": len(self.removed), "not_indexed": self.not_indexed,
                "ledger_head": self.ledger_head, "rebuilt": self.rebuilt, "warnings": self.warnings,
                "seconds": round(self.seconds, 3)}


class _Unreadable(Exception):
    pass


def _sources(objects: Iterable[LedgerObject]) -> tuple[Source, ...]:
    """The objects of a capture the index reads: its record, word files and DOM."""
    return tuple(sorted((Source(o.key, o.version_id, o.sha256) for o in objects
                         if o.key.rsplit("/", 1)[-1] in SOURCE_NAMES), key=lambda s: s.key))


def _read(archive: Archive, capture_id: str, sources: tuple[Source, ...]) -> IndexedCapture:
    bodies: dict[str, bytes] = {}
    for source in sources:
        try:
            body = archive.read(source.key, source.version_id)
        except ArchiveError as exc:
            raise _Unreadable(f"{source.key}: {exc}") from None
        if source.sha256 and hashlib.sha256(body).hexdigest() != source.sha256:
            raise _Unreadable(f"{source.key}: its bytes are not the ones filed (run somearkiv fixity)")
        bodies[source.name] = body
    if "record.json" not in bodies:
        raise _Unreadable("its record.json is not in custody")
    try:
        record = CaptureRecord.model_validate_json(bodies["record.json"])
        pdf = " ".join(t for t in (words_text(bodies[n]) for n in WORD_FILES if n in bodies) if t)
    except ValueError as exc:
        raise _Unreadable(f"unreadable record or word file: {str(exc).splitlines()[0]}") from None
    dom = dom_text(bodies.get("page.html", b""), record.page.title)
    pdf_key = next((f.key for f in record.files if f.name == "startpage.pdf"), None)
    return IndexedCapture(capture_id=capture_id, account=record.account.id, platform=record.account.platform.value,
                          started_at=record.started_at, title=record.page.title or "",
                          record_key=record.record_key or next(s.key for s in sources if s.name == "record.json"),
                          pdf_key=pdf_key, sources=sources, pdf_text=pdf, dom_text=dom)


def _index_all(index: SearchIndex, archive: Archive, work: dict[str, tuple[Source, ...] | None],
               update: IndexUpdate) -> None:
    """Add (sources) or remove (None) each capture of *work*, reading the objects a few at a time."""
    for capture_id, sources in work.items():
        if sources is None and index.remove(capture_id):
            update.removed.append(capture_id)
    wanted = {cid: s for cid, s in work.items() if s is not None}

    def read(item: tuple[str, tuple[Source, ...]]) -> tuple[str, IndexedCapture | str]:
        capture_id, sources = item
        try:
            return capture_id, _read(archive, capture_id, sources)
        except _Unreadable as exc:
            return capture_id, str(exc)

    with ThreadPoolExecutor(_READERS) as pool:
        for capture_id, doc in pool.map(read, sorted(wanted.items())):
            if isinstance(doc, str):
                index.remove(capture_id)
                index.set_pending(capture_id, wanted[capture_id], doc)
                update.not_indexed[capture_id] = doc
            else:
                index.add(doc)
                update.added.append(capture_id)


def _in_custody(entries: list[LedgerEntry]) -> dict[str, tuple[Source, ...]]:
    """Every captured (not blocked) capture still in custody, with the objects the index reads."""
    found = {}
    for capture_id, kept in custody(entries).items():
        if kept.entry.status is CaptureStatus.captured and kept.record_object is not None:
            found[capture_id] = _sources(kept.objects.values())
    return found


def _new_entries(archive: Archive, after: int) -> list[LedgerEntry]:
    """The ledger's entries after seq *after*, oldest first (the ledger is append-only)."""
    start_after = f"{LEDGER_PREFIX}{after:012d}.json"
    keys = []
    pages = archive.client.get_paginator("list_objects_v2").paginate(
        Bucket=archive.bucket, Prefix=LEDGER_PREFIX, StartAfter=start_after)
    for page in pages:
        for item in page.get("Contents", []):
            name = item["Key"].removeprefix(LEDGER_PREFIX)
            if len(name) == 17 and name.endswith(".json") and name[:12].isdigit():
                keys.append(item["Key"])
    return [LedgerEntry.model_validate_json(archive.read(key)) for key in sorted(keys)]


def update_index(index: SearchIndex, archive: Archive) -> IndexUpdate:
    """Bring *index* up to date with the ledger: what was filed since is indexed, what was disposed of
    since is removed, what could not be read before is tried again. A new index is filled from the
    whole ledger."""
    began = time.perf_counter()
    update = IndexUpdate()
    with index.transaction():  # one updater at a time: the ledger head and the rows move together
        head = index.ledger_head
        if head is None:
            entries, problems = archive.ledger.verify(fresh=False)
            work: dict[str, tuple[Source, ...] | None] = dict(_in_custody(entries))
            update.warnings += [f"ledger: {p.key} {p.detail}" for p in problems]
            head = entries[-1].seq if entries else -1
        else:
            entries = _new_entries(archive, head)
            indexed, pending = index.indexed(), index.pending()
            work = {cid: sources for cid, (sources, _why) in pending.items()}
            for entry in entries:
                cid = entry.capture_id
                if cid is None:
                    continue
                if entry.kind == "capture":
                    if entry.status is CaptureStatus.captured:
                        work[cid] = _sources(entry.objects)
                elif entry.kind == "disposal":
                    current = work.get(cid) if cid in work else indexed.get(cid)
                    if not current:
                        continue
                    gone = {(o.key, o.version_id) for o in entry.objects}
                    left = tuple(s for s in current if (s.key, s.version_id) not in gone)
                    if left != current:
                        work[cid] = left if any(s.name == "record.json" for s in left) else None
            head = entries[-1].seq if entries else head
        _index_all(index, archive, work, update)
        index.set_ledger_head(head)
    update.ledger_head = head if head >= 0 else None
    update.seconds = time.perf_counter() - began
    return update


def rebuild_index(path: Path, archive: Archive) -> IndexUpdate:
    """A new index from the bucket alone: the whole ledger read afresh (its chain recomputed), every
    capture in custody read and indexed into a new file, which then replaces the old one."""
    check_index_path(path)  # only ever our own file is replaced
    began = time.perf_counter()
    update = IndexUpdate(rebuilt=True)
    entries, problems = archive.ledger.verify(fresh=True)
    update.warnings += [f"ledger: {p.key} {p.detail} (somearkiv ledger verify)" for p in problems]
    fresh = path.with_name(f".{path.name}.{os.getpid()}.new")
    for leftover in (fresh, fresh.with_name(fresh.name + "-journal")):
        leftover.unlink(missing_ok=True)
    try:
        with SearchIndex(fresh, archive.bucket) as index, index.transaction():
            _index_all(index, archive, dict(_in_custody(entries)), update)
            index.set_ledger_head(entries[-1].seq if entries else -1)
        os.replace(fresh, path)
    finally:
        fresh.unlink(missing_ok=True)
    update.ledger_head = entries[-1].seq if entries else None
    update.seconds = time.perf_counter() - began
    return update


def day_range(start: dt.date | None, end: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start 00:00, the day after end 00:00) in Swedish time: both days included."""
    from tasks.search.index import STOCKHOLM

    begin = dt.datetime.combine(start, dt.time(), STOCKHOLM) if start else None
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), STOCKHOLM) if end else None
    return begin, until
