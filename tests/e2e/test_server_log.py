"""What `ckrv serve` writes for its operator: a banner that says where the API (with /v1), the
sign-in page and the docs are and how to make the first user; then a line for each request,
each step of a job's life, each login and each throttled request, as text or as JSON lines
(`--log-format json`), and never a token, cookie, password or code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.support.helpers import PASSWORD, Server, make_repo, wait_for
from tests.support.jobhelpers import submit, wait_status
from tests.support.servers import write_config

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(server: Server, email: str, password: str) -> int:
    """One try at /activate from a fresh browser, with a code nobody was given."""
    with httpx.Client(base_url=server.url) as browser:
        page = browser.get("/activate", params={"user_code": "WXYZ-WXYZ"})
        match = _CSRF.search(page.text)
        assert match, page.text
        form = {
            "csrf_token": match.group(1),
            "email": email,
            "password": password,
            "user_code": "WXYZ-WXYZ",
        }
        return browser.post("/activate", data=form).status_code


def records(server: Server) -> list[dict[str, Any]]:
    return [json.loads(line) for line in list(server.output)]


def test_json_log_has_one_object_per_line_for_requests_jobs_logins_and_throttles(
    tmp_path: Path,
) -> None:
    (tmp_path / "cfg").mkdir()
    server = Server(
        data_dir=tmp_path / "data",
        config_dir=tmp_path / "cfg",
        config=write_config(tmp_path),
        extra_args=["--log-format", "json"],
    ).start()
    try:
        repo = make_repo(tmp_path / "repo", {"README.md": "# sample\n"})
        token = server.add_user("ada@example.com", tier="pro")
        with server.client(token) as api:
            job_id = submit(api, "# Greet\nprint hello\n", repo)["id"]
            assert wait_status(api, job_id)["status"] == "succeeded"
            listed = api.get("/jobs", params={"status": "succeeded", "limit": "7"})
            assert listed.status_code == 200
            group = api.post(
                "/groups",
                json={
                    "spec_content": "# Twice\nprint hi\n",
                    "git_repo_url": repo.as_uri(),
                    "attempts": 2,
                },
            )
            assert group.status_code == 201, group.text
            attempts = [a["job_id"] for a in group.json()["attempts"]]
        assert sign_in(server, "ada@example.com", "not-the-password") == 401
        statuses = [sign_in(server, "ada@example.com", PASSWORD) for _ in range(12)]
        assert 429 in statuses

        def logged() -> list[dict[str, Any]] | None:
            found = records(server)  # every line is JSON, the banner too
            return found if any(r["event"] == "throttled" for r in found) else None

        found = wait_for(logged, timeout=10, what="the throttled request's record")
    finally:
        server.shutdown()

    assert {"ts", "level", "logger", "event", "message"} <= set(found[0])
    started = found[0]
    assert started["event"] == "server.started" and started["api_url"].endswith("/v1")
    assert started["activate_url"].endswith("/activate") and started["docs_url"].endswith("/docs")
    assert started["first_user"] is not None  # no user existed when it started

    life = [r["event"] for r in found if r.get("job") == job_id]
    assert life == ["job.queued", "job.started", "job.ended"]
    queued = {r["job"] for r in found if r["event"] == "job.queued"}
    assert set(attempts) <= queued  # a group's attempts too
    ended = next(r for r in found if r["event"] == "job.ended")
    assert ended["status"] == "succeeded" and ended["duration_s"] >= 0

    requests = [r for r in found if r["event"] == "request"]
    listing = next(r for r in requests if r["path"] == "/v1/jobs" and r["method"] == "GET")
    assert listing["status"] == 200 and isinstance(listing["duration_ms"], float)
    assert listing["client"] == "127.0.0.1"  # and no query string: "limit" is nowhere
    assert any(r["path"] == f"/v1/jobs/{job_id}" and r["status"] == 200 for r in requests)

    failed = next(r for r in found if r["event"] == "login.failed")
    assert failed["user"] == "ada@example.com" and failed["client"] == "127.0.0.1"
    assert any(r["event"] == "login.succeeded" for r in found)
    throttled = next(r for r in found if r["event"] == "throttled")
    assert throttled["path"] == "/activate" and throttled["level"] == "warning"

    text = "".join(server.output)
    for secret in (token, PASSWORD, "not-the-password", "limit", "WXYZ", "csrf"):
        assert secret not in text, secret


def test_text_banner_names_the_api_with_v1_the_sign_in_page_the_docs_and_the_first_user(
    tmp_path: Path,
) -> None:
    (tmp_path / "cfg").mkdir()
    server = Server(data_dir=tmp_path / "data", config_dir=tmp_path / "cfg").start()
    try:
        httpx.get(f"{server.url}/healthz")

        def request_line() -> str | None:
            return next((line for line in list(server.output) if "GET /healthz 200" in line), None)

        line = wait_for(request_line, timeout=10, what="the request's log line")
    finally:
        server.shutdown()
    banner = "".join(server.output)
    assert f"API:      {server.url}/v1" in banner
    assert f"{server.url}/activate" in banner and f"{server.url}/docs" in banner
    assert f"ckrv admin --data-dir {server.data_dir} user add EMAIL" in banner
    assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z INFO ", line), line
    assert "status=200" in line and "duration_ms=" in line and "client=127.0.0.1" in line
