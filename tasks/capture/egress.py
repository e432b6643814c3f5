"""Egress guard: the browser reaches only public addresses (and hosts the operator allows).

Chromium's request interception never sees redirect hops, so a start page that redirects to
an internal address would be followed. Instead every connection of the browser goes through a
small local proxy that resolves the host itself, refuses loopback, private, link-local (the
cloud metadata address), multicast and reserved addresses unless the operator allowed the
host, and connects to the address it vetted (no second lookup to rebind). Each capture
authenticates to the proxy with its own token, so refused requests are recorded per capture.

The archive's own services (the embedded S3 server, the Prefect API, an S3 endpoint) are
protected: the browser never reaches them, whatever the allow-list says, so a page cannot
make the browser delete or read objects through a loopback service that trusts its callers.

This file only uses the standard library: the proxy process runs it as a script (EgressProxy).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from somearkiv.settings import Settings

__all__ = ["Decision", "EgressPolicy", "EgressProxy", "BlockedRequest", "protected_endpoints", "split_host_port"]

_IDLE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    address: str | None = None  # the vetted address to connect to


@dataclass(frozen=True)
class BlockedRequest:
    target: str
    reason: str


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def split_host_port(entry: str) -> tuple[str, int | None]:
    """(host, port or None) of ``host``, ``host:port``, ``[v6]:port``, ``[v6]``, a bare IPv6 address or a network.

    The host comes back without brackets, in lower case and without a trailing dot.
    """
    text = entry.strip()
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError(f"{entry!r} is not [address] or [address]:port")
        port = _port(rest[1:], entry) if rest else None
    elif text.count(":") == 1:  # two or more colons: an IPv6 address (or network) without a port
        host, _, rest = text.partition(":")
        port = _port(rest, entry)
    else:
        host, port = text, None
    host = host.strip().lower().rstrip(".")
    if not host:
        raise ValueError(f"{entry!r} names no host")
    return host, port


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(text)


def _plain(address: _Address) -> _Address:
    """An IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) as the IPv4 address it reaches."""
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def _is_local(address: _Address, machine: frozenset[_Address]) -> bool:
    """Does a connection to *address* end on this machine (loopback, 0.0.0.0, ::, its own addresses)?"""
    return address.is_loopback or address.is_unspecified or address in machine


def _machine_addresses() -> frozenset[_Address]:
    """The addresses this machine's host name resolves to (loopback is covered separately)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except (socket.gaierror, UnicodeError, OSError):
        return frozenset()
    return frozenset(_plain(ipaddress.ip_address(info[4][0].split("%")[0])) for info in infos)


@dataclass(frozen=True)
class _Rule:
    """One allow-list entry: a host name or a network, on one port or on all of them."""

    name: str | None
    network: _Network | None
    port: int | None

    def covers(self, host: str, address: _Address) -> bool:
        if self.network is not None:
            return address in self.network or _plain(address) in self.network
        return host == self.name


