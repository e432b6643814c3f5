"""Serves the bundled sample start pages (samples/pages) on 127.0.0.1 for the demo and the tests."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

from somearkiv.settings import PROJECT_ROOT

__all__ = ["SampleSite", "SAMPLE_PAGES"]

SAMPLE_PAGES = PROJECT_ROOT / "samples" / "pages"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass


class SampleSite:
    """A static file server in a background thread; ``with SampleSite() as site: site.url``."""

    def __init__(self, root: Path = SAMPLE_PAGES, port: int = 0, host: str = "127.0.0.1"):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._server = http.server.ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sample-site", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> SampleSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SampleSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
