"""The sandbox around a job's commands, through real servers, workers and git over smart HTTP:
a hostile job sees no other job's process, secret, workspace or the data dir; what a job
leaves running ends with it; a job over its memory limit (its agent's, or one the job lowered
itself) fails naming the limit; a fork bomb
stops at the process limit; a server that cannot confine refuses to serve two users."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ckrv.sandbox import Sandbox, probe
from tests.support.githttp import GitHttpServer
from tests.support.helpers import Server, make_repo
from tests.support.jobhelpers import processes_with, submit, wait_phase, wait_status
from tests.support.prerequisites import require
from tests.support.servers import write_config

TOKEN = "ghp_SANDBOXsentinel0123456789abcdefGH"
SECRET = "sk-SANDBOX-victim-secret-0123456789"

# Polls every process's environment and command line, hunts for the data dir and its keys,
# lists the workspaces; writes all it found into the checkout (so into the diff).
HUNT = r"""
D="$1"
{
  for round in 1 2 3 4 5 6 7 8 9 10; do
    for p in /proc/[0-9]*; do
      echo "pid ${p#/proc/}"; tr "\0" "\n" < "$p/environ"; tr "\0" " " < "$p/cmdline"; echo
    done
    sleep 0.2
  done
  ls -la / "$D" "$D/workspaces" "$D/keys"
  cat "$D/keys/master.keys" "$D/keys/jwt-ed25519.pem" "$D/ckrv.db"
  find / -xdev \( -name master.keys -o -name ckrv.db -o -name 'jwt-*.pem' \) 2>/dev/null
  echo "uid $(id -u)"
} > found.txt 2>&1
"""
DAEMON = r"""
setsid python3 -c "import time; time.sleep(600)" ckrv-sandbox-daemon-mark < /dev/null > /dev/null 2>&1 &
for i in $(seq 100); do pgrep -f ckrv-sandbox-daemon-mark > /dev/null && break; sleep 0.05; done
pgrep -f ckrv-sandbox-daemon-mark > /dev/null && echo started > daemon.txt
"""
FORK_BOMB = r"""
import os, time
started = 0
try:
    for _ in range(2000):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        started += 1
except OSError as exc:
    print("fork refused:", exc)
open("forks.txt", "w").write(f"{started}\n")
"""


def agents(data_dir: Path) -> str:
    py = sys.executable
    return f"""
[agents.victim]
command = ["sh", "-c", "sleep 20"]
[agents.hunter]
command = ["sh", "-c", {json.dumps(HUNT)}, "hunt", "{data_dir}"]
[agents.daemon]
command = ["sh", "-c", {json.dumps(DAEMON)}]
[agents.hog]
command = ["{py}", "-c", "x = bytearray(1024 ** 3)"]
memory = "200M"
[agents.greedy]
command = ["{py}", "-c", "x = bytearray(1024 ** 3)"]
[agents.bomb]
command = ["{py}", "-c", {json.dumps(FORK_BOMB)}]
processes = 40
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "config").mkdir()
    config = write_config(tmp_path, agents(tmp_path / "data"))
    srv = Server(tmp_path / "data", tmp_path / "config", config).start()
    yield srv
    srv.shutdown()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"README.md": "# app\n"})


def diff_text(client: httpx.Client, job_id: str) -> str:
    response = client.get(f"/jobs/{job_id}/artifacts/diff")
    assert response.status_code == 200, response.text
    return response.text


