"""The two-user matrix for the dashboard's routes, walked from the same list the app mounts
(ckrv/server/pages/routes.py), so a page added later is covered without being named here:
an anonymous browser is sent to /signin, B gets the very 404 a missing job or group gets for
A's pages and forms, a form posted without its CSRF token is a 403 that changes nothing, every
HTML page carries the strict Content-Security-Policy, and sign-in never sends anyone to
another host."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from ckrv.server.admin import create_token, set_admin
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
    group: str  # A's group of attempts
    cookies: dict[str, httpx.Cookies]  # "a" (an administrator), "b": signed-in browsers
    b_user: str  # B's user id (the target of A's admin forms)

    def browser(self, who: str | None) -> httpx.Client:
        cookies = self.cookies[who] if who else None
        return httpx.Client(
            base_url=self.server.url, cookies=cookies, timeout=30, follow_redirects=False
        )

    def path(self, template: str, job: str, group: str | None = None) -> str:
        # ids no one holds where the page names A's own things: each form checks its CSRF
        # token, and whose the thing is, before it looks the id up
        return template.format(
            job_id=job,
            group_id=group or self.group,
            name="app.css",
            user_id=self.b_user,
            session_id="no-such-session",
            token_id="no-such-token",
        )


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
        ids = {u: add_user_direct(srv.data_dir, f"{u}@example.com", "pro") for u in ("a", "b")}
        set_admin(srv.data_dir, "a@example.com", True)
        cookies = {u: sign_in(srv, f"{u}@example.com") for u in ("a", "b")}
        world = Pages(srv, "", "", cookies, ids["b"])
        token = create_token(srv.data_dir, "a@example.com", None)[1]
        with srv.client(token) as api:
            job = submit(api, "# Greet\nwrite hello.txt Hello\\n\n", make_repo(root / "repo"))
            assert wait_status(api, job["id"])["status"] == "succeeded"
            group = api.post(
                "/groups",
                json={"spec_content": "print hi\n", "git_repo_url": job["git_repo_url"]},
            )
            assert group.status_code == 201, group.text
        world.job, world.group = job["id"], group.json()["id"]
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
    known = {"job_id", "group_id", "name", "user_id", "session_id", "token_id"}
    assert params <= known, f"fill {params - known} in Pages.path"


@pytest.mark.parametrize(("method", "template"), [r for r in PAGES if r not in PUBLIC_PAGES])
def test_an_anonymous_browser_is_sent_to_signin(pages: Pages, method: str, template: str) -> None:
    with pages.browser(None) as client:
        response = _call(client, method, pages.path(template, pages.job), {})
    assert response.status_code in (303, 403), (method, template, response.status_code)
    if response.status_code == 303:
        assert response.headers["location"].startswith("/signin"), response.headers


OWNED_PAGES = [r for r in PAGES if "{job_id}" in r[1] or "{group_id}" in r[1]]


@pytest.mark.parametrize(("method", "template"), OWNED_PAGES)
def test_b_gets_for_as_things_what_missing_ones_get(
    pages: Pages, method: str, template: str
) -> None:
    with pages.browser("a") as a:
        own = _call(a, method, pages.path(template, pages.job), {"csrf_token": csrf_of(a)})
        # the control: A's own job is shown, and A's forms get past CSRF and ownership (a
        # form may still refuse the ended job itself, as cancel does)
        refused = own.status_code >= 400 if method == "GET" else own.status_code in (401, 403)
        assert not refused, (method, template, own.status_code)
    missing_job, missing_group = str(uuid.uuid4()), "g-00000000"
    with pages.browser("b") as b:
        form = {"csrf_token": csrf_of(b)}
        as_thing = _call(b, method, pages.path(template, pages.job), form)
        none = _call(b, method, pages.path(template, missing_job, missing_group), form)
    assert as_thing.status_code == none.status_code == 404, (method, template)
    shown = as_thing.text.replace(pages.job, missing_job).replace(pages.group, missing_group)
    assert shown == none.text


@pytest.mark.parametrize(("method", "template"), [r for r in PAGES if r[0] == "POST"])
def test_a_form_without_its_csrf_token_is_refused(pages: Pages, method: str, template: str) -> None:
    with pages.browser("a") as a:
        for form in ({}, {"csrf_token": "not-the-token"}):
            response = _call(a, method, pages.path(template, pages.job), form)
            assert response.status_code == 403, (template, form, response.status_code)
        # nothing happened: A is still signed in, the job is as it was, B is not disabled
        assert a.get("/").status_code == 200
        assert pages.job in a.get(f"/jobs/{pages.job}").text
    sign_in(pages.server, "b@example.com")


def test_pages_list_no_one_elses_job(pages: Pages) -> None:
    with pages.browser("b") as b:
        assert pages.job not in b.get("/").text
        assert pages.job not in b.get("/", params={"q": pages.job[:8]}).text
    with pages.browser("a") as a:
        assert pages.job[:8] in a.get("/").text


def test_run_again_never_prefills_another_users_job(pages: Pages) -> None:
    with pages.browser("b") as b:
        form = b.get("/jobs/new", params={"from": pages.job})
        assert form.status_code in (200, 404)
        assert "Greet" not in form.text and "hello.txt" not in form.text
    with pages.browser("a") as a:
        assert "hello.txt" in a.get("/jobs/new", params={"from": pages.job}).text


def test_signin_takes_no_post_without_its_form_token_and_never_leaves_the_server(
    pages: Pages,
) -> None:
    with pages.browser(None) as outsider:
        refused = outsider.post("/signin", data={"email": "a@example.com", "password": PASSWORD})
        assert refused.status_code == 403  # no double-submit token
        for target in ("//evil.example/", "/\t/evil.example/", "https://evil.example/", "/\\evil"):
            form = outsider.get("/signin", params={"next": target})
            assert 'name="next" value="/"' in form.text, target


def test_every_html_page_carries_the_strict_policy(pages: Pages) -> None:
    html = set()
    with pages.browser("a") as a:
        for method, template in PAGES:
            if method != "GET" or template.endswith("/events"):
                continue
            answer = a.get(pages.path(template, pages.job))
            if not answer.headers.get("content-type", "").startswith("text/html"):
                continue  # a download, a stylesheet or JSON
            html.add(template)
            policy = answer.headers["content-security-policy"]
            assert "default-src 'none'" in policy and "script-src 'self'" in policy, template
            assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    pages_seen = {"/", "/jobs/new", "/jobs/{job_id}", "/settings", "/account", "/admin"}
    assert pages_seen | {"/groups/{group_id}"} <= html
