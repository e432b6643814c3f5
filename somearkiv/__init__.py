"""somearkiv: social media accounts kept as public records (allmänna handlingar)."""

import os
from importlib.metadata import PackageNotFoundError, version

# No Prefect server somearkiv's processes start (a local one, or Prefect's temporary one) sends
# telemetry: the archive talks to nobody it was not told to. Set before Prefect reads its settings.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

try:
    __version__ = version("somearkiv")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"

__all__ = ["__version__"]
