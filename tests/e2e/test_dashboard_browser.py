"""The web dashboard in Debian's Chromium: signing in and out, the jobs list, starting a job
from the browser and watching it, cancelling, and on every page: no request to another host,
no Content-Security-Policy violation, no serious axe-core finding, screenshots at desktop and
phone width (tests/support/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import DESKTOP, RequestLog, audit, launch, sign_in
from tests.support.helpers import Server
from tests.support.servers import write_config

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADA, BOB = "ada@example.com", "bob@example.com"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("dashboard")
    (root / "config").mkdir()
    server = Server(data_dir=root / "data", config_dir=root / "config", config=write_config(root))
    server.start()
    server.add_user(ADA)
    server.add_user(BOB)
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def requests(srv: Server) -> RequestLog:
    return RequestLog(srv.url)


@pytest.fixture
def page(browser: Any, requests: RequestLog) -> Iterator[Any]:
    """A page under the real Content-Security-Policy; afterwards, no request left the server
    and nothing was refused by the policy."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    requests.watch(context)
    yield context.new_page()
    context.close()
    assert requests.foreign() == [], "the pages asked another host"
    assert requests.violations == [], "the Content-Security-Policy refused something"


def test_sign_in_and_out(srv: Server, page: Any) -> None:
    page.goto(f"{srv.url}/")
    page.get_by_role("heading", name="Sign in").wait_for()  # sent to sign in first
    page.get_by_label("Email").fill(ADA)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Email or password is wrong.").wait_for()

    sign_in(page, srv.url, ADA)
    assert page.get_by_text(ADA).is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "ckrv_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    page.goto(f"{srv.url}/")
    page.get_by_role("heading", name="Sign in").wait_for()  # the session is over


def test_forms_without_csrf_token_are_refused(srv: Server, page: Any) -> None:
    sign_in(page, srv.url, ADA)
    page.evaluate("document.querySelector('form.signout input[name=csrf_token]').remove()")
    with page.expect_response(lambda r: r.url.endswith("/signout")) as answer:
        page.get_by_role("button", name="Sign out").click()
    assert answer.value.status == 403
    page.get_by_role("heading", name="Request refused").wait_for()
    page.goto(f"{srv.url}/")
    page.get_by_role("heading", name="Jobs").wait_for()  # still signed in


def test_pages_are_accessible_and_fit_a_phone(srv: Server, page: Any, browser: Any) -> None:
    found = audit(browser, None, f"{srv.url}/signin", "signin")
    found += audit(browser, None, f"{srv.url}/activate", "activate")
    sign_in(page, srv.url, BOB)
    state = page.context.storage_state()
    found += audit(browser, state, f"{srv.url}/", "jobs")
    assert found == []
