"""Egress guard: the browser reaches only public addresses (and hosts the operator allows).

Chromium's request interception never sees redirect hops, so a start page that redirects to
an internal address would be followed. Instead every connection of the browser goes through a
small local proxy that resolves the host itself, refuses loopback, private, link-local (the
cloud metadata address), multicast and reserved addresses unless the operator allowed the
host, and connects to the address it vetted (no second lookup to rebind). Each capture
authenticates to the proxy with its own token, so refused requests are recorded per capture.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["Decision", "EgressPolicy", "EgressProxy", "BlockedRequest"]

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


@dataclass(frozen=True)
class EgressPolicy:
    """Which hosts the browser may reach.

    allowed_hosts: host names, addresses or networks (CIDR) allowed even when not public,
    e.g. ``127.0.0.1`` for the bundled sample pages.
    """

    allowed_hosts: tuple[str, ...] = ()
    _networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        networks = []
        for entry in self.allowed_hosts:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue
        object.__setattr__(self, "_networks", tuple(networks))

    def _address_allowed(self, host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """None if allowed, else why not."""
        if host.lower() in (h.lower() for h in self.allowed_hosts) or any(address in n for n in self._networks):
            return None
        if getattr(address, "ipv4_mapped", None) is not None:
            address = address.ipv4_mapped  # type: ignore[union-attr]
        if address.is_global and not address.is_multicast:
            return None
        for label in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
            if getattr(address, f"is_{label}"):
                return f"{address} is a {label.replace('_', '-')} address"
        return f"{address} is not a public address"

    def decide(self, host: str, port: int, resolve: bool = True) -> Decision:
        """May the browser connect to *host*:*port*? Resolves names, vets every address."""
        host = host.strip("[]")
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            if not resolve:
                return Decision(True, "name not resolved")
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                return Decision(False, f"{host} does not resolve ({exc.strerror})")
            addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
        for address in addresses:
            refusal = self._address_allowed(host, address)
            if refusal is not None:  # one bad address is enough: never pick the 'good' one of a mixed answer
                return Decision(False, f"{host} → {refusal}")
        return Decision(True, "public" if not self.allowed_hosts else "allowed", str(addresses[0]))

    def check_url(self, url: str) -> Decision:
        """The same decision for a URL, refusing every scheme but http and https."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return Decision(False, f"scheme {parts.scheme or '(none)'}: is not allowed")
        if not parts.hostname:
            return Decision(False, "no host")
        return self.decide(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


class EgressProxy:
    """An HTTP/HTTPS (CONNECT) forward proxy applying an EgressPolicy; runs in the browser's loop."""

    def __init__(self, policy: EgressPolicy):
        self.policy = policy
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._blocked: dict[str, list[BlockedRequest]] = defaultdict(list)
        self.requests_seen: dict[str, int] = defaultdict(int)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def settings_for(self, token: str) -> dict[str, str]:
        """Playwright proxy settings that route a context through this proxy, loopback included."""
        return {"server": f"http://127.0.0.1:{self.port}", "username": token, "password": token,
                "bypass": "<-loopback>"}

    def blocked_so_far(self, token: str) -> list[BlockedRequest]:
        return list(self._blocked.get(token, ()))

    def take_blocked(self, token: str) -> list[BlockedRequest]:
        self.requests_seen.pop(token, None)
        return self._blocked.pop(token, [])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _IDLE_TIMEOUT)
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers = [line for line in lines[1:] if line]
            token = _token(headers)
            if token is None:
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b'Proxy-Authenticate: Basic realm="somearkiv"\r\nContent-Length: 0\r\n\r\n')
                await writer.drain()
                return
            self.requests_seen[token] += 1
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
            self._blocked[token].append(BlockedRequest(shown, decision.reason))
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
            self._blocked[token].append(BlockedRequest(target, "only http and https are allowed"))
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
