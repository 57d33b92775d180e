"""Live logs end to end: a real server on loopback, real workers running the scripted agent, and
`ckrv logs` as a real process (or a raw HTTP follower where the test needs to see the wire)."""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.helpers import PYTHON, ROOT, Cli, Server, make_repo, wait_for
from tests.support.jobhelpers import submit, wait_phase, wait_status
from tests.support.servers import write_config

CLOCK_LINE = re.compile(r"^\d\d:\d\d:\d\d (\S+): (.*)$")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def token(server: Server) -> str:
    return server.add_user("ada@example.com", tier="pro")


@pytest.fixture
def api(server: Server, token: str) -> Iterator[httpx.Client]:
    with server.client(token) as client:
        yield client


@pytest.fixture
def user_cli(cli: Cli, token: str) -> Cli:
    cli.token = token
    return cli


def follow_process(cli: Cli, job_id: str) -> subprocess.Popen[str]:
    """`ckrv logs JOB -f --json` running in the background."""
    return subprocess.Popen(
        [PYTHON, "-m", "ckrv", "logs", job_id[:8], "-f", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env(),
        cwd=ROOT,
    )


def read_entries(
    proc: subprocess.Popen[str], until_message: str | None = None
) -> list[dict[str, Any]]:
    """JSON entries from a follower's stdout, up to the one with `until_message` (else to EOF)."""
    assert proc.stdout is not None
    entries = []
    for line in proc.stdout:
        if not line.endswith("\n"):
            break  # a half-written line from a killed process
        entries.append(json.loads(line))
        if entries[-1]["message"] == until_message:
            break
    return entries


def sse_events(
    client: httpx.Client, job_id: str, last_event_id: int | None = None
) -> list[tuple[str, str, str]]:
    """Every (event, id, data) of one SSE connection, until the server closes it."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events, fields = [], dict[str, str]()
    with client.stream("GET", f"/jobs/{job_id}/logs", headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
            elif fields:
                events.append(
                    (fields.get("event", "message"), fields.get("id", ""), fields.get("data", ""))
                )
                fields = {}
    return events


def assert_exactly_once_in_order(seqs: list[int], messages: list[str], count: int) -> None:
    assert seqs == list(range(1, len(seqs) + 1)), (
        "positions must be 1, 2, 3... with no gap or repeat"
    )
    agent_lines = [m for m in messages if m.startswith("line ")]
    assert agent_lines == [f"line {i}" for i in range(count)]


def test_ten_thousand_lines_arrive_at_logs_follow_complete_and_in_order(
    api: httpx.Client, user_cli: Cli, repo: Path
) -> None:
    job_id = submit(api, "# Chatty\nlines 10000\n", repo)["id"]
    result = user_cli.run("logs", job_id[:8], "-f")  # started while the job is pending or running
    assert result.returncode == 0, result.stderr
    printed = [CLOCK_LINE.match(line) for line in result.stdout.splitlines()]
    assert all(printed), [
        line for line, m in zip(result.stdout.splitlines(), printed, strict=True) if not m
    ][:3]
    agent = [m.group(2) for m in printed if m and m.group(1) == "scripted"]
    assert agent == [f"line {i}" for i in range(10_000)]
    stored = api.get(f"/jobs/{job_id}/logs").json()["logs"]
    assert len(printed) == len(stored)  # nothing else printed, nothing repeated


def test_a_killed_follower_resumes_with_last_event_id_and_gets_each_line_once(
    api: httpx.Client, user_cli: Cli, repo: Path
) -> None:
    job_id = submit(api, "# Steady\nlines 3000 1500\n", repo)["id"]
    follower = follow_process(user_cli, job_id)
    first = read_entries(follower, until_message="line 700")
    follower.send_signal(signal.SIGKILL)
    first += read_entries(follower)  # whatever it had printed completely before it died
    follower.wait()
    assert follower.stdout is not None and follower.stderr is not None
    follower.stdout.close()
    follower.stderr.close()
    assert first[-1]["message"].startswith("line ")
    events = sse_events(api, job_id, last_event_id=first[-1]["seq"])
    rest = [json.loads(data) for kind, _, data in events if kind == "log"]
    everything = first + rest
    assert_exactly_once_in_order(
        [e["seq"] for e in everything], [e["message"] for e in everything], 3000
    )
    assert [kind for kind, _, _ in events][-2:] == ["status", "message"]
    assert json.loads(events[-2][2])["status"] == "succeeded" and events[-1][2] == "[DONE]"


def test_the_cli_follows_across_a_server_sigkill_and_restart_without_a_gap(
    server: Server, api: httpx.Client, user_cli: Cli, repo: Path
) -> None:
    job_id = submit(api, "# Long\nlines 4000 800\n", repo)["id"]
    follower = follow_process(user_cli, job_id)
    before = read_entries(follower, until_message="line 400")
    server.kill()
    server.start(port=server.port)
    after = read_entries(follower)
    assert follower.wait(timeout=120) == 0
    assert follower.stderr is not None and follower.stdout is not None
    notices = follower.stderr.read()
    follower.stdout.close()
    follower.stderr.close()
    assert "lost the log stream" in notices and "reconnecting after line" in notices
    everything = before + after
    assert_exactly_once_in_order(
        [e["seq"] for e in everything], [e["message"] for e in everything], 4000
    )


def test_a_stalled_follower_delays_neither_another_follower_nor_the_job(
    server: Server, api: httpx.Client, token: str, user_cli: Cli, repo: Path
) -> None:
    job_id = submit(api, "# Flood\nlines 40000\n", repo)["id"]
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills after a few lines
    stalled.connect(("127.0.0.1", server.port))
    stalled.sendall(
        f"GET /v1/jobs/{job_id}/logs?follow=true HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode()
    )
    try:
        started = time.monotonic()
        result = user_cli.run("logs", job_id, "-f")  # reads everything while the other stalls
        assert result.returncode == 0, result.stderr
        assert wait_status(api, job_id)["status"] == "succeeded"
        assert time.monotonic() - started < 60
        agent = [
            line.split(": ", 1)[1] for line in result.stdout.splitlines() if " scripted: " in line
        ]
        assert agent == [f"line {i}" for i in range(40_000)]
        # the stalled reader, now reading, catches up from storage: every line once, then [DONE]
        stalled.settimeout(60)
        raw = b"".join(iter(lambda: stalled.recv(1 << 20), b""))
    finally:
        stalled.close()
    body = _dechunk(raw.split(b"\r\n\r\n", 1)[1]).decode()
    seqs = [int(m) for m in re.findall(r"^id: (\d+)\nevent: log$", body, re.M)]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > 40_000
    assert body.endswith("data: [DONE]\n\n")


def _dechunk(data: bytes) -> bytes:
    out, at = [], 0
    while True:
        end = data.index(b"\r\n", at)
        size = int(data[at:end], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[end + 2 : end + 2 + size])
        at = end + 2 + size + 2


def test_the_stream_ends_with_done_and_follow_exits_7_for_a_failed_job(
    api: httpx.Client, user_cli: Cli, repo: Path
) -> None:
    job_id = submit(api, "# Fails\nprint about to fail\nexit 3\n", repo)["id"]
    result = user_cli.run("logs", job_id[:8], "-f")
    assert result.returncode == 7
    assert "scripted: about to fail" in result.stdout
    assert (
        f"job {job_id[:8]} ended failed" in result.stderr and "exited with code 3" in result.stderr
    )
    events = sse_events(api, job_id)
    assert [kind for kind, _, _ in events][-2:] == ["status", "message"]
    assert json.loads(events[-2][2])["status"] == "failed" and events[-1][2] == "[DONE]"


def test_a_cancelled_jobs_log_ends_with_the_servers_line(
    api: httpx.Client, user_cli: Cli, repo: Path
) -> None:
    job_id = submit(api, "# Slow\nprint working\nsleep 60\n", repo)["id"]
    wait_phase(api, job_id, "executing")
    follower = follow_process(user_cli, job_id)
    assert read_entries(follower, until_message="working")
    assert api.post(f"/jobs/{job_id}/cancel").status_code == 200
    rest = read_entries(follower)
    assert follower.wait(timeout=60) == 7
    assert follower.stdout is not None and follower.stderr is not None
    follower.stdout.close()
    follower.stderr.close()
    assert rest[-1]["source"] == "server" and "cancelled" in rest[-1]["message"]


def test_an_ended_jobs_log_is_served_from_its_archive(
    server: Server, api: httpx.Client, user_cli: Cli, repo: Path
) -> None:
    job_id = submit(api, "# Short\nlines 30\n", repo)["id"]
    assert wait_status(api, job_id)["status"] == "succeeded"
    archive = server.data_dir / "artifacts" / job_id / "log.jsonl"
    wait_for(archive.exists, what="the log archive")
    archived = [json.loads(line) for line in archive.read_text().splitlines()]
    conn = sqlite3.connect(server.data_dir / "ckrv.db")
    try:
        count = "SELECT COUNT(*) FROM job_logs WHERE job_id = ?"
        wait_for(lambda: conn.execute(count, (job_id,)).fetchone()[0] == 0, what="the rows deleted")
    finally:
        conn.close()
    assert api.get(f"/jobs/{job_id}/logs").json()["logs"] == archived
    assert api.get(f"/jobs/{job_id}/logs", params={"tail": 2}).json()["logs"] == archived[-2:]
    assert (
        api.get(f"/jobs/{job_id}/logs", params={"after": 3, "limit": 2}).json()["logs"]
        == archived[3:5]
    )
    tail = user_cli.run("logs", job_id, "-n", "3", "--json")
    assert [json.loads(line) for line in tail.stdout.splitlines()] == archived[-3:]
    followed = user_cli.run("logs", job_id, "-f")  # an ended job: the whole log, then exit 0
    assert followed.returncode == 0 and len(followed.stdout.splitlines()) == len(archived)
    last_two = user_cli.run("logs", job_id, "-f", "-n", "2", "--json")
    assert [json.loads(line) for line in last_two.stdout.splitlines()] == archived[-2:]


def test_the_log_budget_drops_lines_past_it_and_says_how_many_once(
    tmp_path: Path, config_dir: Path, repo: Path
) -> None:
    config = write_config(tmp_path)
    config.write_text(
        config.read_text().replace(
            "max_concurrent_jobs = 4", "max_concurrent_jobs = 4\nmax_log_bytes = 20000"
        )
    )
    server = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
    try:
        with server.client(server.add_user("ada@example.com")) as api:
            job_id = submit(api, "# Too chatty\nlines 5000\n", repo)["id"]
            assert wait_status(api, job_id)["status"] == "succeeded"
            log = api.get(f"/jobs/{job_id}/logs").json()["logs"]
    finally:
        server.shutdown()
    agent = [e["message"] for e in log if e["source"] == "scripted"]
    # A short line costs about 110 bytes stored (its text, timestamp, level, source, ROW_COST).
    assert agent == [f"line {i}" for i in range(len(agent))] and 100 < len(agent) < 200
    assert sum(len(e["message"].encode()) for e in log if e["source"] != "server") <= 20000
    markers = [e for e in log if "dropped" in e["message"]]
    assert len(markers) == 1 and markers[0] is log[-1]
    dropped = int(markers[0]["message"].split()[0])
    assert dropped >= 5000 - len(agent)  # the agent's lines past the budget, and the worker's


def test_logs_of_another_users_job_are_not_found(
    server: Server, api: httpx.Client, repo: Path
) -> None:
    job_id = submit(api, "# Mine\nprint secret plans\n", repo)["id"]
    with server.client(server.add_user("eve@example.com")) as eve:
        for params in ({}, {"follow": "true"}):
            response = eve.get(f"/jobs/{job_id}/logs", params=params)
            assert response.status_code == 404 and "secret" not in response.text
    with server.client() as nobody:
        assert nobody.get(f"/jobs/{job_id}/logs").status_code == 401
    assert api.get(f"/jobs/{job_id[:8]}/logs").status_code == 404  # full ids only on the API


def test_follow_with_a_tail_starts_at_the_last_lines_then_goes_live(
    api: httpx.Client, user_cli: Cli, repo: Path
) -> None:
    job_id = submit(api, "# Tail\nlines 200\nsleep 4\nprint after the pause\n", repo)["id"]

    def stored() -> list[str]:
        return [e["message"] for e in api.get(f"/jobs/{job_id}/logs").json()["logs"]]

    wait_for(lambda: "line 199" in stored(), what="the agent's lines")
    result = user_cli.run("logs", job_id, "-f", "-n", "3", "--json")
    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["message"] for e in printed[:4]] == [
        "line 197",
        "line 198",
        "line 199",
        "after the pause",
    ]
    assert [e["seq"] for e in printed] == list(
        range(printed[0]["seq"], printed[0]["seq"] + len(printed))
    )


def test_follow_fails_fast_when_the_server_was_never_reached(server: Server, user_cli: Cli) -> None:
    server.stop()
    started = time.monotonic()
    result = user_cli.run("logs", "3f8a9b2c-0000-4000-8000-000000000000", "-f")
    assert result.returncode == 6 and "cannot reach the ckrv server" in result.stderr
    assert time.monotonic() - started < 20
