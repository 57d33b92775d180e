"""The device flow's guessing limits against a real `ckrv serve` on loopback, where uvicorn would
believe an X-Forwarded-For header from 127.0.0.1 if let (SECURITY.md 2, GHSA-c55g-q6f4-5qxr)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import PASSWORD, Server

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
