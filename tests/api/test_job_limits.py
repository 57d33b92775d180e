"""A job's `limits` option: each limit checked with a 400 naming the field and what it takes; a
job may only lower the operator's limits (`[server]`, then the agent's table), and the worker
is handed the settled ones."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ckrv.contracts.agents import AgentConfig
from ckrv.server.identity.signing_key import load_signing_key
from ckrv.server.identity.tokens import TokenIssuer
from ckrv.server.jobs import store as jobs
from tests.support.helpers import add_user_direct, app_client, device_login

GIB = 1024**3
SMALL = AgentConfig(
    name="small", command=("true",), limits=(("memory", 1 * GIB), ("processes", 64))
)


@pytest.fixture
def inproc(tmp_path: Path) -> Iterator[Any]:
    """In-process app, dispatch paused, server limits 4G memory, no CPU-time limit, 1024
    processes, 20G disk (the defaults) and an agent `small` with its own lower ones."""
    data = tmp_path / "data"
    with app_client(data, max_concurrent_jobs=0, agents={"small": SMALL}) as client:
        add_user_direct(data, "ada@example.com", tier="pro")
        token = device_login(client, data, "ada@example.com")["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        client.data_dir = data
        yield client


def create(client: Any, limits: Any, agent: str | None = None) -> Any:
    payload = {
        "spec_content": "# Do it\n",
        "git_repo_url": "https://git.example.com/me/app.git",
        "limits": limits,
    }
    if agent:
        payload["agent"] = agent
    return client.post("/v1/jobs", json=payload)


def described_limits(client: Any, job_id: str) -> Any:
    """The limits in the job's description, as its worker gets it: the job dispatched (the
    server is paused) to a stand-in worker holding a token of that attempt."""
    attempt = uuid.uuid4().hex
    with sqlite3.connect(client.data_dir / "ckrv.db", timeout=30) as conn:
        assert jobs.mark_dispatched(conn, job_id, attempt, "local")
    issuer = TokenIssuer(load_signing_key(client.data_dir), "http://127.0.0.1:8420", 900)
    token = issuer.worker_token(job_id, 3600, attempt)
    response = client.get(f"/v1/worker/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()["limits"]


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ([1], "limits must be an object with any of memory, cpu_time, processes, disk"),
        ({"swap": "1G"}, "limits.swap is not a limit; a job may set memory, cpu_time"),
        ({"memory": "lots"}, "limits.memory: invalid size 'lots'"),
        ({"memory": True}, "limits.memory: expected a size such as 4G or 512M"),
        ({"disk": "-1G"}, "limits.disk: invalid size '-1G'"),
        ({"cpu_time": "soon"}, "limits.cpu_time: invalid duration 'soon'"),
        ({"processes": "many"}, "limits.processes: expected a whole number (e.g. 256)"),
        ({"processes": 0}, "limits.processes must be above 0: a job may only lower its limits"),
        ({"memory": "0"}, "limits.memory must be above 0"),
    ],
)
def test_malformed_limits_are_a_400_naming_the_field(
    inproc: Any, limits: Any, message: str
) -> None:
    response = create(inproc, limits)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert message in response.json()["message"]


def test_a_job_may_not_raise_a_limit_and_is_told_which_setting_would(inproc: Any) -> None:
    over_server = create(inproc, {"memory": "8G"})
    assert over_server.status_code == 400
    assert over_server.json()["message"] == (
        "limits.memory = 8 GiB is above the 4 GiB the server gives claude-code jobs; a job "
        "may only lower its limits (an operator raises `[server] memory`)"
    )
    over_agent = create(inproc, {"memory": "2G", "processes": 256}, agent="small")
    assert over_agent.status_code == 400
    assert "limits.memory = 2 GiB is above the 1 GiB" in over_agent.json()["message"]
    assert "raises `[agents.small] memory`" in over_agent.json()["message"]
    processes = create(inproc, {"processes": 65}, agent="small")
    assert "raises `[agents.small] processes`" in processes.json()["message"]
    disk = create(inproc, {"disk": "21G"}, agent="small")  # not in its table: the server's
    assert "raises `[server] disk`" in disk.json()["message"]


def test_lowered_limits_are_stored_and_reach_the_worker_settled(inproc: Any) -> None:
    asked = {"memory": "512M", "cpu_time": "10m", "disk": "5G", "processes": None}
    created = create(inproc, asked, agent="small")
    assert created.status_code == 201, created.text
    assert described_limits(inproc, created.json()["id"]) == {
        "memory": 512 * 1024**2,  # the job's, below the agent's 1 GiB
        "cpu_time": 600,  # the job's; the server sets none
        "processes": 64,  # the agent's: the job left it to the operator
        "disk": 5 * GIB,  # the job's, below the server's 20 GiB
    }


def test_a_job_without_limits_runs_under_the_operators(inproc: Any) -> None:
    created = create(inproc, None, agent="small")
    assert created.status_code == 201, created.text
    assert described_limits(inproc, created.json()["id"]) == {
        "memory": GIB,
        "cpu_time": 0,
        "processes": 64,
        "disk": 20 * GIB,
    }
