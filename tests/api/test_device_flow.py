"""The device authorization grant (RFC 8628) and its activation page, in-process: the API's
error codes, the polling rules, user-code matching, throttling and CSRF (docs/security.md items 1-6)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ckrv.server.identity.device_flow import USER_CODE_ALPHABET, new_user_code, normalize_user_code
from tests.support.clock import FakeClock
from tests.support.helpers import DEVICE_GRANT, PASSWORD, add_user_direct, app_client, wait_for

EMAIL = "ada@example.com"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(data_dir: Path, clock: FakeClock) -> Iterator[Any]:
    with app_client(data_dir, clock, device_poll_interval=1) as test_client:
        add_user_direct(data_dir, EMAIL)
        yield test_client


def start(client: Any, client_id: str = "ckrv-cli") -> dict[str, Any]:
    response = client.post("/v1/auth/device", json={"client_id": client_id})
    assert response.status_code == 200, response.text
    return dict(response.json())


def poll(client: Any, grant: dict[str, Any], client_id: str = "ckrv-cli") -> httpx.Response:
    return client.post(  # type: ignore[no-any-return]
        "/v1/auth/token",
        json={
            "grant_type": DEVICE_GRANT,
            "device_code": grant["device_code"],
            "client_id": client_id,
        },
    )


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: Any, code: str, password: str = PASSWORD, **headers: str) -> httpx.Response:
    """Open the activation page and submit email, password and code (one form, as a browser)."""
    page = client.get("/activate")
    form = {
        "csrf_token": csrf_of(page.text),
        "email": EMAIL,
        "password": password,
        "user_code": code,
    }
    return client.post("/activate", data=form, headers=headers)  # type: ignore[no-any-return]


def submit_code(client: Any, code: str, **headers: str) -> httpx.Response:
    """Submit a code as an already signed-in browser."""
    page = client.get("/activate")
    form = {"csrf_token": csrf_of(page.text), "user_code": code}
    return client.post("/activate", data=form, headers=headers)  # type: ignore[no-any-return]


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"the page has no {name} field"
    return match.group(1)


def decide(client: Any, confirm_page: httpx.Response, decision: str) -> httpx.Response:
    form = {
        "csrf_token": csrf_of(confirm_page.text),
        "user_code": hidden(confirm_page.text, "user_code"),
        "confirmation": hidden(confirm_page.text, "confirmation"),
        "decision": decision,
    }
    return client.post("/activate/decide", data=form)  # type: ignore[no-any-return]


def status_of(data_dir: Path, user_code: str) -> str:
    with sqlite3.connect(data_dir / "ckrv.db") as conn:
        row = conn.execute("SELECT status FROM device_codes WHERE user_code = ?", (user_code,))
        return str(row.fetchone()[0])


def test_device_start_returns_rfc8628_fields(client: Any) -> None:
    grant = start(client)
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", grant["user_code"])
    assert set(grant["user_code"].replace("-", "")) <= set(USER_CODE_ALPHABET)
    assert grant["verification_uri"] == "http://127.0.0.1:8420/activate"
    assert grant["verification_uri_complete"] == (
        f"http://127.0.0.1:8420/activate?user_code={grant['user_code']}"
    )
    assert grant["interval"] == 1 and grant["expires_in"] == 900
    assert len(grant["device_code"]) >= 43  # at least 256 bits, url-safe base64


def test_user_codes_use_the_consonant_alphabet() -> None:
    codes = {new_user_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", code)


@pytest.mark.parametrize("typed", ["wdjb mjht", "WDJBMJHT", "wdjb-mjht", " W D J B - M J H T "])
def test_user_code_matching_ignores_case_dashes_and_spaces(typed: str) -> None:
    assert normalize_user_code(typed) == "WDJB-MJHT"


def test_activation_page_accepts_code_typed_loosely(client: Any, data_dir: Path) -> None:
    grant = start(client)
    with sqlite3.connect(data_dir / "ckrv.db") as conn:
        conn.execute("UPDATE device_codes SET user_code = 'WDJB-MJHT'")
    confirm = sign_in(client, "wdjb mjht")
    assert confirm.status_code == 200
    assert "Approve this device?" in confirm.text and "WDJB-MJHT" in confirm.text
    assert decide(client, confirm, "approve").status_code == 200
    assert poll(client, grant).status_code == 200


def test_pending_then_slow_down_raises_the_interval(
    client: Any, data_dir: Path, clock: FakeClock
) -> None:
    grant = start(client)
    first = poll(client, grant)
    assert first.status_code == 400
    assert first.json()["error"] == "authorization_pending"
    assert first.json()["error_description"]
    too_fast = poll(client, grant)
    assert too_fast.status_code == 400 and too_fast.json()["error"] == "slow_down"
    with sqlite3.connect(data_dir / "ckrv.db") as conn:
        interval = conn.execute("SELECT interval FROM device_codes").fetchone()[0]
    assert interval == 1 + 5
    clock.advance(1.2)  # past the original 1 s interval but inside the raised one: too fast
    assert poll(client, grant).json()["error"] == "slow_down"


def test_full_flow_through_the_page_then_code_is_single_use(client: Any, data_dir: Path) -> None:
    grant = start(client)
    confirm = sign_in(client, grant["user_code"])
    assert confirm.status_code == 200
    for shown in ("ckrv-cli", "testclient", grant["user_code"], "Requested"):
        assert shown in confirm.text
    done = decide(client, confirm, "approve")
    assert done.status_code == 200 and "Device approved" in done.text
    tokens = poll(client, grant)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer" and body["refresh_token"].startswith("ckrv_rt_")
    assert tokens.headers["cache-control"] == "no-store"
    me = client.get("/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["email"] == EMAIL

    again = poll(client, grant)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    # Only hashes are stored: neither the device code nor the tokens appear in the database.
    raw = b"".join(p.read_bytes() for p in data_dir.glob("ckrv.db*"))
    assert grant["device_code"].encode() not in raw
    assert body["refresh_token"].encode() not in raw
    assert body["access_token"].encode() not in raw


def test_deny_gives_access_denied(client: Any) -> None:
    grant = start(client)
    confirm = sign_in(client, grant["user_code"])
    done = decide(client, confirm, "deny")
    assert "Request denied" in done.text
    response = poll(client, grant)
    assert response.status_code == 400 and response.json()["error"] == "access_denied"


def test_expired_code_gives_expired_token_and_the_page_rejects_it(data_dir: Path) -> None:
    with app_client(data_dir, device_code_ttl=1, device_poll_interval=1) as client:
        add_user_direct(data_dir, EMAIL)
        grant = start(client)
        wait_for(
            lambda: poll(client, grant).json()["error"] == "expired_token",
            timeout=10,
            interval=0.3,
            what="the code to expire",
        )
        page = sign_in(client, grant["user_code"])
        assert page.status_code == 400 and "not valid or has expired" in page.text
        assert status_of(data_dir, grant["user_code"]) == "pending"


def test_device_code_bound_to_its_client_id(client: Any) -> None:
    grant = start(client, "ckrv-cli")
    response = poll(client, grant, client_id="someone-else")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_get_with_user_code_only_prefills(client: Any, data_dir: Path) -> None:
    grant = start(client)
    sign_in(client, "BBBB-BBBB")  # signs in (wrong code): the browser now has a session
    for code in (grant["user_code"], grant["user_code"].lower()):
        page = client.get("/activate", params={"user_code": code})
        assert page.status_code == 200
        assert f'value="{grant["user_code"]}"' in page.text
        assert "Approve this device?" not in page.text
    assert status_of(data_dir, grant["user_code"]) == "pending"
    assert poll(client, grant).json()["error"] == "authorization_pending"


def test_post_without_csrf_token_is_refused(client: Any, data_dir: Path) -> None:
    grant = start(client)
    client.get("/activate")  # the browser has the CSRF cookie, the attacker's form lacks the field
    form = {"email": EMAIL, "password": PASSWORD, "user_code": grant["user_code"]}
    assert client.post("/activate", data=form).status_code == 403
    assert client.post("/activate", data={**form, "csrf_token": "forged"}).status_code == 403

    confirm = sign_in(client, grant["user_code"])
    no_token = {"user_code": grant["user_code"], "decision": "approve"}
    refused = client.post("/activate/decide", data=no_token)
    assert refused.status_code == 403 and "Request refused" in refused.text
    forged = client.post("/activate/decide", data={**no_token, "csrf_token": "x" * 32})
    assert forged.status_code == 403
    assert status_of(data_dir, grant["user_code"]) == "pending"
    assert decide(client, confirm, "approve").status_code == 200
    assert status_of(data_dir, grant["user_code"]) == "approved"


def test_decide_without_session_redirects_to_sign_in(client: Any, data_dir: Path) -> None:
    grant = start(client)
    form = {"user_code": grant["user_code"], "decision": "approve", "csrf_token": "x"}
    response = client.post("/activate/decide", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/activate"
    assert status_of(data_dir, grant["user_code"]) == "pending"


def test_decide_accepts_only_a_code_this_browser_confirmed(client: Any, data_dir: Path) -> None:
    """A signed-in attacker cannot approve a victim's code by posting it straight to the
    decision form, nor with the proof of a code the attacker did confirm."""
    own = start(client, "attacker-cli")
    own_confirm = sign_in(client, own["user_code"])
    victim = start(client, "victim-cli")
    guessed = {
        "csrf_token": csrf_of(own_confirm.text),
        "user_code": victim["user_code"],
        "decision": "approve",
    }
    for proof in ("", hidden(own_confirm.text, "confirmation")):
        refused = client.post("/activate/decide", data={**guessed, "confirmation": proof})
        assert refused.status_code == 403 and "has not confirmed that code" in refused.text
    assert status_of(data_dir, victim["user_code"]) == "pending"
    assert poll(client, victim, "victim-cli").json()["error"] == "authorization_pending"
    # Another browser of the same user cannot reuse this one's proof either.
    stolen = {**guessed, "user_code": own["user_code"]}
    stolen["confirmation"] = hidden(own_confirm.text, "confirmation")
    client.cookies.clear()
    other_confirm = sign_in(client, victim["user_code"])
    stolen["csrf_token"] = csrf_of(other_confirm.text)
    assert client.post("/activate/decide", data=stolen).status_code == 403
    assert status_of(data_dir, own["user_code"]) == "pending"
    assert decide(client, other_confirm, "deny").status_code == 200


def test_a_flood_of_decisions_is_throttled(client: Any, data_dir: Path) -> None:
    grant = start(client)
    confirm = sign_in(client, grant["user_code"])
    statuses = []
    for guess in ("BBBB-BBBB", "BBBB-BBBC", "BBBB-BBBD", "BBBB-BBBF", "BBBB-BBBG", "BBBB-BBBH"):
        form = {"csrf_token": csrf_of(confirm.text), "user_code": guess, "decision": "approve"}
        statuses.append(client.post("/activate/decide", data=form).status_code)
    assert statuses == [403] * 5 + [429]
    # Blocked means blocked: even the confirmed code waits until the window passes.
    blocked = decide(client, confirm, "approve")
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert status_of(data_dir, grant["user_code"]) == "pending"


def test_starting_device_logins_is_limited_per_address(data_dir: Path) -> None:
    with app_client(data_dir, device_starts_per_minute=3) as client:
        for _ in range(3):
            start(client)
        refused = client.post("/v1/auth/device", json={"client_id": "ckrv-cli"})
        assert refused.status_code == 429
        assert refused.json()["error"] == "rate_limited"
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert refused.json()["retry_after"] == int(refused.headers["retry-after"])
    with sqlite3.connect(data_dir / "ckrv.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM device_codes").fetchone()[0] == 3


@pytest.mark.parametrize("forge", [False, True], ids=["plain", "forged-x-forwarded-for"])
def test_sixth_wrong_code_is_refused(client: Any, forge: bool) -> None:
    grant = start(client)
    first = sign_in(client, "BBBB-BBBB")  # right password, wrong code
    assert first.status_code == 400 and "not valid" in first.text
    for attempt in range(2, 6):
        headers = {"X-Forwarded-For": f"203.0.113.{attempt}"} if forge else {}
        assert submit_code(client, f"BBBB-BBB{'CDFGH'[attempt - 2]}", **headers).status_code == 400
    headers = {"X-Forwarded-For": "198.51.100.77"} if forge else {}
    sixth = submit_code(client, "BBBB-CCCC", **headers)
    assert sixth.status_code == 429 and "Too many failed attempts" in sixth.text
    # Blocked means blocked: even the right code is refused until the window passes.
    assert submit_code(client, grant["user_code"], **headers).status_code == 429


def test_wrong_codes_from_fresh_browsers_are_counted_per_address(data_dir: Path) -> None:
    """A guesser who drops cookies between tries is still counted by address."""
    with app_client(data_dir) as client:
        add_user_direct(data_dir, EMAIL)
        add_user_direct(data_dir, "other@example.com")
        statuses = []
        for attempt in range(6):
            client.cookies.clear()
            email = EMAIL if attempt % 2 else "other@example.com"
            page = client.get("/activate")
            form = {"csrf_token": csrf_of(page.text), "email": email, "password": PASSWORD}
            form["user_code"] = "ZZZZ-ZZZZ"
            statuses.append(client.post("/activate", data=form).status_code)
        assert statuses == [400] * 5 + [429]


def test_wrong_passwords_are_throttled(client: Any) -> None:
    grant = start(client)
    for _ in range(5):
        response = sign_in(client, grant["user_code"], password="wrong-password")
        assert response.status_code == 401 and "Email or password is wrong" in response.text
    blocked = sign_in(client, grant["user_code"])  # the right password, too late
    assert blocked.status_code == 429
    assert poll(client, grant).json()["error"] == "authorization_pending"


def test_activation_page_is_plain_html_with_strict_headers(client: Any) -> None:
    page = client.get("/activate", params={"user_code": "<script>alert(1)</script>"})
    assert page.status_code == 200
    assert "<script" not in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert '<meta name="viewport"' in page.text
    assert "http://" not in page.text.replace("http://127.0.0.1:8420", "")  # no external assets
