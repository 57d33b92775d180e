"""The web dashboard in Debian's Chromium: signing in and out, the jobs list, starting a job
from the browser and watching it, cancelling, and on every page: no request to another host,
no Content-Security-Policy violation, no serious axe-core finding, screenshots at desktop and
phone width (tests/support/browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import audit, sign_in
from tests.support.helpers import Server, make_repo
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


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("repo"), {"app.py": "print('hello')\n"})


def start_job(page: Any, srv: Server, repo: Path, spec: str) -> str:
    """Fill in /jobs/new and start the job; its id, from the job page it lands on."""
    page.goto(f"{srv.url}/jobs/new")
    page.get_by_label("Repository URL").fill(str(repo))
    page.get_by_label("Spec", exact=True).fill(spec)
    page.get_by_role("button", name="Start job").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    return str(page.url.rsplit("/", 1)[1])


SPEC = """# Add a greeting

print starting the work
write greet.py def greet(name):\\n    return f"hello {name}"\\n
lines 40 20
print all done
"""


def test_start_a_job_watch_its_log_and_see_its_diff(
    srv: Server, page: Any, repo: Path, browser: Any
) -> None:
    sign_in(page, srv.url, ADA)
    page.goto(f"{srv.url}/jobs/new")
    page.get_by_label("Spec", exact=True).fill("# Title\n\n<script>alert(1)</script> *done*")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    preview.locator("em", has_text="done").wait_for()
    assert preview.locator("script").count() == 0  # raw HTML is shown as text

    job_id = start_job(page, srv, repo, SPEC)
    page.get_by_role("heading", name="Add a greeting").wait_for()
    log = page.get_by_role("log", name="Job log")
    log.get_by_text("starting the work").wait_for()  # while the job runs
    assert page.locator("#job").get_attribute("data-status") in ("pending", "running")
    page.get_by_text("all done").wait_for(timeout=60_000)

    page.locator(".badge.s-succeeded").wait_for(timeout=60_000)  # the page reloads at the end
    diff = page.locator("#diff")
    diff.get_by_role("link", name="greet.py").wait_for()
    assert "+2" in diff.locator("ul.files").inner_text()
    assert diff.locator("table.diff span").count() > 0  # highlighted by Pygments
    diff.get_by_role("link", name="Side by side").click()
    diff.get_by_text("Unified view").wait_for()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download .patch").click()
    assert "greet.py" in Path(download.value.path()).read_text()
    assert page.locator("#pull-cmd").input_value() == f"ckrv pull {job_id[:8]}"

    page.goto(f"{srv.url}/")
    page.get_by_role("link", name="Add a greeting").wait_for()
    page.get_by_label("Search title or id").fill(job_id[:8])
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Add a greeting").wait_for()

    state = page.context.storage_state()
    found = audit(browser, state, f"{srv.url}/jobs/{job_id}", "job", ready="#diff table.diff")
    found += audit(browser, state, f"{srv.url}/jobs/new", "newjob")
    found += audit(browser, state, f"{srv.url}/", "jobs-with-one")
    assert found == []


def test_cancel_a_running_job_and_the_list_updates_live(
    srv: Server, page: Any, repo: Path, browser: Any
) -> None:
    sign_in(page, srv.url, BOB)
    listing = page.context.new_page()
    listing.goto(f"{srv.url}/")
    job_id = start_job(page, srv, repo, "# Wait a while\n\nsleep 120\n")
    listing.locator(f"tr[data-id='{job_id}']").wait_for()  # appeared without a reload

    page.get_by_role("button", name="Cancel job").click()
    page.locator(".badge.s-cancelled").wait_for()
    assert page.get_by_role("button", name="Cancel job").count() == 0
    listing.locator(f"tr[data-id='{job_id}'] .s-cancelled").wait_for()

    page.get_by_role("link", name="Run again").click()
    assert "sleep 120" in page.get_by_label("Spec", exact=True).input_value()
    assert page.get_by_label("Repository URL").input_value() == str(repo)


def test_another_users_job_is_a_404_and_forms_need_their_token(
    srv: Server, page: Any, repo: Path
) -> None:
    sign_in(page, srv.url, ADA)
    job_id = start_job(page, srv, repo, "# Ada's secret work\n\nsleep 60\n")
    ada = page.context.storage_state()
    page.context.clear_cookies()
    sign_in(page, srv.url, BOB)
    for path in ("", "/diff", "/diff.patch", "/log.txt", "/log/events"):
        answer = page.goto(f"{srv.url}/jobs/{job_id}{path}")
        assert answer is not None and answer.status == 404, path
        assert "Ada" not in page.content()
    page.goto(f"{srv.url}/jobs/new?from={job_id}")
    assert "secret" not in page.get_by_label("Spec", exact=True).input_value()
    token = page.locator("form.signout input[name=csrf_token]").input_value()
    cancel = page.request.post(f"{srv.url}/jobs/{job_id}/cancel", form={"csrf_token": token})
    assert cancel.status == 404

    # Ada's own forms, without their token: refused, and nothing happens.
    page.context.clear_cookies()
    page.context.add_cookies(ada["cookies"])
    answer = page.request.post(f"{srv.url}/jobs/{job_id}/cancel", form={})
    assert answer.status == 403
    answer = page.request.post(
        f"{srv.url}/jobs/new",
        multipart={"git_repo_url": str(repo), "spec_content": "# sneaky\n"},
    )
    assert answer.status == 403
    page.goto(f"{srv.url}/jobs/{job_id}")
    assert page.locator("#job").get_attribute("data-status") in ("pending", "running")
    page.get_by_role("button", name="Cancel job").click()
    page.locator(".badge.s-cancelled").wait_for()


def test_the_form_shows_the_apis_refusals(srv: Server, page: Any, repo: Path) -> None:
    sign_in(page, srv.url, BOB)
    page.goto(f"{srv.url}/jobs/new")
    page.get_by_label("Repository URL").fill(str(repo))
    page.get_by_label("Spec", exact=True).fill("# x\n")
    page.get_by_label("Base branch").fill("bad..branch")
    # Enter in a field submits as "Start job" does, not as the Preview button before it
    page.get_by_label("Base branch").press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "branch" in alert.inner_text()
    assert page.get_by_label("Spec", exact=True).input_value() == "# x\n"  # kept
