"""The custody ledger: an append-only, hash-chained record of everything filed and done to it.

Each entry is its own locked object ``ledger/<seq>.json`` (twelve digits), written with
``If-None-Match: *`` so two writers can never both claim a number: the loser re-reads the head
and appends after it. An entry names every object version it is about with its SHA-256, and
the previous entry's hash. Reading the ledger recomputes the chain from its first versions, so
an entry that was overwritten, hidden behind a delete marker, removed or inserted shows up as a
``broken-chain`` finding; nobody can rewrite custody quietly.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from somearkiv.models import CaptureStatus, FixityResult, LedgerEntry, LedgerKind, LedgerObject, ObjectLock
from storage.errors import ArchiveError
from storage.ledger_cache import EntryCache

if TYPE_CHECKING:
    from storage.archive import Archive


__all__ = ["GENESIS", "LEDGER_PREFIX", "CaptureCustody", "Custody", "Ledger", "LedgerConflict", "custody"]

LEDGER_PREFIX = "ledger/"
GENESIS = "0" * 64
_APPEND_TRIES = 50
# Entries read at once when the ledger is read whole (under botocore's 10 pooled connections).
# Every listing of captures reads it: one small GET each, ~8 ms through the gateway, so a
# ledger of 10 000 entries took 80 s read one by one.
_READERS = 8


class LedgerConflict(RuntimeError):
    """Appending lost the race for a sequence number too many times."""


def _entry_key(seq: int) -> str:
    return f"{LEDGER_PREFIX}{seq:012d}.json"


def _token_key(seq: int) -> str:
    return f"{LEDGER_PREFIX}{seq:012d}.tsr"


def _seq_of(key: str) -> int | None:
    name = key.removeprefix(LEDGER_PREFIX)
    if len(name) == 17 and name.endswith(".json") and name[:12].isdigit():
        return int(name[:12])
    return None


class Ledger:
    """The ledger of one archive (bucket)."""

    def __init__(self, archive: Archive, cache_folder: Path | None = None):
        self.archive = archive
        self._head: LedgerEntry | None = None
        self._lock = threading.Lock()
        # Entries read, by (key, version id): a version's bytes never change, so listing the ledger's
        # versions is enough to see what is new or altered; custody() then reads only new entries.
        self._read: dict[tuple[str, str], LedgerEntry] = {}
        # ... and those read by earlier processes, kept on disk (storage.ledger_cache)
        self._kept = None if cache_folder is None else EntryCache(
            cache_folder, f"{archive.client.meta.endpoint_url}\0{archive.bucket}")

    # -- appending --------------------------------------------------------------------------------

    def _latest(self, after: LedgerEntry | None) -> LedgerEntry | None:
        """The newest entry, listing only keys after *after* (the head this process knew)."""
        client, bucket = self.archive.client, self.archive.bucket
        kwargs = {"Bucket": bucket, "Prefix": LEDGER_PREFIX}
        if after is not None:
            kwargs["StartAfter"] = _entry_key(after.seq)
        last = None
        for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
            for item in page.get("Contents", []):
                if _seq_of(item["Key"]) is not None:
                    last = item["Key"]
        if last is None:
            return after
        return LedgerEntry.model_validate_json(self.archive.read(last))

    def append(self, kind: LedgerKind, *, capture_id: str | None = None, account_id: str | None = None,
               status: CaptureStatus | None = None, objects: Iterable[LedgerObject] = (),
               manifest_sha256: str | None = None, retention_class: str | None = None,
               lock: ObjectLock | None = None, person: str | None = None, detail: str = "") -> LedgerEntry:
        """Add one entry at the head of the chain and return it (sealed, as filed)."""
        with self._lock:
            head = self._latest(self._head)
            for _ in range(_APPEND_TRIES):
                entry = LedgerEntry(
                    seq=0 if head is None else head.seq + 1, kind=kind, at=dt.datetime.now(dt.UTC),
                    capture_id=capture_id, account_id=account_id, status=status, objects=tuple(objects),
                    manifest_sha256=manifest_sha256, retention_class=retention_class, lock=lock, person=person,
                    detail=detail, prev=GENESIS if head is None else head.hash,
                ).sealed()
                body = entry.model_dump_json(indent=1).encode()
                if self.archive.put_new(_entry_key(entry.seq), body, "application/json",
                                        {"ledger-seq": str(entry.seq), "kind": kind}):
                    self._head = entry
                    return entry
                head = self._latest(head)  # another writer took the number: append after it
            raise LedgerConflict(f"could not append to the ledger after {_APPEND_TRIES} tries")

    def head(self) -> LedgerEntry | None:
        """The newest entry."""
        self._head = self._latest(self._head)
        return self._head

    def is_sealed(self, entry: LedgerEntry) -> bool:
        """Whether an RFC 3161 token over *entry*'s hash is filed."""
        return self.archive.exists(_token_key(entry.seq))

    def file_token(self, entry: LedgerEntry, token: bytes) -> str:
        """File the RFC 3161 token over *entry*'s hash (SHA-256 of its hex text) beside it."""
        key = _token_key(entry.seq)
        self.archive.put_new(key, token, "application/timestamp-reply", {"ledger-seq": str(entry.seq)})
        return key

    def find_capture(self, capture_id: str, since: dt.datetime) -> LedgerEntry | None:
        """The capture entry of *capture_id*, looked for from the head back to *since*."""
        for entry in self.read_back(since):
            if entry.kind == "capture" and entry.capture_id == capture_id:
                return entry
        return None

    def read_back(self, since: dt.datetime) -> Iterable[LedgerEntry]:
        """Entries from the head back, while they are not older than *since* (a retry's look-back)."""
        head = self._latest(self._head)
        seq = None if head is None else head.seq
        while seq is not None and seq >= 0:
            try:
                entry = LedgerEntry.model_validate_json(self.archive.read(_entry_key(seq)))
            except ArchiveError:
                return
            if entry.at < since:
                return
            yield entry
            seq -= 1

    # -- reading and verifying --------------------------------------------------------------------

    def verify(self, fresh: bool = True) -> tuple[list[LedgerEntry], list[FixityResult]]:
        """Every entry, read by its first version, and what is wrong with the chain.

        fresh: read every entry's bytes again (fixity, ``ledger verify``); False reuses entries this
        process already read by the same version id (listing what the archive holds)."""
        client, bucket = self.archive.client, self.archive.bucket
        versions: dict[str, list[dict]] = {}
        markers: dict[str, dict] = {}
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=LEDGER_PREFIX):
            for v in page.get("Versions", []):
                versions.setdefault(v["Key"], []).append(v)
            for m in page.get("DeleteMarkers", []):
                if m.get("IsLatest"):
                    markers[m["Key"]] = m
        problems: list[FixityResult] = []

        def broken(key: str, version: str | None, detail: str) -> None:
            problems.append(FixityResult(key=key, version_id=version, expected_sha256="", status="broken-chain",
                                         detail=detail))

        entries: list[LedgerEntry] = []
        expected_prev, expected_seq = GENESIS, 0
        histories = {key: sorted(versions[key], key=lambda v: v["LastModified"])
                     for key in sorted(versions) if _seq_of(key) is not None}
        read = self._read_entries([(key, history[0]["VersionId"], None if fresh else history[0].get("ETag"))
                                   for key, history in histories.items()
                                   if fresh or (key, history[0]["VersionId"]) not in self._read])
        for key, history in histories.items():
            first = history[0]
            if len(history) > 1:
                broken(key, history[-1]["VersionId"], f"ledger entry rewritten: {len(history)} versions")
            if key in markers:
                broken(key, None, "ledger entry hidden behind a delete marker")
            entry = read[key] if key in read else self._read.get((key, first["VersionId"]))
            if not isinstance(entry, LedgerEntry):
                broken(key, first["VersionId"], f"ledger entry unreadable: {entry}")
                continue
            self._read[(key, first["VersionId"])] = entry
            if entry.seq != _seq_of(key):
                broken(key, first["VersionId"], f"entry says seq {entry.seq}")
            if entry.seq != expected_seq:
                broken(key, first["VersionId"], f"entries {expected_seq}..{entry.seq - 1} are missing")
            if entry.sealed().hash != entry.hash:
                broken(key, first["VersionId"], "the entry's hash does not match its content")
            if entry.prev != expected_prev:
                broken(key, first["VersionId"], "the entry does not follow the one before it")
            entries.append(entry)
            expected_prev, expected_seq = entry.hash, entry.seq + 1
        for key in markers.keys() - versions.keys():
            if _seq_of(key) is not None:
                broken(key, None, "a delete marker where no entry is")
        return entries, problems

    def _read_entries(self, wanted: list[tuple[str, str, str | None]]) -> dict[str, LedgerEntry | Exception]:
        """Each (key, version id) parsed, several read from S3 at once; a failure is kept as its exception.
        With an ETag, a version kept on disk with that MD5 is taken from there instead (storage.ledger_cache)."""
        kept = {key: self._kept.get(key, version, etag) for key, version, etag in wanted if etag} \
            if self._kept is not None else {}
        fetched: list[tuple[str, str, bytes]] = []

        def one(item: tuple[str, str, str | None]) -> LedgerEntry | Exception:
            key, version, _ = item
            try:
                body = kept.get(key)
                if body is None:
                    body = self.archive.read(key, version)
                    fetched.append((key, version, body))
                return LedgerEntry.model_validate_json(body)
            except (ArchiveError, ValueError) as exc:
                return exc

        missing = sum(1 for key, _, _ in wanted if kept.get(key) is None)
        if missing < 2:
            read = {item[0]: one(item) for item in wanted}
        else:
            with ThreadPoolExecutor(_READERS, thread_name_prefix="ledger-read") as pool:
                read = {item[0]: entry for item, entry in zip(wanted, pool.map(one, wanted))}
        if self._kept is not None and fetched:
            self._kept.add([(key, version, body) for key, version, body in fetched
                            if isinstance(read.get(key), LedgerEntry)])
        return read


