"""The access log: one `request` record per HTTP request once its response has ended (method,
path, status, duration, client address), and a `throttled` warning for every 429.

The path is logged without its query string (a `?user_code=` or `?cursor=` is nobody's
business in a log); no header, cookie or body is read. A streamed response (a log followed
live) is logged when it ends, its duration being the stream's. A pure ASGI middleware: it sees
the response start without buffering anything."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ckrv.server import serverlog


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        serverlog.CLIENT.set(client[0] if client else "unknown")  # this request's task only
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before it answers

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            _log(scope, status, (time.perf_counter() - started) * 1000)


def _log(scope: Scope, status: int, duration_ms: float) -> None:
    level = logging.ERROR if status >= 500 else logging.INFO
    method, path = scope["method"], scope["path"]
    if serverlog.access.isEnabledFor(level):  # off in in-process tests: no message to build
        serverlog.event(
            serverlog.access,
            "request",
            f"{method} {path} {status} {duration_ms:.1f} ms",
            level,
            method=method,
            path=path,
            status=status,
            duration_ms=round(duration_ms, 1),
        )
    if status == 429:
        serverlog.event(
            serverlog.access,
            "throttled",
            f"throttled {method} {path}",
            logging.WARNING,
            method=method,
            path=path,
        )
