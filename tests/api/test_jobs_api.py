"""The jobs API: validation, the quota race, pagination, fairness, ownership, retention."""

from __future__ import annotations

import base64
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import (
    Server,
    add_user_direct,
    app_client,
    device_login,
    make_repo,
    wait_for,
)
from tests.support.jobhelpers import submit, wait_status
from tests.support.servers import write_config


@pytest.fixture
def inproc(tmp_path: Path):  # type: ignore[no-untyped-def]
    """In-process app (no local repositories allowed), dispatch paused, one logged-in user."""
    data = tmp_path / "data"
    with app_client(data, max_concurrent_jobs=0) as client:
        add_user_direct(data, "ada@example.com", tier="pro")
        token = device_login(client, data, "ada@example.com")["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def create(client: Any, **body: Any) -> Any:
    payload = {
        "spec_content": "# Do it\n",
        "git_repo_url": "https://git.example.com/me/app.git",
        **body,
    }
    return client.post("/v1/jobs", json=payload)


@pytest.mark.parametrize(
    "url",
    [
        "file:///tmp/repo.git",
        "/srv/repo.git",
        "ext::sh -c touch% /tmp/pwned",
        "-uhttps://x/y.git",
        "https://user:secret@git.example.com/a.git",
        "https://token@git.example.com/a.git",
        "http://git.example.com/a.git",
        "ftp://git.example.com/a.git",
        "https:// spaced.example.com/a",
        "fd::17",
        "",
        "https://git.example.com/" + "a" * 2100 + ".git",  # longer than any git host takes
        # what would reach ssh as an option, or hide in a control or format character
        "ssh://-oProxyCommand=touch%20pwned/repo.git",
        "ssh://-oProxyCommand=x@git.example.com/repo.git",
        "ssh://%2doProxyCommand=x/repo.git",
        "ssh://%2DoProxyCommand=x@git.example.com/repo.git",
        "ssh://[-oProxyCommand=x]/repo.git",
        "ssh://git.example.com:-oProxyCommand=x/repo.git",
        "-oProxyCommand=x:repo.git",
        "git@-oProxyCommand=x:repo.git",
        "ssh://git@git.example.com/repo\u200b.git",
        "https://git.example.com/a\x1b[2J.git",
        "ssh://git@git.example.com/a\u00a0b.git",
    ],
)
def test_refused_repository_urls(inproc: Any, url: str) -> None:
    response = create(inproc, git_repo_url=url)
    assert response.status_code == 400, url
    assert (
        response.json()["error"] == "invalid_request"
        and "git_repo_url" in response.json()["message"]
    )


@pytest.mark.parametrize("url", ["file:///tmp/repo.git", "/srv/repo.git", "http://h.example/a"])
def test_a_refused_local_or_http_url_names_the_setting_that_allows_it(
    inproc: Any, url: str
) -> None:
    message = create(inproc, git_repo_url=url).json()["message"]
    assert "unless the server sets allow_local_repositories" in message


def test_with_local_repositories_allowed_the_refusal_does_not_say_they_are_refused(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with app_client(data, max_concurrent_jobs=0, allow_local_repositories=True) as client:
        add_user_direct(data, "ada@example.com")
        token = device_login(client, data, "ada@example.com")["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        assert create(client, git_repo_url="http://h.example/a.git").status_code == 201
        refused = create(client, git_repo_url="relative/repo")
        assert refused.status_code == 400
        message = refused.json()["message"]
        assert "or an absolute local path" in message and "refused" not in message


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/me/app.git",
        "ssh://git@git.example.com/me/app.git",
        "git@git.example.com:me/app.git",
    ],
)
def test_accepted_repository_urls(inproc: Any, url: str) -> None:
    assert create(inproc, git_repo_url=url).status_code == 201


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.1.2.3",
        "100.100.100.200",  # shared address space: a cloud's metadata service
        "169.254.169.254",
        "198.18.0.1",
        "224.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::127.0.0.1]",  # IPv4-compatible
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
        "[2002:a00:1::1]",  # 6to4 of 10.0.0.1
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",  # Teredo
        "[fec0::1]",  # site-local
        "[fd00::1]",
        "[fe80::1]",
        "localhost",
    ],
)
def test_private_and_special_purpose_hosts_are_refused(tmp_path: Path, host: str) -> None:
    data = tmp_path / "data"
    with app_client(data, max_concurrent_jobs=0, refuse_private_hosts=True) as client:
        add_user_direct(data, "ada@example.com", tier="pro")
        token = device_login(client, data, "ada@example.com")["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        response = create(client, git_repo_url=f"https://{host}/me/app.git")
        assert response.status_code == 400, host
        assert "refuse_private_hosts" in response.json()["message"]
        public = create(client, git_repo_url="https://[2606:4700::1111]/me/app.git")
        assert public.status_code == 201  # a global address passes


@pytest.mark.parametrize(
    "branch", ["main..x", "-x", "a b", "x.lock", "a//b", "@", "feat/.hidden", "x~1", ""]
)
def test_refused_branch_names(inproc: Any, branch: str) -> None:
    response = create(inproc, git_base_branch=branch)
    assert response.status_code == 400 and "branch" in response.json()["message"]


def test_spec_validation(inproc: Any) -> None:
    assert create(inproc, spec_content="  \n").status_code == 400
    big = create(inproc, spec_content="x" * (1024 * 1024 + 1))
    assert big.status_code == 413 and "1048576" in big.json()["message"]
    assert create(inproc, spec_content="y" * (1024 * 1024)).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"git_repo_url": "https://x.example/a.git"}',
        b'{"spec_content": 5, "git_repo_url": "https://x.example/a.git"}',
    ],
)
def test_malformed_bodies_get_400(inproc: Any, body: bytes) -> None:
    response = inproc.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["message"]


