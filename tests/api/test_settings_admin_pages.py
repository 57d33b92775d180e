"""/settings, /account and /admin in-process, as two users and an administrator: every form
needs the session's CSRF token (403 without), another user's credential, secret, token or
session is a 404 and stays untouched, /admin is a 404 for anyone but an administrator, and
the pages call the same rules as the API (a bad credential gets the API's message)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ckrv.server import admin
from tests.support.helpers import PASSWORD, add_user_direct, app_client

ADA, BOB, ROOT = "ada@example.com", "bob@example.com", "root@example.com"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
GH_TOKEN = "ghp_" + "a" * 36


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    for email in (ADA, BOB):
        add_user_direct(path, email)
    admin.add_user(path, ROOT, "Root", "free", PASSWORD, admin=True)
    return path


@pytest.fixture
def app(data_dir: Path) -> Iterator[Any]:
    with app_client(data_dir, max_concurrent_jobs=0) as client:
        yield client


class Browser:
    """A signed-in browser on the in-process app: its own cookies (swapped into the app's one
    client around each request: a second client would run on a second event loop), and the
    forms' CSRF token."""

    def __init__(self, app: Any, email: str) -> None:
        self.app, self.jar = app, httpx.Cookies()
        form = self.get("/signin")
        token = _CSRF.search(form.text).group(1)  # type: ignore[union-attr]
        fields = {"csrf_token": token, "email": email, "password": PASSWORD, "next": "/"}
        signed = self.request("POST", "/signin", data=fields)
        assert signed.status_code == 303, signed.text
        self.csrf = _CSRF.search(self.get("/settings").text).group(1)  # type: ignore[union-attr]

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.app.cookies = self.jar
        try:
            return self.app.request(method, path, follow_redirects=False, **kwargs)
        finally:
            self.jar = httpx.Cookies(self.app.cookies)
            self.app.cookies = httpx.Cookies()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, csrf: bool = True, **fields: str) -> Any:
        data = {"csrf_token": self.csrf, **fields} if csrf else fields
        return self.request("POST", path, data=data)


def test_credentials_secrets_and_tokens_are_the_owners_alone(app: Any, data_dir: Path) -> None:
    ada, bob = Browser(app, ADA), Browser(app, BOB)
    added = ada.post(
        "/settings/credentials", name="gh", provider="github", credential_type="pat", value=GH_TOKEN
    )
    assert added.status_code == 200 and "Credential gh added" in added.text, added.text[-800:]
    assert GH_TOKEN not in added.text and GH_TOKEN not in ada.get("/settings").text
    bad = ada.post(
        "/settings/credentials",
        name="Bad Name",
        provider="github",
        credential_type="pat",
        value=GH_TOKEN,
    )
    assert bad.status_code == 400 and "must be 1-50 of a-z" in bad.text  # the API's message
    assert ada.post("/settings/secrets", name="API_KEY", value="s3cret-value-1").status_code == 200
    created = ada.post("/settings/tokens", expires="30d")
    token = re.search(r'value="(ckrv_pat_[^"]+)"', created.text).group(1)  # type: ignore[union-attr]
    token_id = next(t["id"] for t in admin.list_tokens(data_dir, ADA))
    assert token not in ada.get("/settings").text  # shown once

    # Bob: every one of Ada's things is a 404, and stays
    assert bob.post("/settings/credentials/gh/remove").status_code == 404
    assert bob.post("/settings/secrets/API_KEY/remove").status_code == 404
    assert bob.post(f"/settings/tokens/{token_id}/revoke").status_code == 404
    ada_session = re.search(
        r"<code>([0-9a-f]{16})</code> \(this browser\)", ada.get("/settings").text
    ).group(1)  # type: ignore[union-attr]
    assert bob.post(f"/settings/sessions/{ada_session}/end").status_code == 404
    page = ada.get("/settings").text
    assert ">gh<" in page and ">API_KEY<" in page and token_id in page
    assert app.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    # Without the CSRF token: 403, nothing done
    assert ada.post(f"/settings/tokens/{token_id}/revoke", csrf=False).status_code == 403
    assert ada.post("/settings/credentials/gh/remove", csrf=False).status_code == 403
    assert bob.post("/settings/tokens", csrf=False, expires="30d").status_code == 403

    revoked = ada.post(f"/settings/tokens/{token_id}/revoke")
    assert revoked.status_code == 200 and "revoked" in revoked.text
    assert app.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert ada.post("/settings/credentials/gh/remove").status_code == 200
    assert ada.post("/settings/secrets/API_KEY/remove").status_code == 200
    assert ">gh<" not in ada.get("/settings").text


