"""Credentials and agent secrets through real jobs: a real server, real workers, a private
repository behind a real smart-HTTP git server (and a real sshd for deploy keys). A sentinel
secret must never surface: not in the database's bytes, any API response, the stored logs, the
diff, the checkout's .git directory, or any process's command line while the job runs."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.githttp import GitHttpServer
from tests.support.helpers import Server, make_repo
from tests.support.jobhelpers import (
    logs,
    submit,
    wait_phase,
    wait_status,
    worker_token_of_running_attempt,
)
from tests.support.servers import SCRIPTED_AGENT, write_config
from tests.support.sshd import start_sshd

TOKEN = "ghp_SENTINELjob0123456789abcdefGHIJ"
SECRET = "sk-SENTINEL-agent-secret-0123456789"
AGENT = SCRIPTED_AGENT
# An agent whose verify step shows what it sees, to prove verify gets the secrets too.
CHECKER = f"""
[agents.checker]
command = ["{sys.executable}", "{AGENT}", "{{spec_file}}"]
verify = ["sh", "-c", "echo verify:$MY_SECRET"]
"""


class Recorder:
    """An API client for one user that keeps the text of every response it received."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.seen: list[str] = []

    def __getattr__(self, method: str) -> Any:
        call = getattr(self.client, method)

        def recorded(*args: Any, **kwargs: Any) -> httpx.Response:
            response: httpx.Response = call(*args, **kwargs)
            self.seen.append(response.text)
            return response

        return recorded


@pytest.fixture
def server(tmp_path: Path, config_dir: Path) -> Iterator[Server]:
    # Unconfined: a setup here copies the checkout's .git out for the test to inspect, which
    # the sandbox forbids (its own tests: test_sandbox.py).
    config = write_config(tmp_path, CHECKER, server_extra='sandbox = "none"')
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config)
    srv.start()
    yield srv
    srv.shutdown()


@pytest.fixture
def recorder(server: Server) -> Iterator[Recorder]:
    with server.client(server.add_user("ada@example.com", tier="pro")) as client:
        yield Recorder(client)


@pytest.fixture
def private_repo(tmp_path: Path) -> Iterator[GitHttpServer]:
    make_repo(tmp_path / "git", {"README.md": "# private\n"})
    with GitHttpServer(tmp_path / "git", username="x-access-token", password=TOKEN) as srv:
        yield srv


def add_pat(recorder: Recorder, value: str = TOKEN, name: str = "gh") -> None:
    response = recorder.post(
        "/credentials",
        json={"name": name, "provider": "github", "credential_type": "pat", "value": value},
    )
    assert response.status_code == 201, response.text


def add_deploy_key(recorder: Recorder, key: str, name: str = "deploy") -> None:
    response = recorder.post(
        "/credentials",
        json={"name": name, "provider": "generic", "credential_type": "deploy_key", "value": key},
    )
    assert response.status_code == 201, response.text


def scan_command_lines(*needles: str) -> list[bytes]:
    """Every process's command line; fails if any holds a needle."""
    lines = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        for needle in needles:
            assert needle.encode() not in cmdline, cmdline
        lines.append(cmdline)
    return lines


def files_under(root: Path) -> Iterator[bytes]:
    """The bytes of every file under `root`; a workspace may be removed while we read it."""
    for directory, _dirs, names in os.walk(root):  # os.walk skips directories that vanish
        for name in names:
            try:
                yield (Path(directory) / name).read_bytes()
            except (FileNotFoundError, IsADirectoryError):
                continue


def test_a_private_job_uses_the_credential_and_secrets_and_shows_neither(
    tmp_path: Path, server: Server, recorder: Recorder, private_repo: GitHttpServer
) -> None:
    add_pat(recorder)
    assert recorder.put("/secrets/MY_SECRET", json={"value": SECRET}).status_code == 201
    copy = tmp_path / "dotgit"
    spec = "# Private work\nenv MY_SECRET\nwrite result.txt done\\n\n"
    private_repo.gate.clear()  # hold the clone while we look at every process
    created = submit(
        recorder.client,
        spec,
        private_repo.url("origin.git"),
        agent="checker",
        git_credential_name="gh",
        setup=f"echo setup:$MY_SECRET; cp -r .git {copy}",
    )
    recorder.seen.append(str(created))
    try:
        assert private_repo.waiting.wait(60), "the job never reached the git server"
        lines = scan_command_lines(TOKEN, SECRET)
        assert any(b"clone" in line for line in lines)  # the clone was in flight as we looked
    finally:
        private_repo.gate.set()
    done = wait_status(recorder.client, created["id"])
    assert done["status"] == "succeeded", done
    assert any(a.authorized and a.username == "x-access-token" for a in private_repo.attempts)

    # the secret reached setup, agent and verify (masked in every stored line)
    stored = logs(server.data_dir, created["id"])
    assert "setup:***" in stored and "MY_SECRET=***" in stored and "verify:***" in stored
    assert not any(TOKEN in line or SECRET in line for line in stored)

    # nothing in the API, the diff, the checkout's .git, the database or the artifacts
    diff = recorder.get(f"/jobs/{created['id']}/artifacts/diff")
    assert diff.status_code == 200 and "+done" in diff.text
    for path in (
        f"/jobs/{created['id']}",
        "/jobs",
        f"/jobs/{created['id']}/logs",
        "/credentials",
        "/secrets",
    ):
        assert recorder.get(path).status_code == 200
    assert not any(TOKEN in text or SECRET in text for text in recorder.seen)
    config = (copy / "config").read_text()
    assert private_repo.url("origin.git") in config and "@" not in config
    assert not any(TOKEN.encode() in data for data in files_under(copy))
    for data in [
        *files_under(server.data_dir),
        *(p.read_bytes() for p in server.data_dir.glob("ckrv.db*")),
    ]:
        assert TOKEN.encode() not in data and SECRET.encode() not in data


