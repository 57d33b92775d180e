"""Accounts an administrator changed while the server runs (`ckrv admin` on its data dir): a
disabled user cannot sign in and every token and session of theirs is refused until enabled;
a reset password ends logins; a removed user's jobs go with them; and an API token's
`last_used_at` is recorded, at most once a minute."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ckrv.errors import Conflict
from ckrv.server import admin
from tests.support.helpers import PASSWORD, add_user_direct, app_client, device_login, wait_for

EMAIL = "ada@example.com"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(data_dir: Path) -> Iterator[Any]:
    add_user_direct(data_dir, EMAIL)
    with app_client(data_dir, max_concurrent_jobs=0) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refresh(client: Any, token: str) -> Any:
    return client.post(
        "/v1/auth/refresh", json={"grant_type": "refresh_token", "refresh_token": token}
    )


def sign_in_on_activate(client: Any, password: str = PASSWORD) -> Any:
    page = client.get("/activate")
    form = {
        "csrf_token": _CSRF.search(page.text).group(1),  # type: ignore[union-attr]
        "email": EMAIL,
        "password": password,
        "user_code": "BCDF-GHJK",
    }
    return client.post("/activate", data=form)


def test_a_disabled_user_is_refused_everywhere_until_enabled(client: Any, data_dir: Path) -> None:
    api_token = admin.create_token(data_dir, EMAIL, None)[1]
    login = device_login(client, data_dir, EMAIL)
    signed_in = sign_in_on_activate(client)
    assert "Sign out" in signed_in.text or EMAIL in signed_in.text
    assert client.get("/v1/users/me", headers=bearer(api_token)).status_code == 200

    admin.set_disabled(data_dir, EMAIL, True)  # as `ckrv admin user disable`, server running

    for token in (api_token, login["access_token"]):
        for path in ("/v1/users/me", "/v1/jobs", "/v1/credentials"):
            refused = client.get(path, headers=bearer(token))
            assert refused.status_code == 403, (path, refused.text)
            assert refused.json()["error"] == "account_disabled"
            assert "this account is disabled" in refused.json()["message"]
    denied = refresh(client, login["refresh_token"])
    assert denied.status_code == 400 and "disabled" in denied.json()["error_description"]
    again = client.get("/activate")  # the browser's session no longer counts
    assert EMAIL not in again.text and 'name="password"' in again.text
    client.cookies.clear()
    refused_page = sign_in_on_activate(client)
    assert refused_page.status_code == 403 and "This account is disabled" in refused_page.text
    assert "Email or password is wrong" in sign_in_on_activate(client, "wrong-pass-1").text

    admin.set_disabled(data_dir, EMAIL, False)

    assert client.get("/v1/users/me", headers=bearer(api_token)).status_code == 200
    assert client.get("/v1/users/me", headers=bearer(login["access_token"])).status_code == 200
    assert refresh(client, login["refresh_token"]).status_code == 200  # left unspent


def test_device_approval_from_the_shell_refuses_a_disabled_user(
    client: Any, data_dir: Path
) -> None:
    grant = client.post("/v1/auth/device", json={"client_id": "ckrv-cli"}).json()
    admin.set_disabled(data_dir, EMAIL, True)
    with pytest.raises(Exception, match="this account is disabled"):
        admin.approve_device(data_dir, grant["user_code"], EMAIL)


def _token_row(data_dir: Path, token_id: str) -> dict[str, Any]:
    return next(t for t in admin.list_tokens(data_dir, EMAIL) if t["id"] == token_id)


def test_api_token_last_used_at_is_recorded_at_most_once_a_minute(
    client: Any, data_dir: Path
) -> None:
    token_id, token = admin.create_token(data_dir, EMAIL, None)
    assert _token_row(data_dir, token_id)["last_used_at"] is None

    assert client.get("/v1/jobs", headers=bearer(token)).status_code == 200
    first = wait_for(lambda: _token_row(data_dir, token_id)["last_used_at"], what="last use")
    assert client.get("/v1/users/me", headers=bearer(token)).status_code == 200
    assert client.get("/v1/jobs", headers=bearer(token)).status_code == 200
    assert _token_row(data_dir, token_id)["last_used_at"] == first  # within the minute: no write

    with sqlite3.connect(data_dir / "ckrv.db") as conn:  # as if that use was two minutes ago
        conn.execute(
            "UPDATE api_tokens SET last_used_at = '2020-01-01T00:00:00.000Z' WHERE id = ?",
            (token_id,),
        )
    assert client.get("/v1/users/me", headers=bearer(token)).status_code == 200
    later = wait_for(
        lambda: _token_row(data_dir, token_id)["last_used_at"] > "2021", what="a new last use"
    )
    assert later


def test_a_reset_password_ends_logins_and_only_the_new_one_signs_in(
    client: Any, data_dir: Path
) -> None:
    login = device_login(client, data_dir, EMAIL)
    admin.reset_password_in(data_dir, EMAIL, "a-new-password-2")
    assert refresh(client, login["refresh_token"]).status_code == 400
    assert sign_in_on_activate(client).status_code == 401
    assert sign_in_on_activate(client, "a-new-password-2").status_code in (200, 400)
    assert "Email or password is wrong" not in sign_in_on_activate(client, "a-new-password-2").text


def test_removing_a_user_is_refused_while_a_job_is_queued_then_takes_everything(
    client: Any, data_dir: Path
) -> None:
    token = admin.create_token(data_dir, EMAIL, None)[1]
    job = client.post(
        "/v1/jobs",
        headers=bearer(token),
        json={"spec_content": "# t\n", "git_repo_url": "https://git.example/a.git"},
    ).json()
    with pytest.raises(Conflict, match="queued or running"):
        admin.remove_user_in(data_dir, EMAIL)
    assert client.post(f"/v1/jobs/{job['id']}/cancel", headers=bearer(token)).status_code == 200

    assert admin.remove_user_in(data_dir, EMAIL) == 1

    gone = client.get("/v1/users/me", headers=bearer(token))
    assert gone.status_code == 401
    assert EMAIL not in [u["email"] for u in admin.list_users(data_dir)]
    with sqlite3.connect(data_dir / "ckrv.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM job_logs").fetchone()[0] == 0