def test_agent_timeout_and_setup_fields(inproc: Any) -> None:
    unknown = create(inproc, agent="gpt-imaginary")
    assert unknown.status_code == 400 and "claude-code" in unknown.json()["message"]
    default = create(inproc).json()
    assert default["agent"] == "claude-code" and default["timeout_seconds"] == 3600
    too_long = create(inproc, agent="aider", timeout_seconds=7 * 86400)
    assert too_long.status_code == 422 and too_long.json()["error"] == "unprocessable"
    assert "over this server's maximum of 6h00m" in too_long.json()["message"]
    longest = create(inproc, agent="aider", timeout_seconds=6 * 3600, setup="pip install -e .")
    assert longest.status_code == 201, longest.text
    assert (
        longest.json()["timeout_seconds"] == 6 * 3600
        and longest.json()["setup"] == "pip install -e ."
        and longest.json()["agent"] == "aider"
    )
    assert create(inproc, timeout_seconds=-1).status_code == 400


def test_unknown_credential_is_422_with_the_reason_and_spends_no_quota(inproc: Any) -> None:
    """Not a 404: the Chakravarti CLI shows any 404 of a job route as "Job not found"."""
    before = inproc.get("/v1/users/me").json()["job_quota_remaining"]
    response = create(inproc, git_credential_name="work-pat")
    assert response.status_code == 422
    assert response.json()["error"] == "credential_not_found"
    assert "work-pat" in response.json()["message"] and response.json()["credentials"] == []
    assert inproc.get("/v1/users/me").json()["job_quota_remaining"] == before


