"""`ckrv run` as a user runs it (in-process) in a real checkout, against a real server on
loopback whose workers run the scripted agent; and without --cloud, the same pipeline here (as
a real process: see `process_cli`)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.support import user_checkout
from tests.support.helpers import Cli, Server, git, make_repo, wait_for
from tests.support.inprocess import InProcessCli
from tests.support.jobhelpers import wait_status
from tests.support.servers import write_config

api = user_checkout.api  # the shared fixture (tests/support/user_checkout.py)

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
GREETING = (
    "# Add a greeting\nwrite hello.txt Hello\\n\nappend app.py print('bye')\nprint agent-was-here\n"
)


@pytest.fixture(scope="module")
def token(live: Server) -> str:
    return live.add_user("runner@example.com", tier="enterprise")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A clone of a fresh bare repository, as a user has it."""
    bare = make_repo(tmp_path / "remote", {"README.md": "# sample\n", "app.py": "print('hello')\n"})
    git(tmp_path, "clone", "-q", str(bare), "work")
    return tmp_path / "work"


@pytest.fixture
def ckrv(live: Server, token: str, checkout: Path, tmp_path: Path) -> InProcessCli:
    config_dir = tmp_path / "cli-config"
    config_dir.mkdir()
    # The local run reads its agents from here: the same scripted agent the server runs.
    shutil.copy(write_config(tmp_path), config_dir / "config.toml")
    return InProcessCli(config_dir=config_dir, api_url=live.api_url, token=token, cwd=checkout)


@pytest.fixture
def process_cli(ckrv: InProcessCli) -> Cli:
    """`ckrv` as a real process: a local run is the worker pipeline in the CLI's own process,
    which ends every process that process started (a test's server among them)."""
    return Cli(config_dir=ckrv.config_dir, api_url=ckrv.api_url, token=ckrv.token, cwd=ckrv.cwd)


def spec_file(tmp_path: Path, text: str = GREETING) -> str:
    path = tmp_path / "spec.md"
    path.write_text(text)
    return str(path)


def job_id_in(output: str) -> str:
    match = UUID.search(output)
    assert match, output
    return match.group(0)


def test_run_status_by_prefix_then_pull_changes_the_working_tree_as_the_diff_says(
    ckrv: InProcessCli, api: httpx.Client, checkout: Path, tmp_path: Path
) -> None:
    queued = ckrv.run("run", "--cloud", "--spec", spec_file(tmp_path))
    assert queued.returncode == 0, queued.stderr
    job_id = job_id_in(queued.stdout)
    short = job_id[:8]
    assert f"ckrv status {short}" in queued.stdout and f"ckrv pull {short}" in queued.stdout
    assert queued.stderr == ""  # the checkout has nothing unpushed: no warning

    watched = ckrv.run("status", short, "--watch")
    assert watched.returncode == 0, watched.stderr
    assert "succeeded" in watched.stdout

    shown = ckrv.run("status", short)
    assert shown.returncode == 0, shown.stderr
    base = git(checkout, "rev-parse", "HEAD")
    for expected in (
        "succeeded",
        "scripted",
        f"main @ {base[:12]}",
        f"ckrv/add-a-greeting-{short}",
        "2 files changed, 2 insertions(+), 0 deletions(-)",
        f"ckrv pull {short}",
    ):
        assert expected in shown.stdout

    pulled = ckrv.run("pull", short)
    assert pulled.returncode == 0, pulled.stderr
    assert "2 files changed" in pulled.stdout and "git diff" in pulled.stdout
    assert (checkout / "hello.txt").read_text() == "Hello\n"
    assert (checkout / "app.py").read_text() == "print('hello')\nprint('bye')\n"
    git(checkout, "add", "-A")
    assert (
        git(checkout, "diff", "--cached", "--binary")
        == api.get(f"/jobs/{job_id}/artifacts/diff").text.strip()
    )


def test_json_output_is_the_api_job(ckrv: InProcessCli, api: httpx.Client, tmp_path: Path) -> None:
    created = ckrv.json("run", "--cloud", "--spec", spec_file(tmp_path))
    assert created["status"] == "pending" and created["agent"] == "scripted"
    assert created["git_base_branch"] == "main"
    assert set(created) == set(api.get(f"/jobs/{created['id']}").json())

    ended = wait_status(api, created["id"])
    assert (
        ckrv.json("status", created["id"][:8]) == api.get(f"/jobs/{created['id']}").json() == ended
    )
    listed = ckrv.json("jobs", "--limit", "3")
    assert listed == api.get("/jobs", params={"limit": 3}).json()["jobs"]