@dataclass(frozen=True)
class EgressPolicy:
    """Which hosts the browser may reach.

    allowed_hosts: host names, addresses or networks (CIDR) allowed even when not public,
    e.g. ``127.0.0.1`` for the bundled sample pages; ``host:port`` or ``[v6]:port`` allows
    that port only (an entry without a port allows every port). Public addresses are allowed
    on every port.

    protected: ``host:port`` of the archive's own services, refused whatever the allow-list
    says: a requested address that is (one of the addresses of) a protected host, on its port,
    is refused. A protected host on loopback or ``localhost`` stands for this whole machine:
    that port is refused on every loopback address, on 0.0.0.0 and ::, and on the addresses
    of this machine's host name. A protected host *name* with public addresses is refused by
    name only (a public service is no more reachable through the browser than by anyone, and
    its addresses may be shared with unrelated sites, e.g. on a CDN). Protected names are
    resolved when the policy is made (once per capture).
    """

    allowed_hosts: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    _rules: tuple[_Rule, ...] = field(default=(), init=False, repr=False)
    _protected_names: frozenset[tuple[str, int]] = field(default=frozenset(), init=False, repr=False)
    _protected_addresses: frozenset[tuple[_Address, int]] = field(default=frozenset(), init=False, repr=False)
    _local_ports: frozenset[int] = field(default=frozenset(), init=False, repr=False)
    _machine: frozenset[_Address] = field(default=frozenset(), init=False, repr=False)

    def __post_init__(self) -> None:
        rules = []
        for entry in self.allowed_hosts:
            host, port = split_host_port(entry)
            try:
                rules.append(_Rule(None, ipaddress.ip_network(host, strict=False), port))
            except ValueError:
                rules.append(_Rule(host, None, port))
        object.__setattr__(self, "_rules", tuple(rules))
        if self.protected:
            self._resolve_protected()

    def _resolve_protected(self) -> None:
        machine = _machine_addresses()
        names, addresses, local_ports = set(), set(), set()
        for entry in self.protected:
            host, port = split_host_port(entry)
            if port is None:
                raise ValueError(f"protected endpoint {entry!r} has no port (host:port)")
            names.add((host, port))
            try:
                resolved = [_plain(ipaddress.ip_address(host))]  # an address given: refused as given
            except ValueError:
                try:
                    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                except (socket.gaierror, UnicodeError):
                    infos = []  # it cannot be reached by this name then, and the name itself is refused
                resolved = [_plain(ipaddress.ip_address(info[4][0].split("%")[0])) for info in infos]
                # a name's public addresses may be shared (CDN, cloud): the name alone is refused then
                resolved = [a for a in resolved if not (a.is_global and not a.is_multicast)]
            if host == "localhost" or any(_is_local(a, machine) for a in resolved):
                local_ports.add(port)
            addresses.update((a, port) for a in resolved)
        object.__setattr__(self, "_protected_names", frozenset(names))
        object.__setattr__(self, "_protected_addresses", frozenset(addresses))
        object.__setattr__(self, "_local_ports", frozenset(local_ports))
        object.__setattr__(self, "_machine", machine)

    def _protected_refusal(self, address: _Address, port: int) -> str | None:
        """Why (*address*, *port*) is one of the archive's own services, or None."""
        plain = _plain(address)
        if (plain, port) in self._protected_addresses or (
                port in self._local_ports and _is_local(plain, self._machine)):
            shown = f"[{plain}]" if plain.version == 6 else str(plain)
            return f"{shown}:{port} is one of the archive's own services (refused whatever the allow-list says)"
        return None

    def _address_allowed(self, host: str, address: _Address, port: int) -> str | None:
        """None if allowed, else why not."""
        other_ports = []
        for rule in self._rules:
            if rule.covers(host, address):
                if rule.port is None or rule.port == port:
                    return None
                other_ports.append(rule.port)
        address = _plain(address)
        if address.is_global and not address.is_multicast:
            return None
        only = f" (allowed on port {', '.join(map(str, sorted(set(other_ports))))} only)" if other_ports else ""
        for label in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
            if getattr(address, f"is_{label}"):
                return f"{address} is a {label.replace('_', '-')} address{only}"
        return f"{address} is not a public address{only}"

    def decide(self, host: str, port: int, resolve: bool = True) -> Decision:
        """May the browser connect to *host*:*port*? Resolves names, vets every address."""
        host = host.strip("[]")
        name = host.lower().rstrip(".")
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            if (name, port) in self._protected_names:  # whatever it resolves to now
                return Decision(False, f"{host}:{port} is one of the archive's own services "
                                       "(refused whatever the allow-list says)")
            if not resolve:
                return Decision(True, "name not resolved")
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                return Decision(False, f"{host} does not resolve ({exc.strerror})")
            except UnicodeError:
                return Decision(False, f"{host} is not a valid host name")
            addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
        for address in addresses:  # one bad address is enough: never pick the 'good' one of a mixed answer
            refusal = self._protected_refusal(address, port) or self._address_allowed(name, address, port)
            if refusal is not None:
                return Decision(False, f"{host} → {refusal}")
        return Decision(True, "public" if not self.allowed_hosts else "allowed", str(addresses[0]))

    def decide_as_written(self, host: str, port: int) -> Decision:
        """The decision on what an address says, without looking a name up (`register check`): an
        address is vetted; ``localhost`` (and ``*.localhost``) is this machine's loopback, which may
        be 127.0.0.1 and ::1 (Debian's /etc/hosts gives both), vetted under its name as the guard
        vets it; another name is allowed here (the guard vets its addresses when the browser asks)."""
        host = host.strip("[]")
        name = host.lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            for address in (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")):
                refusal = self._address_allowed(name, address, port)
                if refusal is not None:
                    return Decision(False, f"{host} is this machine (it may be {address}): {refusal}")
            return Decision(True, "allowed")
        return self.decide(host, port, resolve=False)

    def check_url(self, url: str, as_written: bool = False) -> Decision:
        """The same decision for a URL, refusing every scheme but http and https; *as_written*: on what
        the URL says, without looking its name up (``decide_as_written``)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return Decision(False, f"scheme {parts.scheme or '(none)'}: is not allowed")
        if not parts.hostname:
            return Decision(False, "no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return self.decide_as_written(parts.hostname, port) if as_written else self.decide(parts.hostname, port)


def protected_endpoints(settings: Settings) -> tuple[str, ...]:
    """``host:port`` of the archive's own services, for EgressPolicy(protected=...).

    Every port the embedded S3 server opens (when it is used), the S3 endpoint (when one is
    set), and the Prefect API: PREFECT_API_URL or Prefect's own setting, and the local
    server's port on 127.0.0.1.
    """
    endpoints: list[str | None] = []
    if settings.use_embedded_s3:
        from storage.embedded import EmbeddedS3

        server = EmbeddedS3(settings.data_dir / "seaweedfs", settings.s3_embedded_port)
        endpoints += [f"127.0.0.1:{port}" for port in server.listening_ports()]
    if settings.s3_endpoint_url:
        endpoints.append(_url_endpoint(settings.s3_endpoint_url))
    endpoints.append(_url_endpoint(os.environ.get("PREFECT_API_URL", "")))
    try:
        from prefect.settings import get_current_settings

        endpoints.append(_url_endpoint(str(get_current_settings().api.url or "")))
    except Exception:  # noqa: BLE001 - a Prefect without this setting: the environment variable is enough
        pass
    endpoints.append(f"127.0.0.1:{settings.prefect_port}")
    return tuple(dict.fromkeys(e for e in endpoints if e))


def _url_endpoint(url: str) -> str | None:
    """``host:port`` of an http(s) URL (the scheme's port when none is given), None if there is none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return f"[{parts.hostname}]:{port}" if ":" in parts.hostname else f"{parts.hostname}:{port}"


class EgressProxy:
    """The egress guard's HTTP/HTTPS (CONNECT) forward proxy, in a process of its own.

    It reads what pages make the browser send, so it runs apart from what the flow's process
    holds: the process runs this file with ``python -I``, the standard library only and none of
    the flow's environment (no credentials, no service addresses), and it ends when its input
    closes (the flow's process ended or stopped it). Nor does it share the Playwright client's
    event loop and the filing's interpreter lock any more (measured: the time per capture was
    the same within this machine's noise, README *Benchmarks*; its CPU is 0.05 s per capture).

    The policy is sent to it whenever it is set, and the tokens it lets through (each capture's view
    has its own, random, admitted while its context lives); what it refuses comes back per token. ``sync()``
    waits until everything decided before it has come back (start() and the readers of the
    refusals call it), so a refusal is never read too early and a new policy is in force
    before the next capture's first request.
    """

    def __init__(self, policy: EgressPolicy):
        self._policy = policy
        self.port = 0
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()  # the pipe to the process, the refusals and the waiting syncs
        self._blocked: dict[str, list[BlockedRequest]] = defaultdict(list)
        self._admitted: set[str] = set()  # sent again to a process started again
        self._asked = 0
        self._waiting: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[bool]]] = {}

    @property
    def policy(self) -> EgressPolicy:
        return self._policy

    @policy.setter
    def policy(self, policy: EgressPolicy) -> None:
        with self._lock:
            self._policy = policy
            self._send({"policy": _policy_message(policy)})

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self) -> int:
        """Start the proxy process (again, if it ended), or wait for the running one to be in step."""
        if self.running and await self.sync():  # a process killed a moment ago does not answer: started again
            return self.port
        if self._process is not None:
            await self.stop()  # it ended (or hangs): what it decided is read, its pipes closed
            self._blocked.clear()
        loop = asyncio.get_running_loop()
        env = {key: os.environ[key] for key in _PASSED_ENV if key in os.environ}
        process = subprocess.Popen([sys.executable, "-I", __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   env=env, text=True, encoding="utf-8", bufsize=1)
        try:
            with self._lock:
                self._process = process
                self._send({"policy": _policy_message(self._policy)})
                for token in self._admitted:
                    self._send({"admit": token})
            line = await asyncio.wait_for(loop.run_in_executor(None, process.stdout.readline), 30)
            self.port = int(json.loads(line)["port"])
        except (TimeoutError, ValueError, KeyError, TypeError, OSError) as exc:
            process.kill()
            process.wait()
            self._process = None
            raise RuntimeError(f"the egress guard's proxy did not start ({exc or type(exc).__name__})") from exc
        self._reader = threading.Thread(target=self._read, args=(process,), name="somearkiv-egress", daemon=True)
        self._reader.start()
        await self.sync()
        return self.port

    async def stop(self) -> None:
        """Stop the proxy process: its input closes and it ends (killed after 5 s)."""
        process, reader = self._process, self._reader
        if process is None:
            return
        with self._lock:
            self._process = None
            try:
                process.stdin.close()
            except OSError:
                pass
        try:
            await asyncio.get_running_loop().run_in_executor(None, process.wait, 5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if reader is not None:
            await asyncio.get_running_loop().run_in_executor(None, reader.join, 5)
        process.stdout.close()

    def admit(self, token: str) -> None:
        """Let *token* through from now on (sync() to be sure it is in force); take_blocked() ends it.

        The proxy refuses every other token (407): a process on this machine that finds its port
        cannot use it to reach what the browser may reach."""
        with self._lock:
            self._admitted.add(token)
            self._send({"admit": token})

    def settings_for(self, token: str) -> dict[str, str]:
        """Playwright proxy settings that route a context through this proxy, loopback included (admit() the
        token first)."""
        return {"server": f"http://127.0.0.1:{self.port}", "username": token, "password": token,
                "bypass": "<-loopback>"}

    async def sync(self, timeout: float = 10.0) -> bool:
        """Wait until the proxy process has answered everything sent to it before now; False when it
        did not (it is not running, it ended meanwhile, or it did not answer within *timeout*)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        with self._lock:
            self._asked += 1
            number = self._asked
            if not self._send({"sync": number}):
                return False  # not running: nothing more will come
            self._waiting[number] = (loop, done)
        try:
            return await asyncio.wait_for(done, timeout)
        except TimeoutError:
            with self._lock:
                self._waiting.pop(number, None)
            return False

    async def blocked_so_far(self, token: str) -> list[BlockedRequest]:
        """What the proxy refused for *token* until now."""
        await self.sync()
        with self._lock:
            return list(self._blocked.get(token, ()))

    async def take_blocked(self, token: str) -> list[BlockedRequest]:
        """What the proxy refused for *token*, forgotten here; the token is let through no more (its context
        is closed)."""
        self.retire(token)
        await self.sync()
        with self._lock:
            return self._blocked.pop(token, [])

    def retire(self, token: str) -> None:
        """Let *token* through no more (take_blocked() does this, and reads what was refused for it first)."""
        with self._lock:
            self._admitted.discard(token)
            self._send({"retire": token})

    def _send(self, message: dict) -> bool:
        """Write *message* to the process (under self._lock); False when it is not running."""
        if self._process is None or self._process.stdin.closed:
            return False
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
            return True
        except (OSError, ValueError):  # it ended: the reader sees its output end
            return False

    def _read(self, process: subprocess.Popen[str]) -> None:
        """The process's messages (refusals, syncs answered), until it ends."""
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                if "blocked" in message:
                    token, target, reason = message["blocked"]
                    self._blocked[token].append(BlockedRequest(target, reason))
                elif "synced" in message:
                    for number in [n for n in self._waiting if n <= message["synced"]]:
                        _wake(*self._waiting.pop(number), True)
        with self._lock:  # ended: no sync will be answered
            for number in list(self._waiting):
                _wake(*self._waiting.pop(number), False)


def _wake(loop: asyncio.AbstractEventLoop, done: asyncio.Future[bool], answered: bool) -> None:
    def wake() -> None:
        if not done.done():
            done.set_result(answered)

    try:
        loop.call_soon_threadsafe(wake)
    except RuntimeError:
        pass  # that loop is closed: no one waits any more


def _policy_message(policy: EgressPolicy) -> dict[str, list[str]]:
    return {"allowed_hosts": list(policy.allowed_hosts), "protected": list(policy.protected)}


_PASSED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "HOME")


class _ProxyServer:
    """The proxy itself, run by ``python -I egress.py`` (see EgressProxy); refusals go to *refused*."""

    def __init__(self, policy: EgressPolicy, refused: Callable[[str, BlockedRequest], None]):
        self.policy = policy
        self.admitted: set[str] = set()
        self._refused = refused
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _IDLE_TIMEOUT)
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers = [line for line in lines[1:] if line]
            token = _token(headers)
            if token not in self.admitted:
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b'Proxy-Authenticate: Basic realm="somearkiv"\r\nContent-Length: 0\r\n\r\n')
                await writer.drain()
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                await self._tunnel(token, host, int(port), reader, writer)
            else:
                await self._forward(token, method, target, version, headers, reader, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def _connect(self, token: str, host: str, port: int, shown: str):
        decision = await asyncio.get_running_loop().run_in_executor(None, self.policy.decide, host, port)
        if not decision.allowed:
            self._refused(token, BlockedRequest(shown, decision.reason))
            return None
        return await asyncio.wait_for(asyncio.open_connection(decision.address, port), 15)

    async def _tunnel(self, token, host, port, reader, writer) -> None:
        upstream = await self._connect(token, host, port, f"{host}:{port}")
        if upstream is None:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await _pipe_both(reader, writer, *upstream)

    async def _forward(self, token, method, target, version, headers, reader, writer) -> None:
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            self._refused(token, BlockedRequest(target, "only http and https are allowed"))
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        upstream = await self._connect(token, parts.hostname, parts.port or 80, target)
        if upstream is None:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        up_reader, up_writer = upstream
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        kept = [h for h in headers if not h.lower().startswith(("proxy-", "connection:", "keep-alive:"))]
        request = f"{method} {path} {version}\r\n" + "".join(h + "\r\n" for h in kept) + "Connection: close\r\n\r\n"
        up_writer.write(request.encode("latin-1"))
        await up_writer.drain()
        await _pipe_both(reader, writer, up_reader, up_writer)


def _token(headers: Iterable[str]) -> str | None:
    for header in headers:
        name, _, value = header.partition(":")
        if name.strip().lower() == "proxy-authorization":
            scheme, _, encoded = value.strip().partition(" ")
            if scheme.lower() == "basic":
                try:
                    return base64.b64decode(encoded).decode().partition(":")[0] or None
                except (ValueError, UnicodeDecodeError):
                    return None
    return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await asyncio.wait_for(reader.read(65536), _IDLE_TIMEOUT):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def _pipe_both(client_reader, client_writer, up_reader, up_writer) -> None:
    """Relay both ways until either side is done, then close both."""
    tasks = [asyncio.ensure_future(_pipe(client_reader, up_writer)),
             asyncio.ensure_future(_pipe(up_reader, client_writer))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        up_writer.close()


async def _serve() -> None:
    """The proxy process: its port first, then the policies and syncs read from stdin, until it closes."""
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)

    def say(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    server = _ProxyServer(EgressPolicy(), lambda token, b: say({"blocked": [token, b.target, b.reason]}))
    say({"port": await server.start()})
    while line := await commands.readline():
        message = json.loads(line)
        if "policy" in message:  # made in a thread: resolving protected names must not hold up the relaying
            allowed, protected = tuple(message["policy"]["allowed_hosts"]), tuple(message["policy"]["protected"])
            server.policy = await loop.run_in_executor(None, lambda: EgressPolicy(allowed, protected=protected))
        if "admit" in message:
            server.admitted.add(message["admit"])
        if "retire" in message:
            server.admitted.discard(message["retire"])
        if "sync" in message:
            say({"synced": message["sync"]})
    await server.stop()


if __name__ == "__main__":
    asyncio.run(_serve())