def test_quota_race_creates_exactly_the_remaining_jobs(tmp_path: Path, config_dir: Path) -> None:
    srv = Server(
        data_dir=tmp_path / "data", config_dir=config_dir, config=write_config(tmp_path, capacity=0)
    ).start()
    try:
        token = srv.add_user("eve@example.com", tier="free")
        statuses: list[int] = []
        bodies: list[dict[str, Any]] = []
        barrier = threading.Barrier(30)

        def post() -> None:
            with srv.client(token) as client:
                barrier.wait()
                response = client.post(
                    "/jobs", json={"spec_content": "x", "git_repo_url": "https://h.example/a.git"}
                )
                statuses.append(response.status_code)
                bodies.append(response.json())

        threads = [threading.Thread(target=post) for _ in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses.count(201) == 10 and statuses.count(402) == 20
        refused = next(b for b in bodies if b.get("error") == "quota_exceeded")
        assert refused["quota_resets_at"] and "resets" in refused["message"]
        with srv.client(token) as client:
            assert len(client.get("/jobs", params={"limit": 100}).json()["jobs"]) == 10
            assert client.get("/users/me").json()["job_quota_remaining"] == 0
    finally:
        srv.shutdown()


def test_cursor_pagination_and_filters(inproc: Any) -> None:
    ids = [create(inproc, spec_content=f"# job {i}\n").json()["id"] for i in range(25)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        page = inproc.get("/v1/jobs", params=params).json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    assert inproc.get("/v1/jobs", params={"status": "succeeded"}).json()["jobs"] == []
    assert inproc.get("/v1/jobs", params={"status": "bogus"}).status_code == 400
    assert inproc.get("/v1/jobs", params={"limit": 101}).status_code == 400
    assert inproc.get("/v1/jobs", params={"cursor": "garbage!"}).status_code == 400
    prefix = inproc.get("/v1/jobs", params={"id_prefix": ids[3][:8]}).json()["jobs"]
    assert ids[3] in [j["id"] for j in prefix]


@pytest.mark.parametrize(
    "cursor",
    ["1" * 40, base64.urlsafe_b64encode(b"s" + b"9" * 40).decode(), "cy0x"],
    ids=["40-digits", "huge-row-number", "negative"],
)
def test_a_cursor_the_server_did_not_issue_is_a_400_naming_it(inproc: Any, cursor: str) -> None:
    response = inproc.get("/v1/jobs", params={"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "cursor" in response.json()["message"]


def test_another_users_job_is_404_everywhere(tmp_path: Path, inproc: Any) -> None:
    job_id = create(inproc).json()["id"]
    data = tmp_path / "data"
    add_user_direct(data, "mallory@example.com")
    other = {
        "Authorization": "Bearer "
        + device_login(inproc, data, "mallory@example.com")["access_token"]
    }
    for method, path in [
        ("GET", f"/v1/jobs/{job_id}"),
        ("POST", f"/v1/jobs/{job_id}/cancel"),
        ("GET", f"/v1/jobs/{job_id}/artifacts/diff"),
        ("GET", "/v1/jobs/not-a-uuid"),
    ]:
        assert inproc.request(method, path, headers=other).status_code == 404, path
    assert inproc.get("/v1/jobs", headers=other).json()["jobs"] == []
    assert (
        inproc.get("/v1/jobs", params={"id_prefix": job_id[:8]}, headers=other).json()["jobs"] == []
    )
    for method, path in [("GET", "/v1/jobs"), ("GET", f"/v1/jobs/{job_id}"), ("POST", "/v1/jobs")]:
        assert (
            inproc.request(method, path, headers={"Authorization": "Bearer nope"}).status_code
            == 401
        )


def test_users_take_turns(tmp_path: Path, config_dir: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    config = write_config(tmp_path, capacity=0)
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
    alice, bob = srv.add_user("alice@example.com", "pro"), srv.add_user("bob@example.com", "pro")
    with srv.client(alice) as a, srv.client(bob) as b:
        order = [submit(a, f"print a{i}\n", repo)["id"] for i in range(4)]
        order += [submit(b, f"print b{i}\n", repo)["id"] for i in range(2)]
    srv.kill()
    write_config(tmp_path, capacity=1)
    srv.start(port=srv.port)
    try:
        with srv.client(alice) as a, srv.client(bob) as b:
            done = [wait_status(a if i < 4 else b, job_id) for i, job_id in enumerate(order)]
        started = sorted(done, key=lambda j: j["started_at"])
        names = ["a" if j["id"] in order[:4] else "b" for j in started]
        assert names == ["a", "b", "a", "b", "a", "a"]
    finally:
        srv.shutdown()


def test_expired_diff_answers_410_and_the_spec_is_removed(tmp_path: Path, config_dir: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    config = write_config(tmp_path, "")
    config.write_text(
        config.read_text().replace("[server]\n", '[server]\nartifact_retention = "1s"\n', 1)
    )
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
    try:
        with srv.client(srv.add_user("fay@example.com")) as api:
            job_id = submit(api, "write a.txt A\\n\n", repo)["id"]
            assert wait_status(api, job_id)["status"] == "succeeded"
            response = wait_for(
                lambda: (r := api.get(f"/jobs/{job_id}/artifacts/diff")).status_code == 410 and r,
                timeout=15,
                what="the diff to expire",
            )
            assert "expired" in response.json()["message"]
            assert not (srv.data_dir / "artifacts" / job_id).exists()
            assert api.get(f"/jobs/{job_id}").json()["status"] == "succeeded"
        # Retention removes the spec too (the title stays, for job lists).
        with sqlite3.connect(srv.data_dir / "ckrv.db") as conn:
            (spec,) = conn.execute("SELECT spec_content FROM jobs").fetchone()
        assert spec == ""
    finally:
        srv.shutdown()


def test_a_user_gone_since_their_login_gets_401_not_a_server_error(
    inproc: Any, tmp_path: Path
) -> None:
    """An access token outlives its user by up to its lifetime: creating a job with it is
    refused as unauthenticated (no 500), and other users go on creating theirs."""
    import sqlite3

    data = tmp_path / "data"
    add_user_direct(data, "bo@example.com", tier="pro")
    other = device_login(inproc, data, "bo@example.com")["access_token"]
    with sqlite3.connect(data / "ckrv.db") as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM users WHERE email = 'ada@example.com'")
    gone = create(inproc)
    assert gone.status_code == 401, gone.text
    assert gone.json()["message"] == "the user of this token no longer exists"
    ok = inproc.post(
        "/v1/jobs",
        json={"spec_content": "# Bo's\n", "git_repo_url": "https://git.example.com/me/app.git"},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert ok.status_code == 201, ok.text


def test_a_job_cancelled_while_queued_gives_its_quota_back(inproc: Any) -> None:
    created = create(inproc).json()
    assert inproc.get("/v1/users/me").json()["jobs_used"] == 1
    cancelled = inproc.post(f"/v1/jobs/{created['id']}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["quota_refunded"] is True
    assert inproc.get("/v1/users/me").json()["jobs_used"] == 0


def test_a_spent_quota_names_this_servers_account_page_when_no_upgrade_url_is_set(
    tmp_path: Path,
) -> None:
    """The contract makes upgrade_url a string: its clients show a made-up URL for null."""
    data = tmp_path / "data"
    with app_client(data, max_concurrent_jobs=0) as client:
        add_user_direct(data, "free@example.com", tier="free")
        token = device_login(client, data, "free@example.com")["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        for _ in range(10):
            assert create(client).status_code == 201
        refused = create(client)
        assert refused.status_code == 402
        assert refused.json()["upgrade_url"] == "http://127.0.0.1:8420/account"
