"""A wrong server URL or a refused CKRV_TOKEN is diagnosed, not reported as "not logged in" or a
bare "Not Found": nothing listening (exit 6), a ckrv server addressed without its `/v1` (what to
use instead), and a token the server refuses (which token, and why)."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.helpers import Server
from tests.support.inprocess import InProcessCli


def ckrv(tmp_path: Path, api_url: str, token: str | None = None) -> InProcessCli:
    return InProcessCli(config_dir=tmp_path / "config", api_url=api_url, token=token)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nothing_listening_says_unreachable_even_without_a_login(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = ckrv(tmp_path, url).run("jobs")
    assert result.returncode == 6, result.stderr
    assert f"cannot reach the ckrv server at {url}" in result.stderr
    assert "not logged in" not in result.stderr


def test_a_url_without_v1_says_what_to_use(live: Server, tmp_path: Path) -> None:
    token = live.add_user("nov1@example.com")
    for with_token in (token, None):  # with CKRV_TOKEN, and with no login at all
        result = ckrv(tmp_path, live.url, with_token).run("jobs")
        assert result.returncode == 2, result.stderr
        assert f"use --api-url {live.url}/v1" in result.stderr
        assert "Not Found" not in result.stderr and "not logged in" not in result.stderr


def test_login_to_a_url_without_v1_says_what_to_use(live: Server, tmp_path: Path) -> None:
    result = ckrv(tmp_path, live.url + "/").run("cloud", "login", "--no-browser")
    assert result.returncode == 2, result.stderr
    assert f"use --api-url {live.url}/v1" in result.stderr


def test_a_revoked_ckrv_token_is_named_as_refused(live: Server, tmp_path: Path) -> None:
    import json

    api_token = live.add_user("revoked@example.com")
    listed = json.loads(live.admin("token", "list", "--email", "revoked@example.com", "--json"))
    live.admin("token", "revoke", listed[0]["id"])
    result = ckrv(tmp_path, live.api_url, api_token).run("jobs")
    assert result.returncode == 3
    assert (
        "the token in CKRV_TOKEN was refused by the server: unknown or revoked API token"
        in result.stderr
    )
    assert "not logged in" not in result.stderr


def test_a_malformed_ckrv_token_is_named_as_refused(live: Server, tmp_path: Path) -> None:
    result = ckrv(tmp_path, live.api_url, "not-a-token").run("jobs")
    assert result.returncode == 3
    assert "the token in CKRV_TOKEN was refused by the server: the token is malformed" in (
        result.stderr
    )
    assert "Not enough segments" not in result.stderr
    assert "not logged in" not in result.stderr


def test_a_url_where_something_else_answers_says_it_is_not_ckrv(tmp_path: Path) -> None:
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    (tmp_path / "site").mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "site"))
    other = ThreadingHTTPServer(("127.0.0.1", 0), handler)  # any web server: 404 for /v1/jobs
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{other.server_address[1]}/v1"
        for token in ("ckrv_pat_x", None):
            result = ckrv(tmp_path, url, token).run("jobs")
            assert result.returncode == 2, result.stderr
            assert f"{url} answers, but not as a ckrv server's API" in result.stderr
            assert "not logged in" not in result.stderr and "Not Found" not in result.stderr
    finally:
        other.shutdown()
        other.server_close()
        thread.join()
