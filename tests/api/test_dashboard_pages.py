"""The dashboard's two-user matrix, on the in-process app: every page route that names a job
answers user B the same 404 page as a missing job, every form refuses a POST without its CSRF
token (403), a browser without a session is sent to /signin, and every page carries the
Content-Security-Policy. A new page naming a job must be added here (test_every_job_page_is_probed)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support.helpers import PASSWORD, add_user_direct, app_client, device_login, make_repo

JOB_PAGES = [  # GET, naming a job
    "/jobs/{job_id}",
    "/jobs/{job_id}/log/events",
    "/jobs/{job_id}/log.txt",
    "/jobs/{job_id}/log.json",
    "/jobs/{job_id}/diff",
    "/jobs/{job_id}/diff.patch",
]
FORMS = ["/jobs/new", "/jobs/preview", "/jobs/{job_id}/cancel", "/signout"]  # POST, signed in
PAGES = ["/", "/jobs/rows", "/jobs/new"]  # GET, signed in
PROBED = {*(("GET", p) for p in JOB_PAGES + PAGES), *(("POST", p) for p in FORMS)}


def test_every_job_page_is_probed() -> None:
    from ckrv.server.pages import routes as pages
    from tests.api.test_two_user_isolation import http_routes

    routes = http_routes(list(pages.routes))
    naming_a_job = {r for r in routes if r[1].startswith("/jobs/{job_id}")}  # (not /admin)
    assert naming_a_job <= PROBED, naming_a_job - PROBED


def sign_in(client: Any, email: str) -> str:
    """Sign in through the form; the session's CSRF token."""
    form = client.get("/signin").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    answer = client.post(
        "/signin",
        data={"csrf_token": token.group(1), "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = client.get("/").text
    assert "Sign out" in page
    session = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert session
    return session.group(1)


class As:
    """The one in-process client acting as one browser: its own cookie jar. (A second
    TestClient would run its requests on another event loop than the app's.)"""

    def __init__(self, client: TestClient, cookies: dict[str, str] | None = None) -> None:
        self.client, self.cookies = client, dict(cookies or {})

    def _use(self) -> TestClient:
        self.client.cookies.clear()
        for name, value in self.cookies.items():
            self.client.cookies.set(name, value, domain="127.0.0.1")
        return self.client

    def _keep(self) -> None:
        self.cookies = {cookie.name: cookie.value or "" for cookie in self.client.cookies.jar}

    def get(self, url: str, **kw: Any) -> Any:
        answer = self._use().get(url, **kw)
        self._keep()
        return answer

    def post(self, url: str, **kw: Any) -> Any:
        answer = self._use().post(url, **kw)
        self._keep()
        return answer


def sign_in_as(client: TestClient, email: str) -> tuple[As, str]:
    browser = As(client)
    csrf = sign_in(browser, email)
    return browser, csrf


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    data = tmp_path / "data"
    repo = make_repo(tmp_path / "repo")
    with app_client(data, allow_local_repositories=True, max_concurrent_jobs=0) as client:
        add_user_direct(data, "a@example.com")
        add_user_direct(data, "b@example.com")
        token = device_login(client, data, "a@example.com")["access_token"]
        job = client.post(
            "/v1/jobs",
            json={"spec_content": "# A's job\n", "git_repo_url": repo.as_uri(), "agent": "example"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert job.status_code == 201, job.text
        a, a_csrf = sign_in_as(client, "a@example.com")
        b, b_csrf = sign_in_as(client, "b@example.com")
        yield {
            "a": a,
            "b": b,
            "a_csrf": a_csrf,
            "b_csrf": b_csrf,
            "job": job.json()["id"],
            "nobody": As(client),
        }


def test_another_users_job_is_the_missing_jobs_404(world: dict[str, Any]) -> None:
    b, job = world["b"], world["job"]
    for path in JOB_PAGES:
        theirs = b.get(path.format(job_id=job))
        missing = b.get(path.format(job_id=str(uuid.uuid4())))
        assert theirs.status_code == missing.status_code == 404, path
        assert theirs.text == missing.text, path
        assert "A&#39;s job" not in theirs.text and "A's job" not in theirs.text
    cancel = b.post(f"/jobs/{job}/cancel", data={"csrf_token": world["b_csrf"]})
    assert cancel.status_code == 404
    again = b.get(f"/jobs/new?from={job}")
    assert "A&#39;s job" not in again.text
    own = world["a"].get(f"/jobs/{job}")
    assert own.status_code == 200 and "A&#39;s job" in own.text  # the job is untouched
    assert "Cancel job" in own.text


def test_every_form_needs_its_csrf_token(world: dict[str, Any]) -> None:
    a, job = world["a"], world["job"]
    for path in FORMS:
        url = path.format(job_id=job)
        assert a.post(url, data={}).status_code == 403, path
        assert a.post(url, data={"csrf_token": world["b_csrf"]}).status_code == 403, path
    assert "Cancel job" in a.get(f"/jobs/{job}").text  # not cancelled
    assert a.get("/").status_code == 200  # not signed out
    outsider = world["nobody"]
    refused = outsider.post("/signin", data={"email": "a@example.com", "password": PASSWORD})
    assert refused.status_code == 403  # no double-submit token


def test_without_a_session_pages_send_to_signin(world: dict[str, Any]) -> None:
    outsider = world["nobody"]
    for path in PAGES + [p.format(job_id=world["job"]) for p in JOB_PAGES]:
        answer = outsider.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/signin?next=")
    answer = outsider.post(f"/jobs/{world['job']}/cancel", data={}, follow_redirects=False)
    assert answer.status_code == 303
    for target in ("//evil.example/", "/\t/evil.example/", "https://evil.example/", "/\\evil"):
        signin = outsider.get("/signin", params={"next": target})
        assert 'name="next" value="/"' in signin.text, target  # never to another host


def test_every_page_has_the_strict_policy(world: dict[str, Any]) -> None:
    a = world["a"]
    for path in ["/", "/jobs/new", f"/jobs/{world['job']}", "/signin"]:
        policy = a.get(path).headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy, path
        assert "unsafe-inline" not in policy
    assert "ckrv_session" in a.cookies
