"""Connections that cannot pile up (only `ckrv serve` imports this module: it imports uvicorn).

uvicorn closes an idle keep-alive connection, but nothing bounds a connection that never
finishes a request head: one opened and left silent, or one sending a header byte now and then
(slowloris), stays open forever, and about a thousand of them used every descriptor. This
protocol closes a connection whose request head is not complete `header_timeout` seconds after
it opened or after the request's first byte, and keeps at most `max_connections` open: past it,
the connection that has waited longest for a request head is closed to make room (uvicorn's
own `limit_concurrency` then answers 503 only when every connection is busy with a request).
It also raises the open-file limit at start, so the cap, not the descriptors, is what binds.

A request's body gets a deadline too: `body_timeout` seconds from the end of its head, plus one
second for every `body_min_rate` bytes that arrive (Apache's mod_reqtimeout rule), so a body
trickled a byte at a time or stalled mid-way is cut off while an upload of any size keeps going
at that pace. uvicorn hands body bytes to the request's task as they arrive (`on_body`) and
waits forever for the rest; past the deadline the connection is answered 408 in the API's
error shape (unless the response has started) and closed, which ends the waiting task.
Time when the server itself is not reading (flow control paused it, or the client waits for
`100 Continue`) is not held against the client."""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ckrv.errors import RequestTimeout
from ckrv.limits import human_size
from ckrv.server import serverlog
from ckrv.server.web.errors import BODY_TIMED_OUT, error_response

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


def guarded_protocol(
    header_timeout: float, max_connections: int, body_timeout: float, body_min_rate: int
) -> type[GuardedHttpProtocol]:
    """The protocol class uvicorn builds each connection from, with these bounds."""
    bounds = {
        "header_timeout": header_timeout,
        "max_connections": max_connections,
        "body_timeout": body_timeout,
        "body_min_rate": body_min_rate,
    }
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), bounds)


def timeout_answer(body_timeout: float, body_min_rate: int) -> bytes:
    """The whole 408 response, in the shape of every API error (web/errors.py renders it)."""
    rendered = error_response(
        RequestTimeout(
            f"the request body arrived too slowly: this server allows {body_timeout:g} s, plus "
            f"1 s for every {human_size(body_min_rate)} received (its body_timeout and "
            "body_min_rate settings); the connection is closed"
        )
    )
    head = b"".join(name + b": " + value + b"\r\n" for name, value in rendered.raw_headers)
    return b"HTTP/1.1 408 Request Timeout\r\n" + head + b"connection: close\r\n\r\n" + rendered.body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with request-head and body deadlines and a connection cap."""

    header_timeout = 10.0
    max_connections = 4096
    body_timeout = 30.0
    body_min_rate = 16 * 1024

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        # Loop times by which the request head, and the body being read, must be complete
        # (None: none awaited). One timer watches both: armed when none is, re-armed only
        # when it fires, so a request costs no timer of its own (creating and cancelling two
        # per request cost 6% of a small POST's CPU).
        self.head_deadline: float | None = None
        self.body_deadline: float | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.body_started = 0.0
        self.body_received = 0
        # Loop time since this connection has waited for a request head; None while a request
        # is being served. The longest waiter is the one shed when the cap is reached.
        self.waiting_since: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(cast(asyncio.Transport, transport))
        self.waiting_since = self.loop.time()
        self.head_deadline = self.waiting_since + self.header_timeout
        self._arm()
        if len(self.connections) > self.max_connections:
            self._shed_longest_waiter()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.head_deadline is None:  # a keep-alive connection's next request: its own time
            self.head_deadline = self.loop.time() + self.header_timeout
            if self.timer is None:
                self._arm()

    def on_headers_complete(self) -> None:
        self.head_deadline = None
        self.waiting_since = None
        super().on_headers_complete()
        if self.parser.should_upgrade() and self._should_upgrade():
            return  # no longer HTTP
        # Every request gets a body deadline (cheaper than looking for a length header): one
        # without a body is complete at once, and on_message_complete clears it.
        self.body_started = self.loop.time()
        self.body_received = 0
        self.body_deadline = self.body_started + self.body_timeout
        if self.timer is None:
            self._arm()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self.body_deadline is not None:
            self.body_received += len(body)
            self.body_deadline += len(body) / self.body_min_rate

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.body_deadline = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self.waiting_since = self.loop.time()  # idle: uvicorn's keep-alive timeout runs

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        super().connection_lost(exc)

    def _arm(self) -> None:
        """Start the timer (there is none) for the earliest deadline. It is never set further
        ahead than the shorter of the two timeouts, so a deadline set later (always at least
        that far off) never falls before it: nothing needs re-arming when one is set."""
        deadlines = [d for d in (self.head_deadline, self.body_deadline) if d is not None]
        if deadlines:
            period = min(self.header_timeout, self.body_timeout)
            when = min(*deadlines, self.loop.time() + period)
            self.timer = self.loop.call_at(when, self._check)

    def _check(self) -> None:
        self.timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self.head_deadline is not None and now >= self.head_deadline:
            self.transport.close()
            return
        if self.body_deadline is not None:
            if self.flow.read_paused or self.cycle.waiting_for_100_continue:
                # The server is not reading (the app has not taken what came, a pipelined
                # request waits, or the app has not asked for the body yet): the client is
                # not the slow one.
                self.body_deadline = max(self.body_deadline, now + self.body_timeout)
            if now >= self.body_deadline:
                self._body_timed_out(now)
                return
        self._arm()

    def _body_timed_out(self, now: float) -> None:
        cycle = self.cycle
        method, path = cycle.scope["method"], cycle.scope["path"]
        serverlog.event(
            serverlog.access,
            "body_timeout",
            f"request body too slow: {method} {path}, {self.body_received} bytes in "
            f"{now - self.body_started:.1f} s",
            logging.WARNING,
            method=method,
            path=path,
            received_bytes=self.body_received,
            client=self.client[0] if self.client else "unknown",
        )
        if not cycle.response_started:
            self.transport.write(timeout_answer(self.body_timeout, self.body_min_rate))
            cycle.scope.setdefault("extensions", {})[BODY_TIMED_OUT] = {}
        # The request's task, waiting for the rest of the body, gets a disconnect and ends;
        # what it answers now is dropped (the 408 is on its way).
        cycle.disconnected = True
        cycle.message_event.set()
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
