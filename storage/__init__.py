"""Object storage: the only package that imports boto3 and knows keys, checksums and locks."""

from storage.archive import AUDIT_PREFIX, PROTOCOL_PREFIX, Archive, Companion, ObjectInfo, capture_prefix
from storage.embedded import ROLES, EmbeddedS3, EmbeddedS3Error
from storage.errors import ArchiveError, FixityError, ObjectMissing

__all__ = [
    "AUDIT_PREFIX",
    "PROTOCOL_PREFIX",
    "ROLES",
    "Archive",
    "ArchiveError",
    "Companion",
    "EmbeddedS3",
    "EmbeddedS3Error",
    "FixityError",
    "ObjectInfo",
    "ObjectMissing",
    "capture_prefix",
]
