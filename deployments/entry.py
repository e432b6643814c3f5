"""The `somearkiv` console script.

Importing the CLI (Typer, pydantic, boto3 on demand) takes about a second. A Ctrl-C in that
second must not end in a traceback. Catching KeyboardInterrupt around the import is not enough:
a KeyboardInterrupt raised while pydantic builds a model's serializer (in its Rust core) comes
out as a ``SchemaError`` (seen in the tests). So during the import a Ctrl-C only sets a flag,
the import finishes, and the script ends with "interrupted" and 130; everything else is
`deployments.cli.main`.
"""

from __future__ import annotations

import signal
import sys


def main() -> None:
    interrupted: list[int] = []
    guard = signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not when SIGINT is ignored
    if guard:
        signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    try:
        from deployments.cli import main as cli_main
    finally:
        if guard:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    if interrupted:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130)
    cli_main()
