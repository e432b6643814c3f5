"""Logged-in views: the sessions communicators save with `somearkiv login`, encrypted at rest.

A session is a Playwright storage state (cookies, local storage) plus who saved it, as whom
and when. It is encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``)
under a key that lives outside the data directory: ``SOMEARKIV_SESSION_KEY`` or the key file
(0600, default ``~/.config/somearkiv/session.key``). The file in the data directory alone
is worth nothing to whoever copies it. Captures decrypt it in memory and hand the state to
the browser; it is never written back, never filed, never logged (the record says only that
a logged-in view was used, and as which role).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from somearkiv.models import SessionInfo

__all__ = ["SessionError", "SessionStore", "StoredSession", "session_store"]

_SUFFIX = ".session"
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class SessionError(Exception):
    """A session cannot be saved or read; the message says what to do."""


@dataclass(frozen=True)
class StoredSession:
    storage_state: dict[str, Any]
    info: SessionInfo


class SessionStore:
    """Encrypted sessions, one file per account under *directory* (0700; files 0600)."""

    def __init__(self, directory: Path, key: bytes):
        self.directory = Path(directory)
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SessionError("the session key is not a valid key (32 url-safe base64 bytes, as "
                               "`somearkiv login` writes it)") from exc

    def path(self, account_id: str) -> Path:
        if not _ID.match(account_id):
            raise SessionError(f"{account_id!r} is not an account id")
        return self.directory / f"{account_id}{_SUFFIX}"

    def save(self, account_id: str, storage_state: dict[str, Any], role: str, saved_by: str | None) -> Path:
        """Encrypt and write the session of *account_id*, replacing an older one atomically."""
        if not role.strip():
            raise SessionError("say as whom you logged in (the role, e.g. 'redaktör'): it goes into every record")
        info = SessionInfo(role=role.strip(), saved_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
                           saved_by=saved_by)
        plain = json.dumps({"account": account_id, "info": info.model_dump(mode="json"),
                            "storage_state": storage_state}).encode()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        target = self.path(account_id)
        partial = target.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(self._fernet.encrypt(plain))
        os.replace(partial, target)
        return target

    def load(self, account_id: str, path: Path | None = None) -> StoredSession:
        """Decrypt the session of *account_id* (from *path* when the register names one)."""
        source = Path(path) if path is not None else self.path(account_id)
        try:
            token = source.read_bytes()
        except OSError as exc:
            raise SessionError(f"the stored session of account {account_id} cannot be read "
                               f"({exc.strerror}): run `somearkiv login {account_id}`") from exc
        try:
            data = json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise SessionError(f"the stored session of account {account_id} cannot be decrypted with this "
                               "session key (a different key, or not a session saved by `somearkiv login`)"
                               ) from exc
        if data.get("account") != account_id:
            raise SessionError(f"the session in {source.name} belongs to account {data.get('account')!r}, "
                               f"not {account_id!r}")
        return StoredSession(data["storage_state"], SessionInfo.model_validate(data["info"]))

    def exists(self, account_id: str) -> bool:
        return self.path(account_id).is_file()

    def forget(self, account_id: str) -> bool:
        try:
            self.path(account_id).unlink()
            return True
        except FileNotFoundError:
            return False


def session_store(settings: Any, create_key: bool = False) -> SessionStore:
    """The store of *settings*: sessions under the data directory, the key from outside it.

    create_key: make a new key file (0600) when there is none (only `somearkiv login` does).
    """
    directory = Path(settings.data_dir) / "sessions"
    if settings.session_key is not None:
        return SessionStore(directory, settings.session_key.get_secret_value().encode())
    key_file = Path(settings.session_key_file).expanduser()
    data_dir = Path(settings.data_dir).resolve()
    if key_file.resolve().is_relative_to(data_dir):
        raise SessionError(f"the session key file {key_file} is inside the data directory: keep it elsewhere "
                           "(SOMEARKIV_SESSION_KEY_FILE), so a copy of the data is not a copy of the logins")
    if not key_file.exists():
        if not create_key:
            raise SessionError(f"no session key ({key_file} does not exist, SOMEARKIV_SESSION_KEY is not set): "
                               "run `somearkiv login ACCOUNT` first, or give this machine the key")
        key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(Fernet.generate_key())
    if key_file.stat().st_mode & 0o077:
        raise SessionError(f"the session key file {key_file} can be read by others: chmod 600 {key_file}")
    return SessionStore(directory, key_file.read_bytes().strip())
