"""somearkiv: social media accounts kept as public records (allmänna handlingar)."""

import os
from importlib.metadata import PackageNotFoundError, version

# No Prefect server somearkiv's processes start (a local one, or Prefect's temporary one) sends
# telemetry: the archive talks to nobody it was not told to. Set before Prefect reads its settings.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# Buffers of a MB or more are mapped and unmapped on their own: freed, they leave the process
# (see somearkiv.memory; glibc otherwise keeps them in the heap after the first).
from somearkiv.memory import keep_large_buffers_off_the_heap  # noqa: E402

keep_large_buffers_off_the_heap()

try:
    __version__ = version("somearkiv")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"

__all__ = ["__version__"]