@dataclass
class CaptureCustody:
    """What the ledger says of one capture now: what was filed, what is still expected, its hold."""

    entry: LedgerEntry
    objects: dict[tuple[str, str | None], LedgerObject] = field(default_factory=dict)
    disposed: list[LedgerObject] = field(default_factory=list)
    held: bool = False
    delivered: list[str] = field(default_factory=list)

    @classmethod
    def filed(cls, entry: LedgerEntry) -> CaptureCustody:
        """The custody of what *entry* filed, as it filed it (held when its lock has a legal hold)."""
        return cls(entry, {(o.key, o.version_id): o for o in entry.objects},
                   held=bool(entry.lock and entry.lock.legal_hold))

    @property
    def capture_id(self) -> str:
        return self.entry.capture_id or ""

    def named(self, name: str) -> LedgerObject | None:
        """The filed object of this capture called *name* (e.g. ``manifest.json``), if any."""
        return next((o for o in self.objects.values() if o.key.rsplit("/", 1)[-1] == name), None)

    @property
    def record_object(self) -> LedgerObject | None:
        return self.named("record.json")


class Custody(dict[str, CaptureCustody]):
    """Every ledgered capture's custody by capture id, as read at one moment.

    ``of_account`` answers from an index made on first use, so asking for each account of a
    round is linear in the archive's size, not in accounts times captures.
    """

    _by_account: dict[str, list[CaptureCustody]] | None = None

    def of_account(self, account_id: str) -> list[CaptureCustody]:
        index = self._by_account
        if index is None:  # made whole before it is shared: threads asking at once never see half of it
            index = {}
            for kept in self.values():
                index.setdefault(kept.entry.account_id or "", []).append(kept)
            self._by_account = index
        return index.get(account_id, [])


def custody(entries: Iterable[LedgerEntry]) -> Custody:
    """The state of every ledgered capture, replaying its entries in order (disposed ones included)."""
    state = Custody()
    for entry in entries:
        if entry.capture_id is None:
            continue
        if entry.kind == "capture":
            state[entry.capture_id] = CaptureCustody.filed(entry)
            continue
        known = state.get(entry.capture_id)
        if known is None:
            continue
        if entry.kind in ("hold", "release"):
            known.held = entry.kind == "hold"
        elif entry.kind == "disposal":
            for obj in entry.objects:
                gone = known.objects.pop((obj.key, obj.version_id), None)
                if gone is not None:
                    known.disposed.append(gone)
        elif entry.kind == "delivery":
            known.delivered.append(entry.detail)
        elif entry.kind == "seal":  # a timestamp filed later (seal-pending): part of the capture from now on
            known.objects.update({(o.key, o.version_id): o for o in entry.objects})
    return state
