"""Logs: structured, JSON in production, and never a secret."""

from __future__ import annotations

import json
import logging

from somearkiv.log import configure_logging, get_logger


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_json_lines_with_context_and_no_secrets():
    configure_logging("json")
    handler = _Collect()
    logging.getLogger("somearkiv").addHandler(handler)
    try:
        get_logger(account="perstorp-facebook").info(
            "capture.start", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG", access_token="EAAB-very-secret",
            password="hunter2", url="https://example.org/")
    finally:
        logging.getLogger("somearkiv").removeHandler(handler)
    [line] = handler.lines
    event = json.loads(line)
    assert event["event"] == "capture.start" and event["account"] == "perstorp-facebook"
    assert event["level"] == "info" and event["timestamp"].endswith("Z")
    assert event["url"] == "https://example.org/"
    for secret in ("wJalrXUtnFEMI", "EAAB-very-secret", "hunter2"):
        assert secret not in line
    assert event["aws_secret_access_key"] == event["access_token"] == event["password"] == "[redacted]"
