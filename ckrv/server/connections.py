"""Connections that cannot pile up (only `ckrv serve` imports this module: it imports uvicorn).

uvicorn closes an idle keep-alive connection, but nothing bounds a connection that never
finishes a request head: one opened and left silent, or one sending a header byte now and then
(slowloris), stays open forever, and about a thousand of them used every descriptor. This
protocol closes a connection whose request head is not complete `header_timeout` seconds after
it opened or after the request's first byte, and keeps at most `max_connections` open: past it,
the connection that has waited longest for a request head is closed to make room (uvicorn's
own `limit_concurrency` then answers 503 only when every connection is busy with a request).
It also raises the open-file limit at start, so the cap, not the descriptors, is what binds."""

from __future__ import annotations

import asyncio
import resource
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Descriptors kept for everything but client connections: the database, artifacts, workers'
# pipes and sockets, the listening socket.
RESERVED_DESCRIPTORS = 256


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # a container may refuse: the cap below still follows the limit in force
    return soft


def connection_cap(wanted: int, open_files: int) -> int:
    """`max_connections`, lowered to what the open-file limit leaves room for."""
    return max(1, min(wanted, open_files - RESERVED_DESCRIPTORS))


def guarded_protocol(header_timeout: float, max_connections: int) -> type[GuardedHttpProtocol]:
    """The protocol class uvicorn builds each connection from, with these bounds."""
    bounds = {"header_timeout": header_timeout, "max_connections": max_connections}
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), bounds)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request-head timeout and a connection cap."""

    header_timeout = 10.0
    max_connections = 4096

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.head_timer: asyncio.TimerHandle | None = None
        # Loop time since this connection has waited for a request head; None while a request
        # is being served. The longest waiter is the one shed when the cap is reached.
        self.waiting_since: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(cast(asyncio.Transport, transport))
        self.waiting_since = self.loop.time()
        self._start_head_timer()
        if len(self.connections) > self.max_connections:
            self._shed_longest_waiter()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.head_timer is None:  # a keep-alive connection's next request: its own timeout
            self._start_head_timer()

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        self.waiting_since = None
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self.waiting_since = self.loop.time()  # idle: uvicorn's keep-alive timeout runs

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        self.head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _shed_longest_waiter(self) -> None:
        waiting = [
            c
            for c in self.connections
            if c is not self
            and isinstance(c, GuardedHttpProtocol)
            and c.waiting_since is not None
            and not c.transport.is_closing()
        ]
        if waiting:
            shed = min(waiting, key=lambda c: c.waiting_since or 0.0)
            shed.transport.close()
            # Uncounted now, not when the loop reports it lost: this connection's request may
            # be read first, and uvicorn would count the closing one against the cap.
            self.connections.discard(shed)
