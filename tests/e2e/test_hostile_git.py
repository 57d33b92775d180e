"""Git after the agent runs nothing the agent planted, and no process of a job can read its
credential. Real server, real workers, real git over smart HTTP with basic auth (and a real
sshd for deploy keys).

The hostile agent (tests/support/agents/hostile_git_agent.sh) plants every git hook, core.fsmonitor,
core.hooksPath, aliases, an include, filter/textconv/diff drivers named by .gitattributes, a
credential helper, a push URL and an insteadOf pointing at its own repository, in the checkout's
.git and in its HOME; it leaves a daemon reading every process's environment and command line
and the worker's private files; and it makes a change with links pointing out of the tree."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.githttp import GitHttpServer
from tests.support.helpers import Server, git, make_repo, wait_for
from tests.support.jobhelpers import logs, submit, wait_phase, wait_status
from tests.support.servers import write_config
from tests.support.sshd import start_sshd

# Unique per run: the machine may run this very test elsewhere at the same time, and the scan
# looks at every process.
_RUN = uuid.uuid4().hex[:12]
TOKEN = f"ghp_SENTINEL{_RUN}hostile0123456789"
SECRET = f"sk-SENTINEL-{_RUN}-hostile-agent-secret"
HOSTILE = Path(__file__).parent.parent / "support" / "agents" / "hostile_git_agent.sh"


@pytest.fixture
def loot(tmp_path: Path) -> Iterator[Path]:
    """Where the hostile agent puts what it finds; its daemon is killed afterwards whatever
    the test found (a failed test must not leave it running)."""
    path = tmp_path / "loot"
    path.mkdir()
    yield path
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        os.kill(int((path / "daemon.pid").read_text()), signal.SIGKILL)


@pytest.fixture
def server(tmp_path: Path, loot: Path) -> Iterator[Server]:
    agents = f"""
