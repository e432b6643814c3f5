"""A capture's id and folder, claimed atomically: two captures never share or delete one.

Capture ids are per second (see make_capture_id). A capture claims its id by creating the
working folder '<id>.partial' with an exclusive mkdir and holding a lock on a file in it
('.claim', flock) for as long as it runs. When the id is taken (a capture with it finished,
or is running), the next second's id is tried. The working folder is renamed to the final
one when the capture is complete, so a half-written capture is never mistaken for a whole
one; a capture only ever deletes its own working folder.

Working folders left by a process that died are removed by clean_stale_partials: only when
old and when nobody holds their lock, so a live capture's folder is never touched.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from somearkiv.log import get_logger
from somearkiv.models import Trigger, make_capture_id

__all__ = ["Claim", "claim_capture", "clean_stale_partials"]

_LOCK = ".claim"  # in the working folder; held (flock) by the capture that made it, removed when complete


@dataclass
class Claim:
    """A capture id this process holds, with its working folder."""

    capture_id: str
    started: dt.datetime  # the second the id names (the capture's start, or a later second if that was taken)
    folder: Path  # where the capture's files end up; they are written to `partial` until then
    _lock_fd: int | None = field(default=None, repr=False)

    @property
    def partial(self) -> Path:
        return _partial(self.folder)

    def complete(self) -> Path:
        """Rename the working folder to the final one and let the claim go; returns the final folder."""
        self.partial.rename(self.folder)
        (self.folder / _LOCK).unlink(missing_ok=True)
        self._release()
        return self.folder

    def abandon(self) -> None:
        """Delete the working folder (this claim's own, nothing else) and let the claim go."""
        try:
            shutil.rmtree(self.partial, ignore_errors=True)
        finally:
            self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the file lets the lock go
            self._lock_fd = None


def claim_capture(captures_dir: Path, account_id: str, trigger: Trigger, started: dt.datetime) -> Claim:
    """Claim the first free capture id of *account_id*, from the second *started* on.

    captures_dir: the folder holding every account's captures ('<data dir>/captures').
    started: when the capture starts, to the second.
    """
    while True:
        claim = _try_claim(captures_dir, make_capture_id(account_id, started, trigger), started)
        if claim is not None:
            return claim
        started += dt.timedelta(seconds=1)


def _try_claim(captures_dir: Path, capture_id: str, started: dt.datetime) -> Claim | None:
    """The claim of *capture_id*, or None when another capture has it (finished or running)."""
    folder = captures_dir / capture_id
    if folder.exists():
        return None
    partial = _partial(folder)
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        partial.mkdir()  # atomic: exactly one capture makes it
    except FileExistsError:
        return None  # a running capture (or a dead one's leftover, which clean_stale_partials removes)
    try:
        fd = os.open(partial / _LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except BaseException:
        partial.rmdir()
        raise
    fcntl.flock(fd, fcntl.LOCK_EX)  # a file just made in a folder just made: nobody else holds it
    claim = Claim(capture_id=capture_id, started=started, folder=folder, _lock_fd=fd)
    if folder.exists():  # a capture with this id finished between the check and the mkdir
        claim.abandon()
        return None
    return claim


def clean_stale_partials(account_dir: Path, older_than_s: float) -> None:
    """Half-written captures of a process that died: nothing in them was filed, so they go.

    older_than_s: a working folder last changed longer ago than this (and a minute) is stale,
    unless a live capture still holds its claim; then it is left alone, however old.
    """
    if not account_dir.is_dir():
        return
    limit = time.time() - older_than_s - 60
    for partial in account_dir.glob("*.partial"):
        with _unclaimed(partial) as free:
            try:
                stale = free and partial.stat().st_mtime < limit
            except FileNotFoundError:
                continue  # completed (renamed) or removed meanwhile
            if stale:
                shutil.rmtree(partial, ignore_errors=True)
                get_logger(account=account_dir.name).warning("capture.partial_removed", folder=partial.name)


@contextmanager
def _unclaimed(partial: Path) -> Iterator[bool]:
    """Whether no live capture holds the claim of *partial*; if it has a lock file, the lock is
    held (so nobody takes it) until the block ends."""
    lock = partial / _LOCK
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:  # a folder being made, or one of a process that died before locking it
        yield True
        return
    try:
        yield _take(fd, lock)
    finally:
        os.close(fd)


def _take(fd: int, lock: Path) -> bool:
    """Lock *fd* if nobody holds it, and check it is still the file at *lock* (not a completed capture's)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held, current = os.fstat(fd), os.stat(lock)
    except OSError:  # BlockingIOError: a live capture holds it; FileNotFoundError: gone meanwhile
        return False
    return (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)


def _partial(folder: Path) -> Path:
    return folder.with_name(folder.name + ".partial")
