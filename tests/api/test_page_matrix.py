"""The two-user matrix for the dashboard's routes, walked from the same list the app mounts
(ckrv/server/pages/routes.py), so a page added later is covered without being named here:
an anonymous browser is sent to /signin, B gets the very 404 a missing job gets for A's job
pages and forms, and a form posted without its CSRF token is a 403 that changes nothing."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from ckrv.server.admin import create_token
from ckrv.server.pages.routes import routes as page_route_list
from tests.api.test_two_user_isolation import http_routes
from tests.support.helpers import PASSWORD, Server, add_user_direct, make_repo
from tests.support.jobhelpers import submit, wait_status
from tests.support.servers import write_config

PUBLIC_PAGES = {("GET", "/signin"), ("POST", "/signin"), ("GET", "/static/{name}")}
PAGES = sorted(set(http_routes(page_route_list)))
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Pages:
    server: Server
    job: str  # A's finished job
    cookies: dict[str, httpx.Cookies]  # "a", "b": signed-in browsers

    def browser(self, who: str | None) -> httpx.Client:
        cookies = self.cookies[who] if who else None
        return httpx.Client(
            base_url=self.server.url, cookies=cookies, timeout=30, follow_redirects=False
        )

    def path(self, template: str, job: str) -> str:
        return template.format(job_id=job, name="app.css")


def sign_in(server: Server, email: str) -> httpx.Cookies:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        form = client.get("/signin")
        match = _CSRF.search(form.text)
        assert match, form.text[:300]
        done = client.post(
            "/signin",
            data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text[:300]
        return client.cookies


def csrf_of(client: httpx.Client) -> str:
    match = _CSRF.search(client.get("/jobs/new").text)
    assert match
    return match.group(1)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    root = tmp_path_factory.mktemp("pages")
    (root / "config").mkdir()
    srv = Server(
        data_dir=root / "data", config_dir=root / "config", config=write_config(root)
    ).start()
    try:
        for user in ("a", "b"):
            add_user_direct(srv.data_dir, f"{user}@example.com", "pro")
        cookies = {u: sign_in(srv, f"{u}@example.com") for u in ("a", "b")}
        world = Pages(srv, "", cookies)
        token = create_token(srv.data_dir, "a@example.com", None)[1]
        with srv.client(token) as api:
            job = submit(api, "# Greet\nwrite hello.txt Hello\\n\n", make_repo(root / "repo"))
            assert wait_status(api, job["id"])["status"] == "succeeded"
        world.job = job["id"]
        yield world
    finally:
        srv.shutdown()


def _call(client: httpx.Client, method: str, path: str, data: dict[str, str]) -> httpx.Response:
    with client.stream(method, path, data=data if method == "POST" else None) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
    return response


def test_the_walk_covers_job_pages_and_forms() -> None:
    """The list this file walks is the app's: a missing entry would leave a page untested."""
    assert ("GET", "/jobs/{job_id}") in PAGES and ("POST", "/jobs/{job_id}/cancel") in PAGES
    params = {p for _, path in PAGES for p in re.findall(r"{(\w+)}", path)}
    assert params <= {"job_id", "name"}, f"fill {params - {'job_id', 'name'}} in Pages.path"


@pytest.mark.parametrize(("method", "template"), [r for r in PAGES if r not in PUBLIC_PAGES])
def test_an_anonymous_browser_is_sent_to_signin(pages: Pages, method: str, template: str) -> None:
    with pages.browser(None) as client:
        response = _call(client, method, pages.path(template, pages.job), {})
    assert response.status_code in (303, 403), (method, template, response.status_code)
    if response.status_code == 303:
        assert response.headers["location"].startswith("/signin"), response.headers


@pytest.mark.parametrize(("method", "template"), [r for r in PAGES if "{job_id}" in r[1]])
def test_b_gets_for_as_job_what_a_missing_job_gets(
    pages: Pages, method: str, template: str
) -> None:
    with pages.browser("a") as a:
        own = _call(a, method, pages.path(template, pages.job), {"csrf_token": csrf_of(a)})
        assert own.status_code < 400 or (method == "POST" and own.status_code == 409), (
            method,
            template,
            own.status_code,
        )
    missing = str(uuid.uuid4())
    with pages.browser("b") as b:
        form = {"csrf_token": csrf_of(b)}
        as_job = _call(b, method, pages.path(template, pages.job), form)
        none = _call(b, method, pages.path(template, missing), form)
    assert as_job.status_code == none.status_code == 404, (method, template)
    assert as_job.text.replace(pages.job, missing) == none.text


@pytest.mark.parametrize(("method", "template"), [r for r in PAGES if r[0] == "POST"])
def test_a_form_without_its_csrf_token_is_refused(pages: Pages, method: str, template: str) -> None:
    with pages.browser("a") as a:
        for form in ({}, {"csrf_token": "not-the-token"}):
            response = _call(a, method, pages.path(template, pages.job), form)
            assert response.status_code == 403, (template, form, response.status_code)
        # nothing happened: A is still signed in and the job is as it was
        assert a.get("/").status_code == 200
        assert pages.job in a.get(f"/jobs/{pages.job}").text


def test_pages_list_no_one_elses_job(pages: Pages) -> None:
    with pages.browser("b") as b:
        assert pages.job not in b.get("/").text
        assert pages.job not in b.get("/", params={"q": pages.job[:8]}).text
    with pages.browser("a") as a:
        assert pages.job[:8] in a.get("/").text