[agents.hostile]
command = ["sh", "{HOSTILE}", "{loot}"]
[agents.holding]
command = ["sh", "-c", "echo held > held.txt; while [ ! -e {loot}/go ]; do sleep 0.05; done"]
"""
    (tmp_path / "config").mkdir()
    # Unconfined: the agents write what they find to, and wait on, files outside the checkout,
    # which a sandboxed command cannot reach; git's safety holds without the sandbox.
    config = write_config(tmp_path, agents, server_extra='sandbox = "none"')
    srv = Server(tmp_path / "data", tmp_path / "config", config).start()
    yield srv
    srv.stop()


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    with server.client(server.add_user("eve@example.com", tier="pro")) as client:
        assert client.put("/secrets/MY_SECRET", json={"value": SECRET}).status_code == 201
        yield client


@pytest.fixture
def private_repo(tmp_path: Path) -> Iterator[GitHttpServer]:
    make_repo(tmp_path / "git", {"README.md": "# private\n"})
    with GitHttpServer(tmp_path / "git", username="x-access-token", password=TOKEN) as srv:
        yield srv


def add_credential(api: httpx.Client, kind: str, value: str) -> None:
    provider = "github" if kind == "pat" else "generic"
    body = {"name": "cred", "provider": provider, "credential_type": kind, "value": value}
    assert api.post("/credentials", json=body).status_code == 201


def test_a_hostile_agent_gets_no_pat_and_the_push_goes_to_origin(
    tmp_path: Path, server: Server, api: httpx.Client, loot: Path, private_repo: GitHttpServer
) -> None:
    add_credential(api, "pat", TOKEN)
    url = private_repo.url("origin.git")
    job = submit(api, "# Hostile\n", url, agent="hostile", git_credential_name="cred", push=True)
    done = wait_status(api, job["id"])
    assert done["status"] == "succeeded", done
    assert done["pushed_branch"] == done["feature_branch_name"]
    diff = api.get(f"/jobs/{job['id']}/artifacts/diff").text
    stored = logs(server.data_dir, job["id"])
    _assert_nothing_ran_and_nothing_leaked(server, loot, diff, stored, [TOKEN])
    _assert_pushed_exactly_the_change(tmp_path / "git" / "origin.git", done, diff, [TOKEN])
    assert all(a.username == "x-access-token" for a in private_repo.attempts if a.authorized)


def test_a_hostile_agent_gets_no_deploy_key_and_the_push_goes_to_origin(
    tmp_path: Path, server: Server, api: httpx.Client, loot: Path
) -> None:
    daemon = start_sshd(tmp_path / "sshd")
    try:
        add_credential(api, "deploy_key", daemon.client_key)
        key_line = daemon.client_key.splitlines()[1]
        repo = make_repo(tmp_path / "ssh-repo", {"README.md": "# private\n"})
        job = submit(
            api,
            "# Hostile\n",
            daemon.url(repo),
            agent="hostile",
            git_credential_name="cred",
            push=True,
        )
        done = wait_status(api, job["id"])
    finally:
        daemon.stop()
    assert done["status"] == "succeeded", done
    assert done["pushed_branch"] == done["feature_branch_name"]
    diff = api.get(f"/jobs/{job['id']}/artifacts/diff").text
    stored = logs(server.data_dir, job["id"])
    _assert_nothing_ran_and_nothing_leaked(server, loot, diff, stored, [key_line])
    _assert_pushed_exactly_the_change(repo, done, diff, [key_line])


def test_no_process_holds_a_secret_while_a_job_clones_and_pushes(
    server: Server, api: httpx.Client, loot: Path, private_repo: GitHttpServer
) -> None:
    add_credential(api, "pat", TOKEN)
    private_repo.gate.clear()  # hold the clone's first authorized request
    job = submit(
        api,
        "# Held\n",
        private_repo.url("origin.git"),
        agent="holding",
        git_credential_name="cred",
        push=True,
    )
    try:
        assert private_repo.waiting.wait(60), "the clone never reached the git server"
        assert any(b"clone" in line for line in _scan_processes(server, TOKEN, SECRET))
        private_repo.waiting.clear()
        private_repo.gate.set()
        wait_phase(api, job["id"], "executing")
        private_repo.gate.clear()  # and now the push's
        (loot / "go").touch()
        assert private_repo.waiting.wait(60), "the push never reached the git server"
        assert any(b"push" in line for line in _scan_processes(server, TOKEN, SECRET))
    finally:
        (loot / "go").touch()
        private_repo.gate.set()
    done = wait_status(api, job["id"])
    assert done["status"] == "succeeded" and done["pushed_branch"], done


def _scan_processes(server: Server, *secrets: str) -> list[bytes]:
    """Every process's command line, after checking neither it nor the environment holds a
    secret or a job token of this server."""
    lines = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        for needle in secrets:
            assert needle.encode() not in cmdline + environ, (entry.name, cmdline)
        assert not _tokens_issued_by(server, cmdline + environ), (entry.name, cmdline)
        lines.append(cmdline)
    return lines


def _tokens_issued_by(server: Server, data: bytes) -> list[bytes]:
    """The JWTs in `data` this server issued (the machine may run other servers' jobs)."""
    found = []
    for token in re.findall(rb"eyJ[\w-]+\.(eyJ[\w-]+)\.[\w-]+", data):
        with contextlib.suppress(ValueError):
            claims = json.loads(base64.urlsafe_b64decode(token + b"=" * (-len(token) % 4)))
            if isinstance(claims, dict) and claims.get("iss") == server.url:
                found.append(token)
    return found


def _assert_nothing_ran_and_nothing_leaked(
    server: Server, loot: Path, diff: str, stored_logs: list[str], secrets: list[str]
) -> None:
    ran = sorted(p.name for p in loot.glob("ran-*"))
    assert ran == [], f"programs the agent planted ran: {ran}"
    assert _daemon_ended(loot), "the agent's daemon outlived its job"
    for path in loot.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets), path
            assert not _tokens_issued_by(server, data), path
    assert not any(s in line for line in stored_logs for s in secrets)
    assert not any(s in diff for s in secrets)
    stolen = subprocess.run(
        ["git", f"--git-dir={loot / 'stolen.git'}", "for-each-ref"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert stolen.stdout == "", "the push went to the agent's repository"


def _assert_pushed_exactly_the_change(
    origin: Path, done: dict[str, object], diff: str, secrets: list[str]
) -> None:
    """The diff and the pushed commit hold the change to tracked and new files, links as
    links, nothing of .git, nothing read through a link, no secret."""
    branch = str(done["pushed_branch"])
    assert "+hostile change" in diff and "+edited" in diff
    assert "new file mode 120000" in diff and "+/etc/hostname" in diff
    assert ".git/" not in diff and "ran-" not in diff
    hostname = Path("/etc/hostname").read_text().strip()
    assert not hostname or hostname not in diff.replace("/etc/hostname", "")
    tree = git(origin, "ls-tree", "-r", "--full-tree", branch)
    names = {line.split("\t", 1)[1]: line.split()[0] for line in tree.splitlines()}
    assert set(names) == {
        ".gitattributes",
        "README.md",
        "change.txt",
        "hostname-link",
        "workspace-link",
    }
    assert names["hostname-link"] == names["workspace-link"] == "120000"
    assert git(origin, "show", f"{branch}:hostname-link") == "/etc/hostname"
    assert git(origin, "show", f"{branch}:change.txt") == "hostile change"
    assert git(origin, "rev-parse", f"{branch}~1") == done["base_commit"]
    history = git(origin, "log", "-p", branch)
    assert not any(s in history for s in secrets)


def _daemon_ended(loot: Path) -> bool:
    pid = int((loot / "daemon.pid").read_text())
    return bool(wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=5, what="daemon"))