def test_a_hostile_job_finds_no_other_job_secret_workspace_or_key(
    tmp_path: Path, server: Server, repo: Path
) -> None:
    assert httpx.get(f"{server.url}/healthz").json()["details"]["sandbox"] == "bwrap"
    make_repo(tmp_path / "git", {"README.md": "# private\n"})
    with (
        GitHttpServer(tmp_path / "git", username="x-access-token", password=TOKEN) as private,
        server.client(server.add_user("bob@example.com", tier="pro")) as bob,
        server.client(server.add_user("eve@example.com", tier="pro")) as eve,
    ):
        cred = {"name": "gh", "provider": "github", "credential_type": "pat", "value": TOKEN}
        assert bob.post("/credentials", json=cred).status_code == 201
        assert bob.put("/secrets/MY_SECRET", json={"value": SECRET}).status_code == 201
        victim = submit(
            bob, "# victim\n", private.url("origin.git"), agent="victim", git_credential_name="gh"
        )
        wait_phase(bob, victim["id"], "executing")
        hunt = submit(eve, "# hunt\n", repo, agent="hunter")
        done = wait_status(eve, hunt["id"])
        assert done["status"] == "succeeded", done
        found = diff_text(eve, hunt["id"])
        assert bob.post(f"/jobs/{victim['id']}/cancel").status_code in (200, 202)
    keys = (server.data_dir / "keys" / "master.keys").read_bytes().decode("latin-1")
    for needle in (TOKEN, SECRET, "CKRV_JOB_TOKEN", "CKRV_GIT", victim["id"], keys.strip()[:40]):
        assert needle not in found
    pids = {line.split()[1] for line in found.splitlines() if line.startswith("+pid ")}
    assert len(pids) <= 8, pids  # its own few processes, nothing of the machine
    assert "BEGIN PRIVATE KEY" not in found and "SQLite format" not in found
    assert "+uid 65534" in found or f"+uid {os.getuid()}" in found


def test_what_a_job_leaves_running_ends_with_it(server: Server, repo: Path) -> None:
    with server.client(server.add_user("ada@example.com", tier="pro")) as api:
        created = submit(api, "# daemon\n", repo, agent="daemon")
        done = wait_status(api, created["id"])
        assert done["status"] == "succeeded", done
        assert "+started" in diff_text(api, created["id"])  # it ran inside the sandbox
    assert processes_with("ckrv-sandbox-daemon-mark") == []


def test_a_memory_hog_fails_with_the_limit_named(server: Server, repo: Path) -> None:
    with server.client(server.add_user("ada@example.com", tier="pro")) as api:
        created = submit(api, "# hog\n", repo, agent="hog")
        done = wait_status(api, created["id"])
    assert done["status"] == "failed"
    assert (
        "out of memory: limit 200 MiB; raise `memory` for the agent or the job"
        in (done["error_message"])
    )


def test_a_job_that_lowers_its_memory_limit_fails_at_its_own_value(
    server: Server, repo: Path
) -> None:
    with server.client(server.add_user("ada@example.com", tier="pro")) as api:
        # the agent allocates 1 GiB: well under the server's 4 GiB, over the job's 150 MiB
        created = submit(api, "# greedy\n", repo, agent="greedy", limits={"memory": "150M"})
        done = wait_status(api, created["id"])
    assert done["status"] == "failed"
    assert (
        "out of memory: limit 150 MiB; raise `memory` for the agent or the job"
        in done["error_message"]
    )


def test_a_fork_bomb_stops_at_the_process_limit(server: Server, repo: Path) -> None:
    with server.client(server.add_user("ada@example.com", tier="pro")) as api:
        created = submit(api, "# bomb\n", repo, agent="bomb")
        done = wait_status(api, created["id"])
        assert done["status"] == "succeeded", done
        forks = [ln for ln in diff_text(api, created["id"]).splitlines() if ln[1:].isdigit()]
    assert forks and int(forks[0][1:]) < 40, forks


