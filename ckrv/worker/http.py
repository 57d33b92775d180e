"""The worker's HTTP to the server: the standard library's http.client, one keep-alive connection
per calling thread (the reporter's sender and the main thread each have theirs). httpx costs the
worker more to import than the rest of it together, and a TLS context only when the server's URL
is https (the system's trust store; SSL_CERT_FILE / SSL_CERT_DIR as OpenSSL reads them).

Every failure to reach the server leaves this module as `Unreachable`; the caller decides what a
status means."""

from __future__ import annotations

import http.client
import json as jsonlib
import select
import threading
from typing import Any
from urllib.parse import urlsplit


class Unreachable(Exception):
    """No answer from the server: refused, reset, timed out, or not HTTP."""


class Response:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code, self.content = status, body

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class Connection:
    """Requests to one server under one base path, with one bearer token."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        url = urlsplit(base_url.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._https = url.scheme == "https"
        self._host, self._port = url.hostname, url.port
        self._base = url.path
        self._timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
        self._tls: Any = None  # an ssl.SSLContext, made on the first https request
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        content_type: str = "application/octet-stream",
    ) -> Response:
        headers = dict(self._headers)
        body = content
        if json is not None:
            body, content_type = jsonlib.dumps(json).encode(), "application/json"
        if body is not None:
            headers["Content-Type"] = content_type
        conn = self._connection()
        try:
            conn.request(method, self._base + path, body=body, headers=headers)
            answer = conn.getresponse()
            response = Response(answer.status, answer.read())
        except (OSError, http.client.HTTPException) as exc:  # ssl.SSLError is an OSError
            self._drop(conn)
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        if answer.will_close:
            self._drop(conn)
        return response

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None and _closed_by_peer(conn):
            self._drop(conn)  # the server closed it while idle: a request on it would fail
            conn = None
        if conn is None:
            conn = self._new_connection()
            self._local.conn = conn
            with self._lock:
                self._open.add(conn)
        return conn

    def _new_connection(self) -> http.client.HTTPConnection:
        if not self._https:
            return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        with self._lock:
            if self._tls is None:
                import ssl  # only for https: building a context costs tens of milliseconds

                self._tls = ssl.create_default_context()
        return http.client.HTTPSConnection(
            self._host, self._port, timeout=self._timeout, context=self._tls
        )

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock:
            self._open.discard(conn)

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            conns, self._open = self._open, set()
        for conn in conns:
            conn.close()


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that is readable has been closed (or spoken on) by the server."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
