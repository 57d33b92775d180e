"""A real smart-HTTP git server for tests: `git http-backend` (CGI) behind a small threaded
Python HTTP server on a loopback port that requires basic auth.

    with GitHttpServer(root, username="x-access-token", password=token) as srv:
        url = srv.url("origin.git")   # http://127.0.0.1:PORT/origin.git

It records every request (path, the username tried, whether the password matched), and can hold
requests at a gate so a test can look at the machine while a clone is in flight. With
`redirect_to` (a URL prefix) it answers every request with a 302 there instead.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


@dataclass
class Attempt:
    path: str
    username: str | None
    authorized: bool


@dataclass
class GitHttpServer:
    root: Path
    username: str
    password: str
    attempts: list[Attempt] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    waiting: threading.Event = field(default_factory=threading.Event)
    redirect_to: str | None = None
    _httpd: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self.gate.set()  # open: requests pass straight through

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, repo: str) -> str:
        return f"http://{self.host}/{repo}"

    def start(self) -> GitHttpServer:
        server = self

        class Handler(_Handler):
            git = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.gate.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> GitHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check(self, header: str | None) -> tuple[str | None, bool]:
        if not header or not header.lower().startswith("basic "):
            return None, False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, False
        return user, (user, password) == (self.username, self.password)


class _Handler(BaseHTTPRequestHandler):
    git: GitHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        git = self.git
        if git.redirect_to is not None:
            self.send_response(302)
            self.send_header("Location", git.redirect_to.rstrip("/") + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        user, ok = git.check(self.headers.get("Authorization"))
        parts = urlsplit(self.path)
        git.attempts.append(Attempt(parts.path, user, ok))
        body = self._read_body()
        if not ok:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="ckrv test git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not git.gate.is_set():
            git.waiting.set()
            git.gate.wait()
        self._cgi(parts.path, parts.query, user or "", body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _cgi(self, path: str, query: str, user: str, body: bytes) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.git.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(self.git.root),
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        result = subprocess.run(
            [HTTP_BACKEND], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
