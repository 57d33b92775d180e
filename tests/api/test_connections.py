"""Connections against a real `ckrv serve` on loopback, over raw sockets: a request head must
arrive in time, and a body at a minimum pace; idle connections cannot crowd out new clients,
and a CLI polling the device flow on one keep-alive connection keeps it (docs/security.md
item 33)."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import Server, wait_for


def _server(tmp_path: Path, settings: str) -> Server:
    (tmp_path / "cfg").mkdir()
    config = tmp_path / "ckrv.toml"
    config.write_text(f"[server]\n{settings}\n")
    return Server(data_dir=tmp_path / "data", config_dir=tmp_path / "cfg", config=config).start()


@pytest.fixture
def quick_heads(tmp_path: Path) -> Iterator[Server]:
    """A server giving request heads 1 s and holding at most 20 connections."""
    server = _server(tmp_path, 'header_timeout = "1s"\nmax_connections = 20')
    yield server
    assert server.stop() == 0


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (without waiting)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _request(sock: socket.socket, method: str, path: str, body: dict[str, str]) -> bytes:
    raw = json.dumps(body).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(raw)}\r\n\r\n"
    )
    sock.sendall(head.encode() + raw)
    return _response(sock)


def _response(sock: socket.socket) -> bytes:
    """One whole response read from `sock`; b"" when the server closed it instead."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_connections_that_do_not_finish_a_request_head_are_closed(quick_heads: Server) -> None:
    with _connect(quick_heads) as silent, _connect(quick_heads) as slowloris:
        slowloris.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        opened = time.monotonic()
        while not (_closed_by_server(silent) and _closed_by_server(slowloris)):
            assert time.monotonic() - opened < 8, "a connection without a request head stays open"
            if not _closed_by_server(slowloris):
                slowloris.sendall(b"X-A: b\r\n")  # a header now and then keeps nothing alive
            time.sleep(0.2)
    with _connect(quick_heads) as prompt:  # a client that sends its request at once is served
        assert _request(prompt, "GET", "/healthz", {}).startswith(b"HTTP/1.1 200")


def test_more_idle_connections_than_the_cap_do_not_shut_out_a_new_client(
    quick_heads: Server,
) -> None:
    idle = [_connect(quick_heads) for _ in range(60)]
    try:
        # The server holds at most 20: the longest-waiting ones are closed as new ones come.
        wait_for(
            lambda: sum(_closed_by_server(s) for s in idle) >= 40,
            timeout=5,
            what="the server to shed idle connections beyond its cap of 20",
        )
        with _connect(quick_heads) as newcomer:
            assert _request(newcomer, "GET", "/healthz", {}).startswith(b"HTTP/1.1 200")
    finally:
        for sock in idle:
            sock.close()


