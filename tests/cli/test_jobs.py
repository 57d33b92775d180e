"""`ckrv status`, `ckrv jobs`, `ckrv cancel`, and the quota exit code, in-process against real
servers: one with dispatch paused (capacity 0, so jobs stay pending as long as a test needs) and
one that runs jobs. Watching until another command cancels, and colour on a real terminal, run
`ckrv` as a process."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import ROOT, Cli, Server, make_repo
from tests.support.inprocess import InProcessCli
from tests.support.jobhelpers import submit, wait_status
from tests.support.servers import start_server


@pytest.fixture(scope="module")
def paused(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("paused"), capacity=0)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("repo"))


def cli_for(server: Server, token: str, tmp_path: Path) -> InProcessCli:
    config_dir = tmp_path / "cli-config"
    config_dir.mkdir(exist_ok=True)
    return InProcessCli(config_dir=config_dir, api_url=server.api_url, token=token, cwd=tmp_path)


def process_cli(server: Server, token: str, tmp_path: Path) -> Cli:
    """The same, for `ckrv` run as a real process."""
    config_dir = tmp_path / "cli-config"
    config_dir.mkdir(exist_ok=True)
    return Cli(config_dir=config_dir, api_url=server.api_url, token=token, cwd=tmp_path)


def copy_job(server: Server, source_id: str, new_id: str) -> None:
    """A second row like `source_id` under a chosen id (ids are random uuid4s, so two sharing
    an 8-character prefix have to be made)."""
    conn = sqlite3.connect(server.data_dir / "ckrv.db", timeout=30)
    try:
        with conn:
            conn.execute(
                "INSERT INTO jobs (id, user_id, status, agent, spec_content, git_repo_url, git_base_branch,"
                " spec_title, timeout_seconds, feature_branch_name, created_at)"
                " SELECT ?, user_id, status, agent, spec_content, git_repo_url, git_base_branch, spec_title,"
                " timeout_seconds, feature_branch_name, created_at FROM jobs WHERE id = ?",
                (new_id, source_id),
            )
    finally:
        conn.close()


def test_jobs_pages_through_the_cursor_past_100(paused: Server, repo: Path, tmp_path: Path) -> None:
    token = paused.add_user("many@example.com", tier="enterprise")
    with paused.client(token) as api:
        created = [submit(api, f"# job {i}\nprint {i}\n", repo)["id"] for i in range(105)]
        cli = cli_for(paused, token, tmp_path)
        listed = cli.json("jobs", "--limit", "104")
        assert [j["id"] for j in listed] == created[::-1][:104]  # newest first, none twice
        first_page = api.get("/jobs", params={"limit": 100}).json()
        assert listed[:100] == first_page["jobs"]

        table = cli.run("jobs", "--limit", "3", "--status", "pending")
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].split() == [
            "ID",
            "STATUS",
            "PHASE",
            "AGENT",
            "TITLE",
            "REPOSITORY",
            "AGE",
            "DURATION",
        ]
        assert [line.split()[0] for line in lines[1:]] == [i[:8] for i in created[::-1][:3]]
        assert all(line.split()[1:4] == ["pending", "-", "scripted"] for line in lines[1:])
        assert [line.split()[4:6] for line in lines[1:]] == [
            ["job", "104"],
            ["job", "103"],
            ["job", "102"],
        ]
        assert cli.json("jobs", "--status", "failed") == []


def test_status_shows_a_pending_job_with_unknown_eta(
    paused: Server, repo: Path, tmp_path: Path
) -> None:
    token = paused.add_user("status@example.com", tier="pro")
    with paused.client(token) as api:
        job = submit(api, "# Tidy the readme\nprint x\n", repo, git_base_branch="main")
    result = cli_for(paused, token, tmp_path).run("status", job["id"][:8])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Job {job['id']}" in out
    for line in (
        "status      pending",
        "spec        Tidy the readme",
        "agent       scripted",
        f"repository  {repo.as_uri()}",
        "base        main",
        "eta         unknown",
    ):
        assert line in out
    assert "ago (" in out  # created: relative, then the local time
    assert f"ckrv cancel {job['id'][:8]}" in out and f"ckrv logs {job['id'][:8]} -f" in out


def test_an_ambiguous_prefix_lists_the_matches(paused: Server, repo: Path, tmp_path: Path) -> None:
    token = paused.add_user("twins@example.com", tier="pro")
    with paused.client(token) as api:
        source = submit(api, "# Twin\nprint twin\n", repo)["id"]
    first, second = "abcdef12-0000-4000-8000-000000000001", "abcdef12-0000-4000-8000-100000000002"
    copy_job(paused, source, first)
    copy_job(paused, source, second)
    cli = cli_for(paused, token, tmp_path)
    result = cli.run("status", "abcdef12")
    assert result.returncode == 2
    assert "ambiguous" in result.stderr and first in result.stderr and second in result.stderr
    assert (
        cli.json("status", "abcdef12-0000-4000-8000-0000000000")["id"] == first
    )  # unique longer prefix
    assert cli.run("status", "abcdef1").returncode == 2  # under 8 characters
    missing = cli.run("status", "fedcba98")
    assert missing.returncode == 4 and "no job whose id starts with fedcba98" in missing.stderr


def test_cancel_a_pending_job_then_again(paused: Server, repo: Path, tmp_path: Path) -> None:
    token = paused.add_user("cancel@example.com", tier="pro")
    with paused.client(token) as api:
        job = submit(api, "print never runs\n", repo)
        cli = cli_for(paused, token, tmp_path)
        result = cli.run("cancel", job["id"][:8])
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"job {job['id'][:8]} is cancelled"
        assert api.get(f"/jobs/{job['id']}").json()["status"] == "cancelled"
        again = cli.run("cancel", job["id"][:8])
        assert again.returncode == 1 and "already ended (cancelled)" in again.stderr


def test_quota_exceeded_exits_5_saying_when_it_resets(
    paused: Server, repo: Path, tmp_path: Path
) -> None:
    token = paused.add_user("free@example.com", tier="free")
    with paused.client(token) as api:
        for i in range(10):
            submit(api, f"print {i}\n", repo)
    spec = tmp_path / "spec.md"
    spec.write_text("print one more\n")
    result = cli_for(paused, token, tmp_path).run(
        "run", "--cloud", "--spec", str(spec), "--repo", repo.as_uri(), "--base-branch", "main"
    )
    assert result.returncode == 5
    assert "quota of the free tier (10 jobs per month) is used up" in result.stderr
    assert "it resets on 20" in result.stderr and "(in " in result.stderr


def test_watch_a_running_job_until_cancelled_exits_7(
    live: Server, repo: Path, tmp_path: Path
) -> None:
    token = live.add_user("watch@example.com", tier="pro")
    with live.client(token) as api:
        for quick in [submit(api, f"print {i}\n", repo) for i in range(3)]:
            assert wait_status(api, quick["id"])["status"] == "succeeded"
        job = submit(api, "# Slow\nsleep 60\n", repo)
        wait_status(api, job["id"], {"running"})
        cli = cli_for(live, token, tmp_path)
        shown = cli.run("status", job["id"][:8])
        eta = next(line for line in shown.stdout.splitlines() if line.startswith("  eta "))
        assert "unknown" not in eta  # three successes: the median is known

        watcher = subprocess.Popen(
            [sys.executable, "-m", "ckrv", "status", job["id"][:8], "--watch"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=process_cli(live, token, tmp_path).env(),
            cwd=ROOT,
        )
        assert watcher.stdout is not None
        first = watcher.stdout.readline()  # printed once the watch is under way
        assert "running" in first
        assert cli.run("cancel", job["id"][:8]).returncode == 0
        out, err = watcher.communicate(timeout=60)
        assert watcher.returncode == 7
        assert "status      cancelled" in out
        assert f"job {job['id'][:8]} ended cancelled" in err


def test_watch_json_prints_one_job_per_change(live: Server, repo: Path, tmp_path: Path) -> None:
    token = live.add_user("watchjson@example.com", tier="pro")
    with live.client(token) as api:
        job = submit(api, "print hi\n", repo)
        result = cli_for(live, token, tmp_path).run("status", job["id"], "--watch", "--json")
        assert result.returncode == 0, result.stderr
        events: list[dict[str, Any]] = [json.loads(line) for line in result.stdout.splitlines()]
        assert events[-1] == api.get(f"/jobs/{job['id']}").json()
        assert events[-1]["status"] == "succeeded"
        assert all(e["id"] == job["id"] for e in events)


def test_every_command_has_an_example_in_its_help(tmp_path: Path) -> None:
    cli = InProcessCli(config_dir=tmp_path)
    for command in ("run", "status", "jobs", "pull", "cancel"):
        result = cli.run(command, "--help")
        assert result.returncode == 0
        assert "Example:" in result.stdout and f"ckrv {command}" in result.stdout


def test_no_job_listing_without_a_server(tmp_path: Path) -> None:
    cli = InProcessCli(config_dir=tmp_path, api_url="http://127.0.0.1:9/v1", token="x")
    result = cli.run("jobs")
    assert result.returncode == 6


def on_a_terminal(argv: list[str], env: dict[str, str]) -> str:
    """Run `ckrv ARGV` with a pseudo-terminal as its stdout and stderr; what it wrote."""
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ckrv", *argv], stdout=slave, stderr=slave, env=env, cwd=ROOT
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_never_with_no_color_times_in_the_local_zone(
    paused: Server, repo: Path, tmp_path: Path
) -> None:
    token = paused.add_user("colour@example.com", tier="pro")
    with paused.client(token) as api:
        job = submit(api, "print x\n", repo)
    cli = process_cli(paused, token, tmp_path)
    env = {k: v for k, v in cli.env(TZ="Asia/Kolkata").items() if k != "NO_COLOR"}
    coloured = on_a_terminal(["status", job["id"][:8]], env)
    assert "\x1b[" in coloured and "pending" in coloured
    assert " IST)" in coloured  # created: ... (YYYY-MM-DD HH:MM:SS IST)
    plain = on_a_terminal(["status", job["id"][:8]], {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in plain and "pending" in plain
    piped = subprocess.run(
        [sys.executable, "-m", "ckrv", "status", job["id"][:8]],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert "\x1b[" not in piped.stdout and "pending" in piped.stdout
