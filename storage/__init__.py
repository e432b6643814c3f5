"""Object storage: the only package that imports boto3 and knows keys, checksums and locks."""

from storage.archive import (
    AUDIT_PREFIX,
    PROTOCOL_PREFIX,
    Archive,
    ArchiveError,
    FixityError,
    ObjectInfo,
    capture_prefix,
)
from storage.embedded import EmbeddedS3, EmbeddedS3Error

__all__ = ["AUDIT_PREFIX", "PROTOCOL_PREFIX", "Archive", "ArchiveError", "EmbeddedS3", "EmbeddedS3Error", "FixityError", "ObjectInfo", "capture_prefix"]
