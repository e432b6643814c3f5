"""Storage's own exceptions: callers never see botocore's."""

from __future__ import annotations

from botocore.exceptions import ClientError

__all__ = ["ArchiveError", "FixityError", "ObjectMissing", "is_missing", "storage_error"]


class ArchiveError(RuntimeError):
    pass


class FixityError(ArchiveError):
    """Bytes read back do not match the SHA-256 they were filed with."""


class ObjectMissing(ArchiveError):
    """No such key, or no such version of it."""


def is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchVersion", "404", "NotFound")


def storage_error(exc: ClientError, what: str) -> ArchiveError:
    """The S3 error as one of storage's own exceptions, with the service's words."""
    error = exc.response.get("Error", {})
    kind = ObjectMissing if is_missing(exc) else ArchiveError
    return kind(f"{what}: {error.get('Message') or error.get('Code') or exc}")
