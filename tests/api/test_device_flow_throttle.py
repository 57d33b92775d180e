"""The device flow's guessing limits against a real `ckrv serve` on loopback, where uvicorn would
believe an X-Forwarded-For header from 127.0.0.1 if let (docs/security.md item 2, GHSA-c55g-q6f4-5qxr)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import PASSWORD, Server

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "cfg").mkdir()
    server = Server(data_dir=tmp_path / "data", config_dir=tmp_path / "cfg").start()
    for n in range(6):
        server.admin("user", "add", f"u{n}@example.com", "--password-stdin", input=PASSWORD)
    yield server
    assert server.stop() == 0


def test_forged_forwarded_for_is_not_the_client_address(srv: Server) -> None:
    with httpx.Client(base_url=srv.api_url) as http:
        http.post(
            "/auth/device", json={"client_id": "t"}, headers={"X-Forwarded-For": "203.0.113.9"}
        )
    with sqlite3.connect(srv.data_dir / "ckrv.db") as conn:
        (address,) = conn.execute("SELECT client_addr FROM device_codes").fetchone()
    assert address == "127.0.0.1"  # what the approval page shows is the real peer


def test_sixth_wrong_code_refused_whatever_the_guesser_varies(srv: Server) -> None:
    """Each try from a fresh browser (no cookies), another account and another forged address:
    only the real peer address is left to count on, and it must be enough."""
    statuses = []
    for attempt in range(6):
        with httpx.Client(base_url=srv.url) as browser:
            forged = {"X-Forwarded-For": f"198.51.100.{attempt + 1}"}
            page = browser.get("/activate", headers=forged)
            match = _CSRF.search(page.text)
            assert match, page.text
            form = {
                "csrf_token": match.group(1),
                "email": f"u{attempt}@example.com",
                "password": PASSWORD,
                "user_code": "ZZZZ-ZZZZ",
            }
            statuses.append(browser.post("/activate", data=form, headers=forged).status_code)
    assert statuses == [400] * 5 + [429]


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[Server]:
    """A server told that 127.0.0.1 is its reverse proxy (`trusted_proxies`)."""
    (tmp_path / "cfg").mkdir()
    config = tmp_path / "ckrv.toml"
    config.write_text('[server]\ntrusted_proxies = ["127.0.0.1"]\n')
    server = Server(data_dir=tmp_path / "data", config_dir=tmp_path / "cfg", config=config)
    server.start()
    for n in range(6):
        server.admin("user", "add", f"u{n}@example.com", "--password-stdin", input=PASSWORD)
    yield server
    assert server.stop() == 0


def _wrong_code(base_url: str, email: str, forwarded_for: str) -> int:
    with httpx.Client(base_url=base_url) as browser:
        headers = {"X-Forwarded-For": forwarded_for}
        page = browser.get("/activate", headers=headers)
        match = _CSRF.search(page.text)
        assert match, page.text
        form = {
            "csrf_token": match.group(1),
            "email": email,
            "password": PASSWORD,
            "user_code": "ZZZZ-ZZZZ",
        }
        return browser.post("/activate", data=form, headers=headers).status_code


def test_behind_a_trusted_proxy_each_client_is_counted_by_its_forwarded_address(
    behind_proxy: Server,
) -> None:
    with httpx.Client(base_url=behind_proxy.api_url) as http:
        http.post(
            "/auth/device", json={"client_id": "t"}, headers={"X-Forwarded-For": "203.0.113.9"}
        )
    with sqlite3.connect(behind_proxy.data_dir / "ckrv.db") as conn:
        (address,) = conn.execute("SELECT client_addr FROM device_codes").fetchone()
    assert address == "203.0.113.9"  # the client the proxy saw, not the proxy
    # Five wrong codes from one client behind the proxy use up that client's tries only...
    guesser = [_wrong_code(behind_proxy.url, f"u{n}@example.com", "198.51.100.7") for n in range(5)]
    assert guesser == [400] * 5
    assert _wrong_code(behind_proxy.url, "u5@example.com", "198.51.100.7") == 429
    # ...while another client, through the same proxy, still gets its own.
    assert _wrong_code(behind_proxy.url, "u5@example.com", "198.51.100.8") == 400


def _sign_in(base_url: str, email: str, password: str, forwarded_for: str) -> int:
    with httpx.Client(base_url=base_url) as browser:
        headers = {"X-Forwarded-For": forwarded_for}
        page = browser.get("/activate", headers=headers)
        match = _CSRF.search(page.text)
        assert match, page.text
        form = {"csrf_token": match.group(1), "email": email, "password": password}
        form["user_code"] = "ZZZZ-ZZZZ"  # a wrong code: 400 means the password was right
        return browser.post("/activate", data=form, headers=headers).status_code


def test_wrong_passwords_lock_out_the_guessers_address_not_the_owner(
    behind_proxy: Server,
) -> None:
    attacker, owner = "198.51.100.66", "203.0.113.5"
    tries = [_sign_in(behind_proxy.url, "u0@example.com", "wrong", attacker) for _ in range(6)]
    assert tries == [401] * 5 + [429]
    # The owner, from an address without failures, signs in with the right password...
    assert _sign_in(behind_proxy.url, "u0@example.com", PASSWORD, owner) == 400
    # ...while the guesser's address stays locked, right password or not.
    assert _sign_in(behind_proxy.url, "u0@example.com", PASSWORD, attacker) == 429
