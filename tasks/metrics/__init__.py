"""Followers and posts in the last month (policy P4), one module per platform behind one interface.

Call :func:`read_metrics` from a flow: it picks the platform's API adapter (the table
:data:`ADAPTERS` in ``base``) when its credential and base URL are set, falls back to the
captured page when given one, and never returns 0 for a number it does not know. See ``core``
for the rules every adapter follows.

The modules import each other one way only: ``core`` ← the platform modules and ``page`` ←
``base`` (the table and :func:`read_metrics`) ← this package.
"""

from __future__ import annotations

from tasks.metrics.base import ADAPTERS, read_metrics
from tasks.metrics.core import MetricsAdapter, Unavailable, Window
from tasks.metrics.page import merge_with_page, parse_count, read_page_metrics

__all__ = [
    "ADAPTERS",
    "MetricsAdapter",
    "Unavailable",
    "Window",
    "merge_with_page",
    "parse_count",
    "read_metrics",
    "read_page_metrics",
]
