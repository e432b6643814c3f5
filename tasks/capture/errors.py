"""How a capture fails: worth retrying, not worth retrying, or stopped by a wall."""

from __future__ import annotations

from tasks.capture.walls import Wall

__all__ = ["Blocked", "CaptureError", "DiskFullError", "PageUnavailableError"]


class CaptureError(Exception):
    """The page could not be captured; worth retrying (timeouts, crashes, 5xx)."""


class PageUnavailableError(CaptureError):
    """The start page's address is refused or unusable; retrying will not help."""


class DiskFullError(PageUnavailableError):
    """The data directory is full: nothing can be captured until space is freed."""


class Blocked(Exception):
    """Raised by a step when the page is a wall: the view stops and its evidence is kept."""

    def __init__(self, wall: Wall):
        super().__init__(wall.reason)
        self.wall = wall
