"""Object storage: the only package that imports boto3 and knows keys, checksums and locks."""

from storage.archive import (
    AUDIT_PREFIX,
    PROTOCOL_PREFIX,
    Archive,
    ArchiveError,
    Companion,
    FixityError,
    ObjectInfo,
    capture_prefix,
)
from storage.embedded import ROLES, EmbeddedS3, EmbeddedS3Error

__all__ = ["AUDIT_PREFIX", "PROTOCOL_PREFIX", "Archive", "ArchiveError", "Companion", "EmbeddedS3", "EmbeddedS3Error", "ROLES", "FixityError", "ObjectInfo", "capture_prefix"]
