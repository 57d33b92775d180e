"""The filtering proxy against a real HTTP server on 127.0.0.1: listed targets go through with
CONNECT and with plain HTTP, others get a 403 and one log line naming the host and port."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ckrv.contracts.network import NetworkPolicy
from ckrv.worker.egress.policy import Allowlist
from ckrv.worker.egress.proxy import EgressProxy, ProxyThread, parse_head
from tests.support.origins import hello_servers


@pytest.fixture
def origin() -> Iterator[int]:
    with hello_servers(1) as (port,):
        yield port


def _start(hosts: tuple[str, ...], lines: list[str], unix: Path | None = None) -> ProxyThread:
    policy = NetworkPolicy("allowlist", hosts, "[server] network")
    proxy = EgressProxy(Allowlist(policy), lambda message, level: lines.append(message))
    return ProxyThread(proxy, unix_path=unix).start()


def _get_via(proxy_port: int, url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{proxy_port}"})
    )
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _connect(proxy_port: int, target: str) -> tuple[bytes, socket.socket]:
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return head, sock


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_plain_http_to_a_listed_host_goes_through(origin: int) -> None:
    lines: list[str] = []
    proxy = _start((f"127.0.0.1:{origin}",), lines)
    try:
        assert _get_via(proxy.port, f"http://127.0.0.1:{origin}/x?y=1") == (
            200,
            "hello from /x?y=1",
        )
    finally:
        proxy.stop()
    assert lines == []


def test_connect_to_a_listed_host_tunnels(origin: int) -> None:
    lines: list[str] = []
    proxy = _start((f"127.0.0.1:{origin}",), lines)
    try:
        head, sock = _connect(proxy.port, f"127.0.0.1:{origin}")
        with sock:
            assert head.startswith(b"HTTP/1.1 200")
            sock.sendall(b"GET /tunnel HTTP/1.0\r\nHost: x\r\n\r\n")
            assert _read_all(sock).endswith(b"hello from /tunnel")
    finally:
        proxy.stop()


def test_other_hosts_are_refused_and_logged_with_host_and_port(origin: int) -> None:
    lines: list[str] = []
    proxy = _start(("api.example.com",), lines)
    try:
        status, body = _get_via(proxy.port, f"http://127.0.0.1:{origin}/")
        head, sock = _connect(proxy.port, "other.example.net:443")
        sock.close()
    finally:
        proxy.stop()
    assert status == 403 and f"127.0.0.1:{origin}" in body
    assert head.startswith(b"HTTP/1.1 403")
    assert len(lines) == 2
    assert lines[0].startswith(f"network: denied 127.0.0.1:{origin} (an IP address")
    assert lines[1].startswith("network: denied other.example.net:443 (not in the allowlist")
    assert "allowed_hosts" in lines[1]


def test_a_listed_name_that_resolves_to_loopback_is_refused(origin: int) -> None:
    lines: list[str] = []
    proxy = _start((f"localhost:{origin}",), lines)
    try:
        status, _body = _get_via(proxy.port, f"http://localhost:{origin}/")
    finally:
        proxy.stop()
    assert status == 403
    assert "loopback" in lines[0] and f"localhost:{origin}" in lines[0]


def _bridge(bridge: Path, socket_path: Path) -> list[str]:
    return [sys.executable, "-I", "-S", str(bridge), "--socket", str(socket_path), "--"]


def test_the_bridge_points_a_command_at_the_proxy_socket(origin: int, tmp_path: Path) -> None:
    """The bridge (as run inside the namespace) sets the proxy variables for its command and
    carries its connections to the proxy's unix socket."""
    lines: list[str] = []
    socket_path = tmp_path / "proxy.sock"
    proxy = _start((f"127.0.0.1:{origin}",), lines, unix=socket_path)
    bridge = Path(__file__).parents[2] / "ckrv" / "worker" / "egress" / "bridge.py"
    fetch = (
        "import os, urllib.request, sys\n"
        "print(os.environ['HTTPS_PROXY'] == os.environ['http_proxy'], os.environ['NO_PROXY'])\n"
        f"print(urllib.request.urlopen('http://127.0.0.1:{origin}/b', timeout=10).read().decode())\n"
        "try:\n"
        f"    urllib.request.urlopen('http://127.0.0.1:{origin + 1}/', timeout=10)\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code)\n"
        "sys.exit(3)\n"
    )
    try:
        done = subprocess.run(
            [*_bridge(bridge, socket_path), sys.executable, "-c", fetch],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        proxy.stop()
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == ["True localhost", "hello from /b", "403"]
    assert lines == [
        f"network: denied 127.0.0.1:{origin + 1} (an IP address, and not listed as one; add "
        f"'127.0.0.1:{origin + 1}' to `allowed_hosts` in [server] or the agent's [agents.NAME] "
        'table or the job\'s options (--allow-host), or set network = "open")'
    ]


def test_a_plain_request_goes_upstream_with_the_checked_host_and_no_proxy_headers() -> None:
    target = parse_head(
        b"GET http://api.example.com:8080/v1?q=1 HTTP/1.1\r\nHost: evil.example\r\n"
        b"Proxy-Authorization: Basic x\r\nProxy-Connection: keep-alive\r\nAccept: */*"
    )
    assert (target.host, target.port) == ("api.example.com", 8080)
    assert target.head == (
        b"GET /v1?q=1 HTTP/1.1\r\nHost: api.example.com:8080\r\nAccept: */*\r\n"
        b"Connection: close\r\n\r\n"
    )
    assert parse_head(b"CONNECT [::1]:443 HTTP/1.1\r\nHost: x").host == "::1"
