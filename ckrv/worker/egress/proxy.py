"""The filtering proxy: an asyncio HTTP proxy the worker runs outside the sandbox. Tools inside
reach it through the usual proxy variables (via the bridge). It speaks CONNECT (https and
anything tunnelled) and absolute-URI plain HTTP; every other request is refused.

For each request it checks the host and port against the job's allowlist *before* resolving,
resolves the name itself (the sandbox's /etc/hosts and resolver play no part), refuses a name
that resolves to loopback or link-local, and connects to the address it resolved. A denial is
a 403 to the client and one line in the job's log."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ckrv.worker.egress.bridge import CHUNK, pipe
from ckrv.worker.egress.policy import Allowlist, Decision

MAX_HEAD = 64 * 1024
HEAD_TIMEOUT = 30.0
CONNECT_TIMEOUT = 15.0
# Dropped from a plain HTTP request: hop-by-hop headers, and Host (set from the checked URI, so
# a listed address cannot be asked for another site it also serves).
_DROPPED_HEADERS = {
    b"proxy-connection",
    b"proxy-authorization",
    b"connection",
    b"keep-alive",
    b"host",
}

Say = Callable[[str, str], None]  # (message, level)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    head: bytes | None  # the request to send upstream (plain HTTP); None for CONNECT


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_head(head: bytes) -> Target:
    """The target of a proxy request, from its head (request line and headers)."""
    lines = head.split(b"\r\n")
    try:
        method, uri, version = lines[0].decode("latin-1").split(" ")
    except ValueError:
        raise Refused(400, "malformed request line") from None
    if method == "CONNECT":
        host, port = _authority(uri)
        return Target(host, port, None)
    parts = urlsplit(uri)
    if parts.scheme != "http" or not parts.hostname:
        raise Refused(400, "only CONNECT and absolute http:// URIs go through this proxy")
    try:
        port = parts.port or 80
    except ValueError:
        raise Refused(400, "bad port") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    kept = [
        line
        for line in lines[1:]
        if line and line.split(b":", 1)[0].strip().lower() not in _DROPPED_HEADERS
    ]
    request = f"{method} {path} {version}".encode("latin-1")
    host_header = f"Host: {parts.netloc.rpartition('@')[2]}".encode("latin-1")
    upstream = b"\r\n".join([request, host_header, *kept, b"Connection: close", b"", b""])
    return Target(parts.hostname, port, upstream)


def _authority(uri: str) -> tuple[str, int]:
    host, sep, port = uri.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise Refused(400, "CONNECT needs host:port")
    return host.strip("[]").lower(), int(port)


class EgressProxy:
    def __init__(self, allowlist: Allowlist, say: Say) -> None:
        self.allowlist = allowlist
        self.say = say
        self.denied = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            target = parse_head(head[:-4] if len(head) > 4 else head)
            upstream_reader, upstream_writer = await self._open(target)
        except Refused as exc:
            await _reply(writer, exc.status, exc.reason)
            return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            writer.close()
            return
        if target.head is None:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            upstream_writer.write(target.head)
        await _splice(reader, writer, upstream_reader, upstream_writer)

    async def _open(self, target: Target) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._decide(self.allowlist.check(target.host, target.port), target)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise Refused(502, f"cannot resolve {target.host}: {exc}") from None
        last: OSError | None = None
        for family, _type, _proto, _name, address in infos:
            ip = str(address[0])
            self._decide(self.allowlist.check_address(target.host, target.port, ip), target)
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(ip, target.port, family=family, limit=CHUNK),
                    CONNECT_TIMEOUT,
                )
            except (OSError, TimeoutError) as exc:
                last = exc if isinstance(exc, OSError) else OSError(str(exc) or "timed out")
        message = f"network: could not reach {target.host}:{target.port}: {last}"
        self.say(message, "warn")
        raise Refused(502, message)

    def _decide(self, decision: Decision, target: Target) -> None:
        if not decision.allowed:
            self.denied += 1
            line = decision.log_line(target.host, target.port)
            self.say(line, "warn")
            raise Refused(403, line)


async def _reply(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    phrase = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}.get(status, "Error")
    body = (reason + "\n").encode()
    writer.write(
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(OSError):
        await writer.drain()
    writer.close()


async def _splice(
    r1: asyncio.StreamReader,
    w1: asyncio.StreamWriter,
    r2: asyncio.StreamReader,
    w2: asyncio.StreamWriter,
) -> None:
    """Copy both ways until both sides are done, then close both."""
    try:
        await asyncio.gather(pipe(r1, w2), pipe(r2, w1))
    finally:
        for writer in (w1, w2):
            writer.close()


class ProxyThread:
    """The proxy on its own event loop in a thread of the (synchronous) worker, listening on
    a unix socket (for the sandbox's bridge) or on 127.0.0.1 (tests, benchmarks)."""

    def __init__(self, proxy: EgressProxy, *, unix_path: Path | None = None) -> None:
        self.proxy = proxy
        self.unix_path = unix_path
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ckrv-egress", daemon=True)

    def start(self) -> ProxyThread:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            if self.unix_path is not None:
                server = await asyncio.start_unix_server(
                    self.proxy.handle, str(self.unix_path), limit=MAX_HEAD
                )
            else:
                server = await asyncio.start_server(
                    self.proxy.handle, "127.0.0.1", 0, limit=MAX_HEAD
                )
                self.port = server.sockets[0].getsockname()[1]
        except OSError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            open_connections = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in open_connections:
                task.cancel()
            await asyncio.gather(*open_connections, return_exceptions=True)

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()
