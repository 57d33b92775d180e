"""The worker's reports to the server (ckrv/worker/reporter.py over ckrv/worker/http.py), against
a real HTTP/1.1 server on loopback that plays the server's worker API: reports arrive in order
over kept-alive connections, survive the server going away and coming back, a 409 stops the
worker, another 4xx is an error carrying the server's words, and https trusts SSL_CERT_FILE."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ckrv.errors import WorkerError
from ckrv.worker.http import Connection
from ckrv.worker.reporter import HttpReporter, JobGone

JOB = "0b5e7a4c-0000-4000-8000-000000000001"


@dataclass
class WorkerApi:
    """What the server received, and what it answers (`status`, `answer`)."""

    status: int = 200
    answer: bytes = b"{}"
    close_after_each: bool = False  # close the connection after answering, without saying so
    requests: list[tuple[str, str, str, bytes]] = field(default_factory=list)
    connections: list[socket.socket] = field(default_factory=list)
    answered: threading.Event = field(default_factory=threading.Event)

    def logged(self) -> list[str]:
        entries = [
            json.loads(body)["entries"]
            for _, path, _, body in self.requests
            if path.endswith("/logs")
        ]
        return [entry["message"] for batch in entries for entry in batch]


def serve(api: WorkerApi, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            assert self.headers["Authorization"] == "Bearer tok"
            if self.connection not in api.connections:
                api.connections.append(self.connection)
            kind = self.headers.get("Content-Type", "")
            api.requests.append((self.command, self.path, kind, body))
            self.send_response(api.status)
            self.send_header("Content-Length", str(len(api.answer)))
            self.end_headers()
            self.wfile.write(api.answer)
            self.wfile.flush()
            if api.close_after_each:
                self.connection.shutdown(socket.SHUT_WR)  # the FIN is out before `answered`
                self.close_connection = True
            api.answered.set()

        do_GET = do_POST = do_PUT = handle_one

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server: ThreadingHTTPServer, api: WorkerApi) -> None:
    """Stop listening and end every connection (as a server process that exits)."""
    server.shutdown()
    server.server_close()
    for conn in api.connections:
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def api() -> Iterator[tuple[WorkerApi, ThreadingHTTPServer]]:
    state = WorkerApi()
    server = serve(state)
    yield state, server
    stop(server, state)


def reporter_for(server: ThreadingHTTPServer, scheme: str = "http") -> HttpReporter:
    host, port = server.server_address[:2]
    return HttpReporter(f"{scheme}://{host}:{port}/v1/", JOB, "tok", timeout=5)


def test_reports_arrive_in_order_over_one_kept_alive_connection_per_thread(
    api: tuple[WorkerApi, ThreadingHTTPServer],
) -> None:
    state, server = api
    reporter = reporter_for(server)
    try:
        state.answer = json.dumps({"id": JOB}).encode()
        assert reporter.describe() == {"id": JOB}
        state.answer = b"{}"
        for i in range(40):
            reporter.log("agent", f"line {i}")
            if i % 10 == 0:
                reporter.event(phase=f"p{i}")
        reporter.finish({"status": "succeeded"}, b"diff --git a/x b/x\n")
    finally:
        reporter.close()
    assert state.logged() == [f"line {i}" for i in range(40)]
    sent = {
        (method, path.removeprefix(f"/v1/worker/jobs/{JOB}"), kind)
        for method, path, kind, _ in state.requests
    }
    assert ("PUT", "/diff", "text/plain") in sent
    assert ("POST", "/result", "application/json") in sent
    assert json.loads(state.requests[-1][3]) == {"status": "succeeded"}
    assert len(state.connections) <= 2  # the main thread's and the sender's, each kept alive


def test_reports_wait_for_a_server_that_goes_away_and_comes_back(
    api: tuple[WorkerApi, ThreadingHTTPServer],
) -> None:
    state, server = api
    port = server.server_address[1]
    reporter = reporter_for(server)
    try:
        reporter.log("agent", "before")
        assert reporter.drain(timeout=10)
        stop(server, state)
        reporter.log("agent", "while away")  # queued; the sender retries with backoff
        assert not reporter.drain(timeout=0.3)
        back = serve(state, port)
        try:
            assert reporter.drain(timeout=20)
            reporter.request("PUT", "/bundle", content=b"bundle")
        finally:
            stop(back, state)
    finally:
        reporter.close()
    assert state.logged() == ["before", "while away"]
    assert state.requests[-1][2:] == ("application/octet-stream", b"bundle")


def test_a_409_stops_the_worker(api: tuple[WorkerApi, ThreadingHTTPServer]) -> None:
    state, server = api
    state.status, state.answer = 409, b'{"error": "job_ended"}'
    reporter = reporter_for(server)
    try:
        with pytest.raises(JobGone, match="job_ended"):
            reporter.describe()
        reporter.log("agent", "hello")
        assert not reporter.drain(timeout=10)
        assert reporter.gone
    finally:
        reporter.close()


def test_another_4xx_is_an_error_with_the_servers_words_and_is_not_retried(
    api: tuple[WorkerApi, ThreadingHTTPServer],
) -> None:
    state, server = api
    state.status, state.answer = 413, b"the diff is over the size cap"
    reporter = reporter_for(server)
    try:
        with pytest.raises(WorkerError, match=r"\(413\): the diff is over the size cap"):
            reporter.request("PUT", "/diff", content=b"x")
    finally:
        reporter.close()
    assert len(state.requests) == 1


def test_a_kept_alive_connection_the_server_closed_is_replaced_without_an_error(
    api: tuple[WorkerApi, ThreadingHTTPServer],
) -> None:
    state, server = api
    state.close_after_each = True  # as a server whose keep-alive timeout has passed
    host, port = server.server_address[:2]
    conn = Connection(f"http://{host}:{port}", "tok", timeout=5)
    try:
        for _ in range(3):
            state.answered.clear()
            assert conn.request("GET", "/x").status_code == 200
            assert state.answered.wait(5)
    finally:
        conn.close()
    assert len(state.requests) == 3


def test_https_trusts_the_certificate_ssl_cert_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    state = WorkerApi(answer=b'{"ok": true}')
    server = serve(state)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    try:
        reporter = reporter_for(server, "https")
        try:
            monkeypatch.setenv("SSL_CERT_FILE", str(cert))
            assert reporter.describe() == {"ok": True}
        finally:
            reporter.close()
    finally:
        stop(server, state)


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
