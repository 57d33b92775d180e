"""A job's egress policy, end to end: a real server, worker and agent process. Under
`allowlist` the agent reaches a listed local server through the worker's proxy and a denial for
another appears in the job's log; under `none` nothing is reachable; a job may narrow the
server's policy but not widen it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import Server, make_repo
from tests.support.jobhelpers import logs, submit, wait_status
from tests.support.origins import hello_servers
from tests.support.servers import write_config

# Fetches each URL through the proxy variables, then tries the first one's port directly.
FETCH = r"""
import socket, sys, urllib.error, urllib.request
for url in sys.argv[1:]:
    try:
        print("fetched", url, urllib.request.urlopen(url, timeout=10).read().decode())
    except urllib.error.HTTPError as exc:
        print("refused", url, exc.code)
    except OSError as exc:
        print("unreachable", url)
port = int(sys.argv[1].rsplit(":", 1)[1].split("/")[0])
try:
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    print("direct connection made")
except OSError:
    print("no direct connection")
"""


@pytest.fixture
def origins() -> Iterator[tuple[int, int]]:
    """Two HTTP servers on 127.0.0.1: the first is listed in the allowlist, the second not."""
    with hello_servers(2) as (listed, other):
        yield listed, other


@pytest.fixture
def egress_server(tmp_path: Path, origins: tuple[int, int]) -> Iterator[Server]:
    listed, other = origins
    agents = f"""
[agents.fetch]
command = {json.dumps([sys.executable, "-c", FETCH, f"http://127.0.0.1:{listed}/ok", f"http://127.0.0.1:{other}/no"])}
"""
    server_extra = f'network = "allowlist"\nallowed_hosts = ["127.0.0.1:{listed}"]\n'
    (tmp_path / "config").mkdir()
    config = write_config(tmp_path, agents, server_extra=server_extra)
    srv = Server(tmp_path / "data", tmp_path / "config", config).start()
    yield srv
    srv.stop()


def _agent_lines(lines: list[str]) -> list[str]:
    return [
        line
        for line in lines
        if line.startswith(("fetched", "refused", "unreachable", "no direct", "direct"))
    ]


def test_allowlist_lets_a_listed_host_through_and_logs_a_denial(
    egress_server: Server, origins: tuple[int, int], tmp_path: Path
) -> None:
    listed, other = origins
    with egress_server.client(egress_server.add_user("ann@example.com", tier="pro")) as api:
        job = submit(api, "# Fetch\n", make_repo(tmp_path / "repo"), agent="fetch")
        done = wait_status(api, job["id"])
    assert done["status"] == "succeeded", done
    lines = logs(egress_server.data_dir, job["id"])
    assert f"network: allowlist (127.0.0.1:{listed}), set by [server] network" in lines
    assert _agent_lines(lines) == [
        f"fetched http://127.0.0.1:{listed}/ok hello from /ok",
        f"refused http://127.0.0.1:{other}/no 403",
        "no direct connection",  # the command's own loopback has nothing on that port
    ]
    denials = [line for line in lines if line.startswith("network: denied")]
    assert len(denials) == 1
    assert denials[0].startswith(f"network: denied 127.0.0.1:{other} (")
    assert "allowed_hosts" in denials[0]


def test_a_job_may_narrow_to_none_and_then_nothing_is_reachable(
    egress_server: Server, origins: tuple[int, int], tmp_path: Path
) -> None:
    listed, other = origins
    with egress_server.client(egress_server.add_user("bob@example.com", tier="pro")) as api:
        repo = make_repo(tmp_path / "repo")
        widened = api.post(
            "/jobs",
            json={"spec_content": "# x\n", "git_repo_url": repo.as_uri(), "network": "open"},
        )
        assert widened.status_code == 400
        assert "jobs_may_widen_network" in widened.json()["message"]
        job = submit(api, "# Fetch\n", repo, agent="fetch", network="none")
        done = wait_status(api, job["id"])
    assert done["status"] == "succeeded", done
    lines = logs(egress_server.data_dir, job["id"])
    assert "network: none, set by the job's network option" in lines
    assert _agent_lines(lines) == [
        f"unreachable http://127.0.0.1:{listed}/ok",
        f"unreachable http://127.0.0.1:{other}/no",
        "no direct connection",
    ]