def test_a_server_that_cannot_confine_refuses_two_users(tmp_path: Path) -> None:
    """A bwrap that cannot make a sandbox (as without user namespaces) comes first on PATH."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text(
        "#!/bin/sh\necho 'No permissions to create new namespace' >&2\nexit 1\n"
    )
    (fake / "bwrap").chmod(0o755)
    path = {"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    (tmp_path / "config").mkdir()
    data, conf = tmp_path / "data", tmp_path / "config"
    srv = Server(data, conf, write_config(tmp_path), env_extra=path).start()
    try:
        assert httpx.get(f"{srv.url}/healthz").json()["details"]["users"] == "one user only"
        with srv.client(srv.add_user("ada@example.com", tier="pro")) as ada:
            assert submit(ada, "# one\n", tmp_path / "nope")["status"] == "pending"
            srv.add_user("bob@example.com", tier="pro")
            refused = ada.post("/jobs", json={"spec_content": "# two\n", "git_repo_url": "/x"})
        assert refused.status_code == 409 and "install bubblewrap" in refused.text
    finally:
        srv.shutdown()
    with pytest.raises(RuntimeError, match=r"refuses to start.*holds 2 users"):
        Server(data, conf, write_config(tmp_path), env_extra=path).start()
    explicit = write_config(tmp_path, server_extra='sandbox = "none"')
    srv = Server(data, conf, explicit, env_extra=path).start()
    try:
        details = httpx.get(f"{srv.url}/healthz").json()["details"]
        assert details == {"sandbox": "none", "confined": False, "explicit": details["explicit"]}
        assert "UNCONFINED" in "".join(srv.output)
    finally:
        srv.shutdown()


def test_a_version_managers_shim_on_path_works_inside_while_the_home_stays_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyenv, rbenv and nodenv put ROOT/shims on PATH; a shim execs ROOT/libexec and reads
    ROOT/version. A verify command's `python3` from such a shim runs in the sandbox; the rest
    of the home the shims live in stays hidden."""
    require(probe() == "", f"bubblewrap cannot run here: {probe()}")
    home = tmp_path / "home"
    root = home / ".pyenv"
    (root / "shims").mkdir(parents=True)
    (root / "libexec").mkdir()
    (root / "version").write_text("3.11.7\n")
    (home / "token.txt").write_text("server-home-secret\n")
    manager = root / "libexec" / "pyenv"
    manager.write_text(f'#!/bin/sh\necho "pyenv $(cat {root}/version) runs $2"\n')
    shim = root / "shims" / "python3"
    shim.write_text(f'#!/bin/sh\nexec {manager} exec "${{0##*/}}" "$@"\n')
    for script in (manager, shim):
        script.chmod(0o755)
    path = f"{root / 'shims'}{os.pathsep}/usr/bin{os.pathsep}/bin"
    monkeypatch.setenv("PATH", path)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    sandbox = Sandbox(workspace=workspace, hidden=(tmp_path / "data", home))  # as the server
    sandbox.enter([])
    ran = subprocess.run(
        sandbox.command(["sh", "-c", f"python3 -V; cat {home}/token.txt"], cwd=workspace),
        env=sandbox.environment({"PATH": path}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.stdout.splitlines() == ["pyenv 3.11.7 runs python3"], ran.stderr
    assert "server-home-secret" not in ran.stdout + ran.stderr


def test_a_home_reached_through_a_symlink_stays_hidden_under_both_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/home -> /var/home (Fedora Atomic) or a symlinked data dir: a PATH entry naming the home
    itself, or a `shims` directory of something that is not a version manager, shows nothing
    of the home under either name."""
    require(probe() == "", f"bubblewrap cannot run here: {probe()}")
    real = tmp_path / "var" / "home"
    (real / ".config" / "shims").mkdir(parents=True)
    (real / ".config" / "gh-token.txt").write_text("server-home-secret\n")
    home = tmp_path / "home"
    home.symlink_to(real)
    path = os.pathsep.join([str(home), str(home / ".config" / "shims"), "/usr/bin", "/bin"])
    monkeypatch.setenv("PATH", path)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    sandbox = Sandbox(workspace=workspace, hidden=(tmp_path / "data", home))
    sandbox.enter([])
    look = [f"cat {base}/.config/gh-token.txt; ls -a {base}" for base in (home, real)]
    ran = subprocess.run(
        sandbox.command(["sh", "-c", "; ".join(look)], cwd=workspace),
        env=sandbox.environment({"PATH": path}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "server-home-secret" not in ran.stdout + ran.stderr
    assert "gh-token.txt" not in ran.stdout
