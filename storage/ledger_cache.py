"""Ledger entries already read, kept on local disk so the next process need not read them again.

Every listing of what the archive holds reads the whole ledger (storage.ledger: custody is
the sum of its entries), one GET per entry: a batch of a round, a `somearkiv captures`, a
disposal review each read all of it again, and a ledger only grows. This keeps each entry's
bytes as read, by key and version id, in one file under the data directory (0600).

It is never trusted on its own: an entry is taken from it only when the MD5 of the kept bytes
is the ETag that S3's listing gives for that very version (the ETag of a single-part PUT is its
MD5; the ledger is written that way). A changed line is read past, and the entry is read from
S3 as before. Where a service's ETags are not MD5s (SSE-KMS), nothing is ever taken from it.
Reading for fixity (``verify(fresh=True)``) does not use it at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

__all__ = ["EntryCache"]


class EntryCache:
    """The kept ledger entries of one archive (endpoint and bucket), in ``<folder>/<digest>.jsonl``."""

    def __init__(self, folder: Path, archive_name: str):
        digest = hashlib.sha256(archive_name.encode()).hexdigest()[:16]
        self.path = Path(folder) / f"{digest}.jsonl"
        self._kept: dict[tuple[str, str], bytes] | None = None
        self._lock = threading.Lock()

    def get(self, key: str, version_id: str, etag: str | None) -> bytes | None:
        """The kept bytes of this version of *key*, if their MD5 is *etag* (as S3 listed it)."""
        with self._lock:
            body = self._loaded().get((key, version_id))
        if body is None or not etag or hashlib.md5(body, usedforsecurity=False).hexdigest() != etag.strip('"'):
            return None
        return body

    def add(self, read: list[tuple[str, str, bytes]]) -> None:
        """Keep these (key, version id, bytes) as read from S3, those not kept already as they are; a
        failure to write only costs a re-read."""
        with self._lock:
            kept = self._loaded()
            read = [(key, version_id, body) for key, version_id, body in read if kept.get((key, version_id)) != body]
        lines = []
        for key, version_id, body in read:
            try:
                lines.append(json.dumps({"key": key, "version_id": version_id, "body": body.decode()}) + "\n")
            except UnicodeDecodeError:
                continue  # not an entry we wrote: not worth keeping
        if not lines:
            return
        data = "".join(lines).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:  # one write of whole lines at the end: another process may be appending too
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)
        except OSError:
            return
        with self._lock:
            self._loaded().update(((key, version_id), body) for key, version_id, body in read)

    def _loaded(self) -> dict[tuple[str, str], bytes]:
        """The kept entries, read from the file on first use (call with the lock held)."""
        if self._kept is None:
            self._kept = self._load()
        return self._kept

    def _load(self) -> dict[tuple[str, str], bytes]:
        kept: dict[tuple[str, str], bytes] = {}
        try:
            with open(self.path, encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    try:
                        item = json.loads(line)
                        kept[(item["key"], item["version_id"])] = item["body"].encode()
                    except (ValueError, KeyError, TypeError, AttributeError):
                        continue  # a line cut short or changed: that entry is read from S3
        except OSError:
            pass
        return kept
