"""Large buffers outside the heap, so that what a capture frees goes back to the system.

glibc's malloc serves an allocation of 128 KB or more with a mapping of its own and returns it to
the system when it is freed, but after the first such free it raises that threshold to the freed
size (up to 32 MB). A capture's screenshots, PDFs and uploads are buffers of a few MB: after the
first, they came from the heap, where freed space is kept and scattered among what stays. With
the threshold fixed (mallopt(3): setting it turns the raising off), measured over one 60-account
round at concurrency 2 against one without, the main process held 23 MB less and grew by about
0.2 instead of 0.34 MB per capture.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
LARGE = 1 << 20


def keep_large_buffers_off_the_heap() -> bool:
    """Serve allocations of LARGE bytes or more by mappings of their own in this process, always;
    False where the C library has no such setting (not glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this interpreter runs on
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, LARGE))