def test_when_every_connection_is_busy_a_new_request_gets_503_until_one_frees(
    quick_heads: Server,
) -> None:
    """Requests whose bodies have not all arrived are being served, so none is shed: past the
    cap a new request is answered 503 at once (not left hanging), and served once they end."""
    busy = [_connect(quick_heads) for _ in range(20)]
    try:
        for sock in busy:
            sock.sendall(
                b"POST /v1/auth/device HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
        with _connect(quick_heads) as newcomer:
            assert _request(newcomer, "GET", "/healthz", {}).startswith(b"HTTP/1.1 503")
    finally:
        for sock in busy:
            sock.close()

    def healthy() -> bool:
        with _connect(quick_heads) as later:
            return _request(later, "GET", "/healthz", {}).startswith(b"HTTP/1.1 200")

    wait_for(healthy, timeout=5, what="/healthz to answer once the busy connections closed")


@pytest.fixture
def default_server(tmp_path: Path) -> Iterator[Server]:
    server = _server(tmp_path, "")
    yield server
    assert server.stop() == 0


def test_a_cli_polling_at_the_interval_keeps_its_connection(default_server: Server) -> None:
    """The original client polls on one keep-alive connection: when the server closed idle
    connections after exactly the poll interval, its next poll met a closed connection."""
    with _connect(default_server) as conn:
        conn.settimeout(30)
        started = _request(conn, "POST", "/v1/auth/device", {"client_id": "poller"})
        grant = json.loads(started.partition(b"\r\n\r\n")[2])
        poll = {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": grant["device_code"],
            "client_id": "poller",
        }
        for _ in range(2):
            time.sleep(grant["interval"])  # what the client does between polls
            answer = _request(conn, "POST", "/v1/auth/token", poll)
            assert answer, "the server closed the connection between polls"
            assert b"authorization_pending" in answer


# --- request bodies: body_timeout, stretched by body_min_rate ---


@pytest.fixture
def quick_bodies(tmp_path: Path) -> Iterator[Server]:
    """A server giving a body 1 s plus 1 s per KiB received, holding at most 20 connections."""
    settings = 'body_timeout = "1s"\nbody_min_rate = "1K"\nmax_connections = 20'
    server = _server(tmp_path, settings)
    yield server
    assert server.stop() == 0


_DEVICE_HEAD = (
    "POST /v1/auth/device HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
)


def _readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def _json_of(response: bytes) -> dict[str, str]:
    return dict(json.loads(response.partition(b"\r\n\r\n")[2]))


def test_a_trickled_body_is_cut_off_with_408_while_others_are_served(
    quick_bodies: Server,
) -> None:
    with _connect(quick_bodies) as trickler:
        trickler.sendall(_DEVICE_HEAD.format(length=1000).encode() + b"{")
        started = time.monotonic()
        while not _readable(trickler):
            assert time.monotonic() - started < 8, "a trickled body is never cut off"
            with _connect(quick_bodies) as other:
                assert _request(other, "GET", "/healthz", {}).startswith(b"HTTP/1.1 200")
            trickler.sendall(b" ")  # JSON whitespace: 5 bytes a second earn next to nothing
            time.sleep(0.2)
        answer = _response(trickler)
        elapsed = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert _json_of(answer)["error"] == "request_timeout"
        assert "body_timeout" in _json_of(answer)["message"]
        assert elapsed >= 1, "cut off before its deadline"
        wait_for(lambda: _closed_by_server(trickler), timeout=5, what="the connection closed")

    def logged() -> bool:
        log = "".join(quick_bodies.output)
        return "request body too slow: POST /v1/auth/device" in log and (
            "POST /v1/auth/device 408" in log
        )

    wait_for(logged, timeout=5, what="the server log to record the slow body")
    assert "Traceback" not in "".join(quick_bodies.output)


def test_the_pace_of_a_body_decides_not_its_length(quick_bodies: Server) -> None:
    """A body sent in small chunks at 3 KB a second is served though it takes longer than
    body_timeout in all (each KiB earns a second), while one beside it at 10 bytes a second
    is cut off."""
    body = b'{"client_id": "slow-but-steady"' + b" " * 6000 + b"}"
    with _connect(quick_bodies) as steady, _connect(quick_bodies) as slower:
        steady.sendall(_DEVICE_HEAD.format(length=len(body)).encode())
        slower.sendall(_DEVICE_HEAD.format(length=len(body)).encode())
        started = time.monotonic()
        for at in range(0, len(body), 300):
            assert not _readable(steady), "answered before the whole body arrived"
            steady.sendall(body[at : at + 300])
            if not _readable(slower):
                slower.sendall(b" ")
            time.sleep(0.1)
        answer = _response(steady)
        assert time.monotonic() - started > 1.5
        assert _response(slower).startswith(b"HTTP/1.1 408")
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert _json_of(answer)["device_code"]


def test_stalled_bodies_end_their_requests(quick_bodies: Server) -> None:
    """Bodies that stop half-way are cut off, and their requests end with them: 30 of them,
    more than the 20 connections (and 21 requests) the server serves at once, then a new
    request is served, not answered 503 for requests still waiting on the stalled bodies."""
    for _ in range(2):
        stalled = [_connect(quick_bodies) for _ in range(15)]
        try:
            for sock in stalled:
                sock.sendall(_DEVICE_HEAD.format(length=100).encode() + b'{"client_id": ')
            for sock in stalled:
                assert _response(sock).startswith(b"HTTP/1.1 408")
        finally:
            for sock in stalled:
                sock.close()
    with _connect(quick_bodies) as later:
        assert _request(later, "GET", "/healthz", {}).startswith(b"HTTP/1.1 200")


def test_a_client_hanging_up_mid_body_is_not_logged_as_a_server_error(
    quick_bodies: Server,
) -> None:
    """Its request is logged 499 (nginx's "client closed request"), not 500 with a trace."""
    with _connect(quick_bodies) as gone:
        gone.sendall(_DEVICE_HEAD.format(length=100).encode() + b'{"client_id": ')
    wait_for(
        lambda: "POST /v1/auth/device 499" in "".join(quick_bodies.output),
        timeout=5,
        what="the access log line of the request its client left",
    )
    log = "".join(quick_bodies.output)
    assert "Traceback" not in log and "Exception in ASGI application" not in log
