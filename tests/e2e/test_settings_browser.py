"""/settings, /account and /admin in Debian's Chromium: create and revoke an API token, add and
remove a credential, an administrator disables a user who then cannot sign in; no request to
another host, no Content-Security-Policy violation, no serious axe-core finding, screenshots at
desktop and phone width (tests/support/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ckrv.server import admin
from tests.support.browser import DESKTOP, audit, sign_in
from tests.support.helpers import PASSWORD, Server
from tests.support.servers import write_config

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADA, BOB, ROOT = "ada@example.com", "bob@example.com", "root@example.com"
GH_TOKEN = "ghp_" + "b" * 36


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("settings")
    (root / "config").mkdir()
    server = Server(data_dir=root / "data", config_dir=root / "config", config=write_config(root))
    server.start()
    server.add_user(ADA)
    server.add_user(BOB)
    admin.add_user(server.data_dir, ROOT, "Root", "free", PASSWORD, admin=True)
    yield server
    server.shutdown()


def test_create_and_revoke_a_token(srv: Server, page: Any) -> None:
    sign_in(page, srv.url, ADA)
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Expires after").select_option(label="30 days")
    page.get_by_role("button", name="Create token").click()
    shown = page.locator("#new-token")
    token = shown.input_value()
    token_id = page.locator("label[for=new-token]").inner_text().split()[-1]
    assert token.startswith("ckrv_pat_")
    with httpx.Client(base_url=srv.api_url) as api:
        me = api.get("/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["email"] == ADA

        page.get_by_role("link", name="Settings").click()  # shown once: gone on the next view
        assert token not in page.content()
        page.get_by_role("button", name=f"Revoke token {token_id}").click()
        page.get_by_text("revoked: it no longer works").wait_for()
        gone = api.get("/users/me", headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 401


def test_add_and_remove_a_credential(srv: Server, page: Any) -> None:
    sign_in(page, srv.url, BOB)
    page.goto(f"{srv.url}/settings")
    page.get_by_label("Name", exact=True).first.fill("gh-bob")
    page.get_by_label("Type").select_option("pat")
    page.get_by_label("Value (a token, or a private deploy key)").fill(GH_TOKEN)
    page.get_by_role("button", name="Add credential").click()
    page.get_by_text("Credential gh-bob added").wait_for()
    assert GH_TOKEN not in page.content()
    with srv.client(srv.add_user("carol@example.com")) as carol:  # another user sees nothing
        assert carol.get("/credentials").json()["credentials"] == []
    page.get_by_role("button", name="Remove credential gh-bob").click()
    page.get_by_text("Credential gh-bob removed.").wait_for()
    assert page.get_by_text("No credentials yet.").is_visible()


def test_an_admin_disables_a_user_who_then_cannot_sign_in(
    srv: Server, page: Any, browser: Any
) -> None:
    srv.add_user("dave@example.com")
    sign_in(page, srv.url, ROOT)
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("button", name="Disable dave@example.com").click()
    page.get_by_text("dave@example.com is disabled").wait_for()

    other = browser.new_context(viewport=DESKTOP)
    try:
        dave = other.new_page()
        dave.goto(f"{srv.url}/signin")
        dave.get_by_label("Email").fill("dave@example.com")
        dave.get_by_label("Password").fill(PASSWORD)
        dave.get_by_role("button", name="Sign in").click()
        dave.get_by_text("This account is disabled").wait_for()
        assert dave.get_by_role("heading", name="Sign in").is_visible()
    finally:
        other.close()


def test_settings_pages_are_accessible_and_fit_a_phone(
    srv: Server, page: Any, browser: Any
) -> None:
    sign_in(page, srv.url, ROOT)
    state = page.context.storage_state()
    found = audit(browser, state, f"{srv.url}/settings", "settings")
    found += audit(browser, state, f"{srv.url}/account", "account")
    found += audit(browser, state, f"{srv.url}/admin", "admin")
    assert found == []