def test_ending_a_session_signs_that_browser_out(app: Any) -> None:
    laptop, phone = Browser(app, ADA), Browser(app, ADA)
    page = phone.get("/settings").text
    laptop_id = [s for s in re.findall(r"<code>([0-9a-f]{16})</code>", page)]
    this = re.search(r"<code>([0-9a-f]{16})</code> \(this browser\)", page).group(1)  # type: ignore[union-attr]
    other = next(s for s in laptop_id if s != this)
    assert phone.post(f"/settings/sessions/{other}/end").status_code == 200
    assert laptop.get("/settings").status_code == 303
    assert phone.get("/settings").status_code == 200


def test_account_shows_tier_and_what_is_left(app: Any, data_dir: Path) -> None:
    admin.set_tier(data_dir, ADA, "pro")
    page = Browser(app, ADA).get("/account").text
    assert "pro" in page and "100 of 100" in page and "Cycle renews" in page


def test_admin_is_a_404_for_users_and_works_for_administrators(app: Any, data_dir: Path) -> None:
    ada, root, bob = Browser(app, ADA), Browser(app, ROOT), Browser(app, BOB)
    bob_id = next(u["id"] for u in admin.list_users(data_dir) if u["email"] == BOB)
    assert ada.get("/admin").status_code == 404
    assert ">Admin<" not in ada.get("/").text
    for path in (f"/admin/users/{bob_id}/disable", f"/admin/users/{bob_id}/reset-password"):
        assert ada.post(path).status_code == 404
    assert ada.post("/admin/users", email="eve@example.com", password=PASSWORD).status_code == 404

    page = root.get("/admin")
    assert page.status_code == 200 and BOB in page.text and "Effective settings" in page.text
    assert "Server health" in page.text and "[server] max_concurrent_jobs" in page.text
    assert root.post(f"/admin/users/{bob_id}/disable", csrf=False).status_code == 403
    assert root.post(f"/admin/users/{bob_id}/disable").status_code == 200
    assert next(u for u in admin.list_users(data_dir) if u["email"] == BOB)["disabled_at"]
    assert bob.get("/settings").status_code == 303  # the session no longer counts
    with pytest.raises(AssertionError):
        Browser(app, BOB)  # nor does the password
    refused = Browser.__new__(Browser)
    refused.app, refused.jar = app, httpx.Cookies()
    token = _CSRF.search(refused.get("/signin").text).group(1)  # type: ignore[union-attr]
    answer = refused.request(
        "POST", "/signin", data={"csrf_token": token, "email": BOB, "password": PASSWORD}
    )
    assert answer.status_code == 403 and "This account is disabled" in answer.text
    assert root.post(f"/admin/users/{bob_id}/tier", tier="enterprise").status_code == 200
    reset = root.post(f"/admin/users/{bob_id}/reset-password")
    new_password = re.search(
        r'id="new-password" class="code" type="text" readonly value="([^"]+)"', reset.text
    ).group(1)  # type: ignore[union-attr]
    assert len(new_password) >= 12
    added = root.post("/admin/users", email="eve@example.com", tier="pro", password="short")
    assert added.status_code == 400 and "at least 8 characters" in added.text
    added = root.post(
        "/admin/users", email="eve@example.com", tier="pro", password=PASSWORD, admin="on"
    )
    assert added.status_code == 200
    eve = next(u for u in admin.list_users(data_dir) if u["email"] == "eve@example.com")
    assert eve["admin"] and eve["subscription_tier"] == "pro"


def test_an_administrator_cancels_another_users_queued_job(app: Any, data_dir: Path) -> None:
    token = admin.create_token(data_dir, BOB, None)[1]
    job = app.post(
        "/v1/jobs",
        headers={"Authorization": f"Bearer {token}"},
        json={"spec_content": "# queued\n", "git_repo_url": "https://git.example/a.git"},
    ).json()
    root = Browser(app, ROOT)
    page = root.get("/admin").text
    assert job["id"][:8] in page and BOB in page
    assert root.post(f"/admin/jobs/{job['id']}/cancel").status_code == 200
    status = app.get(f"/v1/jobs/{job['id']}", headers={"Authorization": f"Bearer {token}"}).json()
    assert status["status"] == "cancelled"
    assert root.post(f"/admin/jobs/{job['id']}/cancel").status_code == 404  # nothing left to do
