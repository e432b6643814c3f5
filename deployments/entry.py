"""The `somearkiv` console script.

Importing the CLI (Typer, pydantic, boto3 on demand) takes about a second. A Ctrl-C in that
second would end in a KeyboardInterrupt traceback, so the import itself is guarded here and
everything else is `deployments.cli.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from deployments.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    cli_main()
