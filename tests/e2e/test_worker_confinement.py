"""The agent runs as the worker's own user, and it is code nobody reviewed: a hostile one,
in a real job with a deploy key and a push, must not get the job token or the key, and
nothing it starts may outlive its turn (so nothing watches the push or stays after the job)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import PYTHON, Server, base_env, make_repo
from tests.support.jobhelpers import submit, wait_status
from tests.support.prerequisites import require
from tests.support.servers import write_config
from tests.support.sshd import start_sshd

# Reads the worker's environment as the same user without CAP_SYS_PTRACE (as root: with every
# capability dropped, which is what a same-user process has), copies whatever lies in the
# worker's private git directory, and leaves a daemon (setsid: outside its process group)
# that keeps collecting the deploy key and every CKRV_ variable it can read from any process.
SNOOP = r"""
L="$1"
if [ "$(id -u)" = 0 ]; then D="setpriv --inh-caps=-all --bounding-set=-all"; else D=""; fi
$D cat /proc/$PPID/environ > "$L/environ" 2> "$L/environ.err"
cp ../ckrv-git-*/* ../../*.private/*/* "$L/" 2> /dev/null
setsid $D sh -c 'echo $$ > "$0/daemon.pid"
  while :; do
    cat ../ckrv-git-*/deploy_key ../../*.private/*/deploy_key >> "$0/watched" 2> /dev/null
    for e in /proc/[0-9]*/environ; do tr "\0" "\n" < "$e" 2> /dev/null | grep -a CKRV_ >> "$0/watched"; done
    sleep 0.05
  done' "$L" < /dev/null > /dev/null 2>&1 &
while [ ! -s "$L/daemon.pid" ]; do sleep 0.01; done
echo snooped > snooped.txt
if [ "${2:-}" = hold ]; then echo holding; sleep 60; fi
"""


@pytest.fixture
def loot(tmp_path: Path) -> Iterator[Path]:
    """Where the hostile agent puts what it finds; its daemon is killed afterwards whatever
    the test found (a failed test must not leave it running)."""
    path = tmp_path / "loot"
    path.mkdir()
    yield path
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        os.kill(int((path / "daemon.pid").read_text()), signal.SIGKILL)


def test_a_hostile_agent_gets_no_secret_and_leaves_nothing_running(
    tmp_path: Path, loot: Path
) -> None:
    srv = _server(tmp_path, loot)
    daemon = start_sshd(tmp_path / "sshd")
    try:
        with srv.client(srv.add_user("eve@example.com", tier="pro")) as api:
            key = daemon.client_key
            created = api.post(
                "/credentials",
                json={"name": "deploy", "provider": "generic", "credential_type": "deploy_key"}
                | {"value": key},
            )
            assert created.status_code == 201, created.text
            repo = make_repo(tmp_path / "ssh-repo")
            job = submit(
                api,
                "# Snoop\n",
                daemon.url(repo),
                agent="snoop",
                git_credential_name="deploy",
                push=True,
            )
            done = wait_status(api, job["id"])
            assert done["status"] == "succeeded", done
            assert done["pushed_branch"], done  # the key was there again for the push
            pushed = subprocess.run(
                ["git", "-C", str(repo), "branch", "--list", done["pushed_branch"]],
                capture_output=True,
                text=True,
                check=True,
            )
            assert done["pushed_branch"] in pushed.stdout
    finally:
        daemon.stop()
        srv.shutdown()

    # Nothing of the worker's reached it: not its environment, not the key (no longer on disk).
    key_line = key.splitlines()[1]
    for path in loot.iterdir():
        text = path.read_text(errors="replace")
        assert "CKRV_JOB_TOKEN" not in text, path
        assert key_line not in text, path
    # The daemon it left was ended with its turn, before the push.
    assert _daemon_ended(loot), "the agent's daemon outlived its job"


def test_a_cancelled_job_leaves_nothing_running(tmp_path: Path, loot: Path) -> None:
    srv = _server(tmp_path, loot)
    try:
        with srv.client(srv.add_user("mallory@example.com", tier="pro")) as api:
            job = submit(api, "# Hold\n", make_repo(tmp_path / "repo"), agent="snoop_hold")
            deadline = time.monotonic() + 30
            while not (loot / "daemon.pid").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert api.post(f"/jobs/{job['id']}/cancel").json()["status"] == "cancelled"
            # The executor's SIGTERM reached the worker's process group, which the daemon
            # (setsid) had left; the worker ended it on its way out.
            assert _daemon_ended(loot), "the agent's daemon outlived its cancelled job"
    finally:
        srv.shutdown()


def _server(tmp_path: Path, loot: Path) -> Server:
    agents = f"""
[agents.snoop]
command = ["sh", "-c", {json.dumps(SNOOP)}, "snoop", "{loot}"]
[agents.snoop_hold]
command = ["sh", "-c", {json.dumps(SNOOP)}, "snoop", "{loot}", "hold"]
"""
    (tmp_path / "config").mkdir()
    # Unconfined (one user): what the worker does for itself without a sandbox; the sandbox's
    # own test is tests/e2e/test_sandbox.py.
    config = write_config(tmp_path, agents, server_extra='sandbox = "none"')
    return Server(tmp_path / "data", tmp_path / "config", config).start()


def _daemon_ended(loot: Path, wait: float = 5.0) -> bool:
    pid = int((loot / "daemon.pid").read_text())
    deadline = time.monotonic() + wait
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not Path(f"/proc/{pid}").exists()


PROBE = """
import sys, time
from ckrv.worker.confine import protect_self
if sys.argv[1] == "protect":
    assert protect_self()
print("ready", flush=True)
time.sleep(60)
"""


def _without_capabilities(argv: list[str]) -> list[str]:
    """As root, drop every capability (a same-user process has none); as anyone else, as is."""
    if os.getuid() != 0:
        return argv
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-all", *argv]


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="prctl, which it tests, is Linux's"
)
def test_a_protected_process_keeps_its_environment_from_its_own_user() -> None:
    require(
        os.getuid() != 0 or shutil.which("setpriv") is not None,
        "as root it needs setpriv (util-linux) to drop capabilities",
    )
    env = {**base_env(Path("/nonexistent")), "CKRV_PROBE_SECRET": "s3cret-value"}
    for mode, readable in (("plain", True), ("protect", False)):
        child = subprocess.Popen(
            _without_capabilities([PYTHON, "-c", PROBE, mode]),
            env=env,
            stdout=subprocess.PIPE,
        )
        try:
            assert child.stdout is not None and child.stdout.readline() == b"ready\n"
            probe = subprocess.run(
                _without_capabilities(["cat", f"/proc/{child.pid}/environ"]),
                capture_output=True,
            )
        finally:
            child.kill()
            child.communicate()
        assert (b"CKRV_PROBE_SECRET=s3cret-value" in probe.stdout) is readable, mode