def test_unpushed_commits_and_changes_are_warned_about(
    ckrv: InProcessCli, checkout: Path, tmp_path: Path
) -> None:
    (checkout / "app.py").write_text("print('local')\n")
    git(checkout, "commit", "-qam", "local work")
    (checkout / "README.md").write_text("# edited\n")
    result = ckrv.run("run", "--cloud", "--spec", spec_file(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "1 local commit on main not pushed to origin" in result.stderr
    assert "uncommitted changes" in result.stderr
    assert "The worker only sees what is pushed." in result.stderr


def test_wait_exits_7_when_the_job_fails_and_0_when_it_succeeds(
    ckrv: InProcessCli, tmp_path: Path
) -> None:
    failed = ckrv.run(
        "run", "--cloud", "--spec", spec_file(tmp_path, "print about to fail\nexit 3\n"), "--wait"
    )
    assert failed.returncode == 7, failed.stderr
    short = job_id_in(failed.stdout)[:8]
    assert f"job {short} ended failed" in failed.stderr and f"ckrv logs {short}" in failed.stderr

    followed = ckrv.run("run", "--cloud", "--spec", spec_file(tmp_path), "--follow")
    assert followed.returncode == 0, followed.stderr
    assert "scripted: agent-was-here" in followed.stdout  # the agent's own line, live
    assert "succeeded" in followed.stdout

    waited = ckrv.run("run", "--cloud", "--spec", spec_file(tmp_path), "--wait", "--json")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["status"] == "succeeded"


def test_not_logged_in_exits_3(ckrv: InProcessCli, tmp_path: Path) -> None:
    ckrv.token = None
    result = ckrv.run("run", "--cloud", "--spec", spec_file(tmp_path))
    assert result.returncode == 3
    assert "not logged in" in result.stderr and "ckrv cloud login" in result.stderr


def test_unreachable_server_exits_6_and_suggests_a_local_run(
    ckrv: InProcessCli, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ckrv.api_url = f"http://127.0.0.1:{port}/v1"
    result = ckrv.run("run", "--cloud", "--spec", spec_file(tmp_path))
    assert result.returncode == 6
    assert "cannot reach the ckrv server" in result.stderr
    assert "drop --cloud" in result.stderr


def test_unknown_credential_exits_4_listing_the_users_credentials(
    ckrv: InProcessCli, api: httpx.Client, tmp_path: Path
) -> None:
    body = {
        "name": "deploy-app",
        "provider": "generic",
        "credential_type": "pat",
        "value": "tok-" + "x" * 30,
    }
    assert api.post("/credentials", json=body).status_code == 201
    before = len(api.get("/jobs", params={"limit": 100}).json()["jobs"])
    result = ckrv.run("run", "--cloud", "--spec", spec_file(tmp_path), "--credential", "nope")
    assert result.returncode == 4
    assert "no git credential named 'nope'" in result.stderr and "deploy-app" in result.stderr
    assert len(api.get("/jobs", params={"limit": 100}).json()["jobs"]) == before


def test_a_local_run_produces_the_same_diff_as_the_cloud_run(
    ckrv: InProcessCli, process_cli: Cli, api: httpx.Client, checkout: Path, tmp_path: Path
) -> None:
    spec = spec_file(tmp_path)
    cloud = json.loads(ckrv.run("run", "--cloud", "--spec", spec, "--wait", "--json").stdout)
    cloud_diff = api.get(f"/jobs/{cloud['id']}/artifacts/diff").text

    head = git(checkout, "rev-parse", "HEAD")
    local = process_cli.run("run", "--spec", spec, "--json")
    assert local.returncode == 0, local.stderr
    result = json.loads(local.stdout)
    assert "scripted: agent-was-here" in local.stderr  # the log, live (stderr when --json)
    assert result["status"] == "succeeded" and result["base_commit"] == cloud["base_commit"] == head
    branch = result["feature_branch_name"]
    assert branch == f"ckrv/add-a-greeting-{result['id'][:8]}"
    assert git(checkout, "diff", "--binary", head, branch) + "\n" == cloud_diff
    assert git(checkout, "log", "-1", "--format=%s", branch) == "Add a greeting"
    # the user's checkout is untouched: same branch, same commit, clean tree
    assert git(checkout, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(checkout, "rev-parse", "HEAD") == head
    assert git(checkout, "status", "--porcelain") == ""


def test_a_local_run_that_fails_exits_7_and_leaves_no_branch(
    process_cli: Cli, checkout: Path, tmp_path: Path
) -> None:
    result = process_cli.run(
        "run", "--spec", spec_file(tmp_path, "write x.txt x\nstderr broken\nexit 2\n")
    )
    assert result.returncode == 7
    assert "scripted: broken" in result.stdout
    assert "the agent exited with code 2" in result.stderr
    assert git(checkout, "branch", "--list", "ckrv/*") == ""


def test_cloud_only_options_are_refused_for_a_local_run(ckrv: InProcessCli, tmp_path: Path) -> None:
    result = ckrv.run("run", "--spec", spec_file(tmp_path), "--repo", "https://example.com/x.git")
    assert result.returncode == 2
    assert "--repo only applies to --cloud runs" in result.stderr


def test_outside_a_checkout_repo_is_needed_and_the_branch_defaults_to_the_servers(
    ckrv: InProcessCli, checkout: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ckrv.cwd = elsewhere
    missing = ckrv.run("run", "--cloud", "--spec", spec_file(tmp_path))
    assert missing.returncode == 2 and "not inside a git repository" in missing.stderr
    origin = git(checkout, "remote", "get-url", "origin")
    created = ckrv.json("run", "--cloud", "--spec", spec_file(tmp_path), "--repo", origin)
    assert created["git_repo_url"] == origin and created["git_base_branch"] == "main"


def test_a_local_run_past_its_timeout_is_stopped(
    process_cli: Cli, checkout: Path, tmp_path: Path
) -> None:
    result = process_cli.run(
        "run", "--spec", spec_file(tmp_path, "write x.txt x\nsleep 60\n"), "--timeout", "1s"
    )
    assert result.returncode == 7
    assert "ended timeout: the run went past its timeout of 1 s" in result.stderr
    assert git(checkout, "branch", "--list", "ckrv/*") == ""


def test_network_options_reach_the_job_and_are_cloud_only(
    ckrv: InProcessCli, live: Server, tmp_path: Path
) -> None:
    spec = spec_file(tmp_path)
    created = ckrv.json(
        "run", "--cloud", "--spec", spec, "--network", "allowlist", "--allow-host", "pypi.org"
    )
    assert created["network"] == {
        "mode": "allowlist",
        "allowed_hosts": ["pypi.org"],
        "source": "the job's network option",
    }
    local = ckrv.run("run", "--spec", spec, "--network", "none")
    assert local.returncode == 2
    assert "--network only applies to --cloud runs" in local.stderr

    def ended() -> bool:  # the job's worker must not outlive the test
        with sqlite3.connect(live.data_dir / "ckrv.db") as conn:
            query = "SELECT status FROM jobs WHERE id = ?"
            status = conn.execute(query, (created["id"],)).fetchone()[0]
        return status not in ("pending", "running")

    wait_for(ended, timeout=60, what="the job to end")


def test_limit_options_reach_the_job_and_are_cloud_only(
    ckrv: InProcessCli, live: Server, tmp_path: Path
) -> None:
    spec = spec_file(tmp_path)
    created = ckrv.json(
        "run", "--cloud", "--spec", spec, "--memory", "2G", "--cpu-time", "10m",
        "--processes", "256", "--disk", "5G",
    )  # fmt: skip
    row = sqlite3.connect(live.data_dir / "ckrv.db").execute(
        "SELECT limits FROM jobs WHERE id = ?", (created["id"],)
    )
    assert json.loads(row.fetchone()[0]) == {
        "memory": 2 * 1024**3,
        "cpu_time": 600,
        "processes": 256,
        "disk": 5 * 1024**3,
    }
    over = ckrv.run("run", "--cloud", "--spec", spec, "--memory", "64G")
    assert over.returncode == 1
    assert "limits.memory = 64 GiB is above the 4 GiB" in over.stderr
    assert "raises `[server] memory`" in over.stderr
    for flag, value in (("--memory", "2G"), ("--cpu-time", "1m"), ("--processes", "8")):
        local = ckrv.run("run", "--spec", spec, flag, value)
        assert local.returncode == 2
        assert f"{flag} only applies to --cloud runs" in local.stderr

    def ended() -> bool:  # the job's worker must not outlive the test
        with sqlite3.connect(live.data_dir / "ckrv.db") as conn:
            query = "SELECT status FROM jobs WHERE id = ?"
            status = conn.execute(query, (created["id"],)).fetchone()[0]
        return status not in ("pending", "running")

    wait_for(ended, timeout=60, what="the job to end")


def test_a_local_run_verifies_and_uses_fix_rounds_like_a_cloud_run(
    process_cli: Cli, checkout: Path, tmp_path: Path
) -> None:
    spec = spec_file(
        tmp_path,
        "# Make it pass\nwrite state.txt broken\\n\ncost 0.1\n"
        "onfix show CKRV_VERIFY_OUTPUT_FILE\nonfix write state.txt fixed\\n\nonfix cost 0.2\n",
    )
    check = "echo checking state.txt; grep -q fixed state.txt"
    result = process_cli.run("run", "--spec", spec, "--verify", check, "--fix-rounds", "2")
    assert result.returncode == 0, result.stderr
    assert "fix round 1 of 2: the agent gets the failing output" in result.stdout
    assert "[exit code 1]" in result.stdout  # the agent of the fix round was shown the failure
    assert "verify: verified after 1 fix round (verify passed)" in result.stdout
    assert "verify passed after 1 fix round" in result.stdout  # the summary
    assert "cost: $0.30 (as the agent reported it)" in result.stdout  # both runs
    branch = git(checkout, "branch", "--list", "--format=%(refname:short)", "ckrv/*")
    assert git(checkout, "show", f"{branch}:state.txt") == "fixed"

    unfixed = process_cli.run("run", "--spec", spec, "--verify", check, "--json")
    assert unfixed.returncode == 0, unfixed.stderr
    job = json.loads(unfixed.stdout)
    assert (job["verified"], job["rounds"], job["fix_rounds"]) == (False, 0, 0)
    assert job["verify"] == [check]

    over = process_cli.run("run", "--spec", spec, "--verify", check, "--fix-rounds", "9")
    assert over.returncode == 2 and "--fix-rounds 9 is over max_fix_rounds (3)" in over.stderr
