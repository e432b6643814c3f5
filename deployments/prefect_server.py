"""A local Prefect server on SQLite, bound to 127.0.0.1, started in the background and reused.

Its API and UI need a login (Prefect's basic auth, ``PREFECT_SERVER_API_AUTH_STRING``): the
credential ``somearkiv:<random>`` is made on first start and kept in ``<home>/api-auth``
(0600); clients get it as ``PREFECT_API_AUTH_STRING`` (see ``client_environment``). Only the
health probes answer without it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LocalPrefectServer"]

# The servers outlive the call that starts them (stopped later by pid file, maybe by another
# process). Their Popen objects are kept here so none is collected while its server runs.
_STARTED: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class LocalPrefectServer:
    home: Path  # PREFECT_HOME: the SQLite database and the server's log live here
    port: int = 4200
    auth: bool = True  # the API and the UI need the login in <home>/api-auth

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home).resolve())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"

    @property
    def _pid_file(self) -> Path:
        return self.home / "server.pid"

    @property
    def auth_file(self) -> Path:
        return self.home / "api-auth"

    @property
    def auth_string(self) -> str | None:
        """``user:password`` of the server's login, made (0600) on first use; None without auth."""
        if not self.auth:
            return None
        if not self.auth_file.exists():
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.auth_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(f"somearkiv:{secrets.token_urlsafe(24)}")
        return self.auth_file.read_text().strip()

    def client_environment(self) -> dict[str, str]:
        """What a client of this server needs in its environment (the API address and the login)."""
        env = {"PREFECT_API_URL": self.api_url}
        if self.auth_string:
            env["PREFECT_API_AUTH_STRING"] = self.auth_string
        return env

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def start(self, timeout: float = 90) -> bool:
        """Start the server unless one answers on the port; True if this call started it."""
        if self.healthy():
            return False
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o700)  # prefect.db and the server's log: the operator's only
        env = {
            **os.environ,
            "PREFECT_HOME": str(self.home.resolve()),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_API_URL": self.api_url,
        }
        env.pop("PREFECT_API_URL", None)
        if self.auth_string:
            env["PREFECT_SERVER_API_AUTH_STRING"] = self.auth_string
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        self._pid_file.write_text(str(proc.pid))
        _STARTED[proc.pid] = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the Prefect server exited with {proc.returncode}; see {self.log_file}")
            if self.healthy():
                return True
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the Prefect server did not answer within {timeout:g} s; see {self.log_file}")

    def stop(self) -> bool:
        """Stop the server this project started (by its pid file); True if one was running."""
        try:
            pid = int(self._pid_file.read_text())
            os.killpg(pid, signal.SIGTERM)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            self._pid_file.unlink(missing_ok=True)
            return False
        for _ in range(60):
            try:
                os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
            except ChildProcessError:
                pass
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.25)
        self._pid_file.unlink(missing_ok=True)
        _STARTED.pop(pid, None)
        return True
