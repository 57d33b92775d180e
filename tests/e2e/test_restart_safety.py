"""SECURITY 26: restart safety. `ckrv serve` is killed with SIGKILL while jobs wait and run;
after a restart every job reaches a true terminal state exactly once (its agent ran once, its
log holds each line once), none is left running, and no worker process outlives its job.
(tests/e2e/test_job_engine.py covers one running job, and waiting jobs alone, across a kill.)"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import Server, make_repo, wait_for
from tests.support.jobhelpers import job, logs, processes_with, submit, wait_status
from tests.support.servers import write_config

pytestmark = pytest.mark.slow


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def srv(tmp_path: Path, config_dir: Path) -> Iterator[Server]:
    # Unconfined: the agents count their runs in one file outside every checkout, which a
    # sandboxed agent cannot reach.
    config = write_config(tmp_path, capacity=2, server_extra='sandbox = "none"')
    server = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
    yield server
    server.shutdown()


def nothing_left_of(server: Server, job_id: str) -> None:
    """No process of the job (worker, agent) and no workspace remains."""
    wait_for(
        lambda: not processes_with(job_id), timeout=10, what=f"job {job_id}'s processes to end"
    )
    wait_for(
        lambda: not (server.data_dir / "workspaces" / job_id).exists(),
        timeout=10,
        what=f"job {job_id}'s workspace to go",
    )


def worker_pid(job_id: str) -> int:
    """The worker process of a job (`python -m ckrv.worker`, not its agent)."""
    (pid,) = [
        p
        for p in processes_with(job_id)
        if b"\x00-m\x00ckrv.worker\x00" in Path(f"/proc/{p}/cmdline").read_bytes()
    ]
    return pid


def running(api, ids: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    return [i for i in ids if job(api, i)["phase"] == "executing"]


def test_a_killed_server_loses_no_job_and_runs_none_twice(
    tmp_path: Path, srv: Server, repo: Path
) -> None:
    ran = tmp_path / "ran.log"  # outside every checkout: one line per run of an agent
    token = srv.add_user("ada@example.com", tier="pro")
    with srv.client(token) as api:
        ids = [
            submit(
                api,
                f"# Job {i}\nappend {ran} job-{i}\nprint job-{i} started\nsleep 2\n"
                f"append once.txt job-{i}\nprint job-{i} finished\n",
                repo,
            )["id"]
            for i in range(5)
        ]

        def two_running() -> list[str] | None:
            found = running(api, ids)
            return found if len(found) == 2 else None

        busy = wait_for(two_running, timeout=60, what="two jobs running")
        assert [job(api, i)["status"] for i in ids if i not in busy] == ["pending"] * 3
    srv.kill()
    assert all(processes_with(i) for i in busy), "a worker died with the server"
    srv.start(port=srv.port)

    with srv.client(token) as api:
        done = [wait_status(api, i, timeout=90) for i in ids]
        assert [d["status"] for d in done] == ["succeeded"] * 5, [d["error_message"] for d in done]
        listed = api.get("/jobs", params={"limit": 100}).json()["jobs"]
        assert {j["status"] for j in listed} == {"succeeded"}
        for i, job_id in enumerate(ids):
            diff = api.get(f"/jobs/{job_id}/artifacts/diff").text
            assert diff.count(f"+job-{i}") == 1, diff
    assert sorted(ran.read_text().splitlines()) == [f"job-{i}" for i in range(5)]
    for i, job_id in enumerate(ids):
        messages = logs(srv.data_dir, job_id)
        for line in (f"job-{i} started", f"job-{i} finished"):
            assert messages.count(line) == 1, (line, messages)
        assert sum(m.startswith("cloning ") for m in messages) == 1, messages
        nothing_left_of(srv, job_id)


def test_a_worker_lost_while_the_server_is_down_fails_its_job(srv: Server, repo: Path) -> None:
    token = srv.add_user("bob@example.com", tier="pro")
    with srv.client(token) as api:
        lost = submit(api, "print started\nsleep 300\n", repo)["id"]
        kept = submit(
            api, "print started\nsleep 2\nwrite kept.txt kept\\n\nprint finished\n", repo
        )["id"]
        wait_for(
            lambda: running(api, [lost, kept]) == [lost, kept], timeout=60, what="both jobs running"
        )
    srv.kill()
    os.kill(worker_pid(lost), signal.SIGKILL)  # the worker crashes while nobody watches
    srv.start(port=srv.port)

    with srv.client(token) as api:
        failed = wait_status(api, lost, timeout=30)
        assert failed["status"] == "failed", failed
        assert "worker" in failed["error_message"] and "restart" in failed["error_message"]
        assert logs(srv.data_dir, lost)[-1] == failed["error_message"]  # said in its log too
        assert wait_status(api, kept, timeout=60)["status"] == "succeeded"  # its neighbour lives on
        listed = api.get("/jobs").json()["jobs"]
        assert sorted(j["status"] for j in listed) == ["failed", "succeeded"]
    for job_id in (lost, kept):  # the lost worker's agent too, not only the worker
        nothing_left_of(srv, job_id)
