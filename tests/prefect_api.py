"""Prefect's REST API called the way Prefect's own client calls it, for tests that talk HTTP to it directly."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request

# Prefect's server answers 503 when SQLite is busy (another writer holds the lock) and expects the client
# to try again: its own client retries 429 and 503 up to 5 times with growing waits (PREFECT_CLIENT_MAX_RETRIES).
RETRIED = (429, 503)
TRIES = 6


def call(url: str, body: object | None = None, method: str | None = None, auth: str | None = None,
         timeout: float = 15) -> object:
    """*body* as JSON to *url* (POST, or GET without one); the answer's JSON.

    429 and 503 are tried again (up to TRIES times); any other HTTP error raises HTTPError."""
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     method=method or ("POST" if body is not None else "GET"), headers=headers)
    attempt = 0
    while True:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            attempt += 1
            if error.code not in RETRIED or attempt == TRIES:
                raise
            time.sleep(min(2 ** (attempt - 1), 10))
