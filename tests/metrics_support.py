"""What the metrics tests share: a recording stand-in for sleep, the API double as a fixture, now."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from tests.api_doubles import ApiDouble

__all__ = ["LogLines", "Sleeps", "days", "double", "now"]


class Sleeps(list):
    """A stand-in for time.sleep that only records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def double():
    """The local API double (127.0.0.1), one post per page so that paging is exercised."""
    with ApiDouble(page_size=1) as server:
        yield server


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def days(now: dt.datetime, n: float) -> dt.datetime:
    return now - dt.timedelta(days=n)


class LogLines(logging.Handler):
    """Every log message, to be searched for what must never be logged (tokens)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

