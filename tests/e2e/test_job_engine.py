"""The job engine end to end: a real server on loopback, real bare git repositories, real worker
subprocesses running the scripted agent."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import Server, git, make_repo, wait_for
from tests.support.jobhelpers import (
    hold_for_a_worker,
    job,
    logs,
    processes_with,
    submit,
    wait_phase,
    wait_status,
)
from tests.support.servers import write_config


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"README.md": "# sample\n", "app.py": "print('hello')\n"})


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    with server.client(server.add_user("ada@example.com", tier="pro")) as client:
        yield client


def diff_of(api: httpx.Client, job_id: str) -> str:
    response = api.get(f"/jobs/{job_id}/artifacts/diff")
    assert response.status_code == 200, response.text
    return str(response.text)


def test_success_produces_the_agents_diff_on_a_feature_branch(
    api: httpx.Client, repo: Path
) -> None:
    spec = (
        "# Add a greeting\nwrite hello.txt Hello\\n\nappend app.py print('bye')\nprint all done\n"
    )
    created = submit(api, spec, repo)
    assert created["status"] == "pending" and created["agent"] == "scripted"
    done = wait_status(api, created["id"])
    assert done["status"] == "succeeded", done
    assert done["feature_branch_name"] == f"ckrv/add-a-greeting-{created['id'][:8]}"
    assert done["base_commit"] == git(repo, "rev-parse", "main")
    assert done["diff_stats"] == {"files_changed": 2, "insertions": 2, "deletions": 0}
    assert done["started_at"] and done["completed_at"] and done["duration_seconds"] >= 0
    diff = diff_of(api, created["id"])
    assert "+Hello" in diff and "+print('bye')" in diff
    # the diff applies cleanly on the base commit
    checkout = repo.parent / "check"
    git(repo.parent, "clone", "-q", str(repo), str(checkout))
    subprocess.run(["git", "apply", "--check", "-"], input=diff.encode(), cwd=checkout, check=True)


def test_logs_are_stored_with_their_source(server: Server, api: httpx.Client, repo: Path) -> None:
    created = submit(api, "print from the agent\nstderr to stderr\n", repo)
    wait_status(api, created["id"])
    messages = logs(server.data_dir, created["id"])
    assert "from the agent" in messages and "to stderr" in messages
    assert any(m.startswith("cloning ") for m in messages)


def test_no_changes_is_a_success_with_an_empty_diff(api: httpx.Client, repo: Path) -> None:
    created = submit(api, "print nothing to do\n", repo)
    done = wait_status(api, created["id"])
    assert done["status"] == "succeeded"
    assert "no changes" in done["result_summary"]
    assert done["diff_stats"] == {"files_changed": 0, "insertions": 0, "deletions": 0}
    assert diff_of(api, created["id"]) == ""


def test_agent_failure_reports_exit_code_and_last_lines(api: httpx.Client, repo: Path) -> None:
    created = submit(api, "print step one\nprint it broke here\nexit 3\n", repo)
    done = wait_status(api, created["id"])
    assert done["status"] == "failed"
    assert "exited with code 3" in done["error_message"]
    assert "it broke here" in done["error_message"]
    response = api.get(f"/jobs/{created['id']}/artifacts/diff")
    assert response.status_code == 404 and "failed" in response.json()["message"]


def test_missing_agent_binary_is_refused_at_creation_naming_the_command(
    tmp_path: Path, config_dir: Path, repo: Path
) -> None:
    config = write_config(
        tmp_path, '\n[agents.ghost]\ncommand = ["ckrv-no-such-agent", "{spec_file}"]\n'
    )
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
    try:
        with srv.client(srv.add_user("bob@example.com")) as api:
            url = repo.as_uri()
            body = {"spec_content": "print hi\n", "git_repo_url": url, "agent": "ghost"}
            refused = api.post("/jobs", json=body)
            assert refused.status_code == 422, refused.text
            assert (
                "needs the command 'ckrv-no-such-agent', which is not installed"
                in (refused.json()["message"])
            )
            assert api.get("/jobs").json()["jobs"] == []
    finally:
        srv.shutdown()


def test_setup_runs_before_the_agent_and_its_failure_fails_the_job(
    api: httpx.Client, repo: Path
) -> None:
    ok = submit(api, "print agent ran\n", repo, setup="echo setting up > setup.txt")
    assert wait_status(api, ok["id"])["status"] == "succeeded"
    assert "setup.txt" in diff_of(api, ok["id"])
    bad = wait_status(
        api, submit(api, "print agent ran\n", repo, setup="echo broken >&2; exit 4")["id"]
    )
    assert bad["status"] == "failed" and "setup command exited with code 4" in bad["error_message"]


def test_timeout_kills_every_process_of_the_job(
    server: Server, api: httpx.Client, repo: Path
) -> None:
    created = submit(api, "print going to sleep\nsleep 300\n", repo, timeout_seconds=2)
    done = wait_status(api, created["id"], timeout=30)
    assert done["status"] == "timeout"
    assert "timeout of 2 s" in done["error_message"]
    wait_for(lambda: not processes_with(created["id"]), timeout=10, what="job processes to be gone")
    assert api.get(f"/jobs/{created['id']}/artifacts/diff").status_code == 404
    assert "timeout" in logs(server.data_dir, created["id"])[-1]


def test_cancel_while_running_stops_the_worker(api: httpx.Client, repo: Path) -> None:
    created = submit(api, "print started\nsleep 300\n", repo)
    wait_phase(api, created["id"], "executing")
    response = api.post(f"/jobs/{created['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    wait_for(lambda: not processes_with(created["id"]), timeout=10, what="job processes to be gone")
    assert job(api, created["id"])["status"] == "cancelled"
    assert api.post(f"/jobs/{created['id']}/cancel").status_code == 409


def test_cancel_while_pending(tmp_path: Path, config_dir: Path, repo: Path) -> None:
    config = write_config(tmp_path, capacity=0)
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
    try:
        with srv.client(srv.add_user("bob@example.com")) as api:
            created = submit(api, "print hi\n", repo)
            cancelled = api.post(f"/jobs/{created['id']}/cancel").json()
            assert cancelled["status"] == "cancelled" and cancelled["started_at"] is None
    finally:
        srv.shutdown()


def test_sigkill_of_the_worker_fails_the_job_with_a_reason(api: httpx.Client, repo: Path) -> None:
    import os
    import signal

    created = submit(api, "print started\nsleep 300\n", repo)
    wait_phase(api, created["id"], "executing")
    workers = [
        p
        for p in processes_with(created["id"])
        # the worker itself, not a sandbox or agent process whose paths mention "worker"
        if Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[1:3] == [b"-m", b"ckrv.worker"]
    ]
    assert workers
    os.kill(workers[0], signal.SIGKILL)
    done = wait_status(api, created["id"], timeout=20)
    assert done["status"] == "failed"
    assert "worker exited" in done["error_message"]
    wait_for(lambda: not processes_with(created["id"]), timeout=10, what="the agent to be gone too")


def test_server_sigkill_mid_job_then_restart_finishes_the_job(server: Server, repo: Path) -> None:
    token = server.add_user("carol@example.com")
    with server.client(token) as api:
        created = submit(
            api, "print started\nsleep 3\nwrite after.txt survived\\n\nprint finished\n", repo
        )
        wait_phase(api, created["id"], "executing")
    server.kill()
    server.start(port=server.port)
    with server.client(token) as api:
        done = wait_status(api, created["id"], timeout=60)
        assert done["status"] == "succeeded", done
        assert "+survived" in diff_of(api, created["id"])
        messages = logs(server.data_dir, created["id"])
        assert messages.count("finished") == 1 and messages.count("started") == 1


def test_pending_jobs_survive_a_server_kill(tmp_path: Path, config_dir: Path, repo: Path) -> None:
    config = write_config(tmp_path, capacity=0)
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
    token = srv.add_user("dan@example.com", tier="pro")
    with srv.client(token) as api:
        ids = [submit(api, f"write f{i}.txt {i}\\n\n", repo)["id"] for i in range(3)]
    srv.kill()
    write_config(tmp_path, capacity=2)
    srv.start(port=srv.port)
    try:
        with srv.client(token) as api:
            assert [wait_status(api, i)["status"] for i in ids] == ["succeeded"] * 3
    finally:
        srv.shutdown()


def test_a_diff_over_the_size_cap_fails_the_job_saying_so(
    tmp_path: Path, config_dir: Path, repo: Path
) -> None:
    config = write_config(tmp_path, server_extra="max_diff_bytes = 2000\n")
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
    try:
        with srv.client(srv.add_user("big@example.com", tier="pro")) as api:
            created = submit(api, "# Big\nwrite big.txt " + "x" * 3000 + "\n", repo)
            done = wait_status(api, created["id"])
            assert done["status"] == "failed", done
            assert "over the server's limit of 2000 bytes" in done["error_message"]
            missing = api.get(f"/jobs/{created['id']}/artifacts/diff")
            assert missing.status_code == 404 and missing.json()["error"] == "no_diff"
    finally:
        srv.shutdown()


def test_the_server_refuses_an_upload_over_the_cap_and_keeps_no_part_of_it(
    tmp_path: Path, config_dir: Path, repo: Path
) -> None:
    """A worker that ignores the cap it was told: 413, and nothing half-written is left."""
    config = write_config(tmp_path, capacity=0, server_extra="max_diff_bytes = 2000\n")
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
    try:
        with srv.client(srv.add_user("liar@example.com", tier="pro")) as api:
            job_id = submit(api, "print held\n", repo)["id"]
        token = hold_for_a_worker(srv, job_id)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=srv.api_url, headers=headers) as worker:
            too_big = worker.put(f"/worker/jobs/{job_id}/diff", content=b"+" * 2001)
            assert too_big.status_code == 413, too_big.text
            assert "2000 bytes" in too_big.json()["message"]
            job_dir = srv.data_dir / "artifacts" / job_id
            assert not job_dir.exists() or list(job_dir.iterdir()) == []
            fits = worker.put(f"/worker/jobs/{job_id}/diff", content=b"+" * 2000)
            assert fits.json() == {"bytes": 2000}
            assert [p.name for p in job_dir.iterdir()] == ["diff.patch"]
    finally:
        srv.shutdown()
