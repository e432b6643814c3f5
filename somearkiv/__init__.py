"""somearkiv: social media accounts kept as public records (allmänna handlingar)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("somearkiv")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"

__all__ = ["__version__"]