@pytest.mark.parametrize("with_credential", ["none", "wrong"])
def test_a_refused_clone_fails_the_job_saying_what_to_fix(
    recorder: Recorder, private_repo: GitHttpServer, with_credential: str
) -> None:
    extra = {}
    wrong = "ghp_WRONGtoken0123456789abcdefKLMN"
    if with_credential == "wrong":
        add_pat(recorder, wrong)
        extra["git_credential_name"] = "gh"
    created = submit(recorder.client, "print hi\n", private_repo.url("origin.git"), **extra)
    done = wait_status(recorder.client, created["id"])
    assert done["status"] == "failed"
    message = done["error_message"]
    assert private_repo.host in message
    if with_credential == "none":
        assert "ckrv cloud credentials add" in message
    else:
        assert "'gh'" in message and "`repo` scope" in message and wrong not in message


def test_a_credential_that_cannot_fit_the_url_is_refused_at_creation(
    tmp_path: Path, recorder: Recorder, private_repo: GitHttpServer
) -> None:
    from tests.support.sshd import keygen

    key = keygen(tmp_path / "deploy").read_text()
    add_deploy_key(recorder, key)
    add_pat(recorder)
    before = recorder.get("/users/me").json()["job_quota_remaining"]
    refused = recorder.post(
        "/jobs",
        json={
            "spec_content": "print hi\n",
            "git_credential_name": "deploy",
            "git_repo_url": private_repo.url("origin.git"),
        },
    )
    assert refused.status_code == 400 and "ssh URL" in refused.json()["message"]
    refused = recorder.post(
        "/jobs",
        json={
            "spec_content": "print hi\n",
            "git_credential_name": "gh",
            "git_repo_url": "ssh://git@127.0.0.1:1/x.git",
        },
    )
    assert refused.status_code == 400 and "https URL" in refused.json()["message"]
    assert recorder.get("/users/me").json()["job_quota_remaining"] == before


def test_a_deploy_key_job_clones_over_ssh(
    tmp_path: Path, server: Server, recorder: Recorder
) -> None:
    daemon = start_sshd(tmp_path / "sshd")
    try:
        repo = make_repo(tmp_path / "ssh-repo")
        add_deploy_key(recorder, daemon.client_key)
        created = submit(
            recorder.client,
            "# Over ssh\nwrite ssh.txt ok\\n\n",
            daemon.url(repo),
            git_credential_name="deploy",
        )
        done = wait_status(recorder.client, created["id"])
        assert done["status"] == "succeeded", done
        key_line = daemon.client_key.splitlines()[1]
        stored = logs(server.data_dir, created["id"])
        assert not any(key_line in line for line in stored)
    finally:
        daemon.stop()


def test_secrets_reach_jobs_of_their_owner_only(
    server: Server, recorder: Recorder, private_repo: GitHttpServer, tmp_path: Path
) -> None:
    assert recorder.put("/secrets/MY_SECRET", json={"value": SECRET}).status_code == 201
    with server.client(server.add_user("bob@example.com", tier="pro")) as bob:
        repo = make_repo(tmp_path / "public")
        created = submit(bob, "env MY_SECRET\n", repo)
        assert wait_status(bob, created["id"])["status"] == "succeeded"
    assert "MY_SECRET=" in logs(server.data_dir, created["id"])


def test_the_server_masks_lines_a_worker_failed_to_mask(
    server: Server, recorder: Recorder, tmp_path: Path
) -> None:
    assert recorder.put("/secrets/MY_SECRET", json={"value": SECRET}).status_code == 201
    created = submit(recorder.client, "# Waits\nsleep 60\n", make_repo(tmp_path / "repo"))
    wait_phase(recorder.client, created["id"], "executing")
    # act as a worker that does not mask, with a token for the job's running attempt
    token = worker_token_of_running_attempt(server, created["id"])
    entry = {
        "seq": 1_000_000,
        "timestamp": "2026-01-01T00:00:00.000Z",
        "level": "info",
        "source": "agent",
        "message": f"leaked {SECRET} here",
    }
    with httpx.Client(base_url=server.api_url, timeout=30) as worker:
        sent = worker.post(
            f"/worker/jobs/{created['id']}/logs",
            json={"entries": [entry]},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert sent.status_code == 200, sent.text
    assert "leaked *** here" in logs(server.data_dir, created["id"])
    assert recorder.post(f"/jobs/{created['id']}/cancel").status_code in (200, 202)
    wait_status(recorder.client, created["id"])
    assert not any(SECRET.encode() in data for data in files_under(server.data_dir))
