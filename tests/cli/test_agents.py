"""Choosing an agent, as a user of `ckrv run --cloud` meets it against a real server: the agent's
spec reaches it on standard input, never on a command line any local user can read; the
built-in `example` preset runs with no config; an agent whose program is not installed, or a
timeout over the server's maximum, is refused when the job is created, saying what to do."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ckrv.contracts.agents import PRESETS
from tests.conftest import STAND_INS
from tests.support.helpers import Server, git, make_repo, wait_for
from tests.support.inprocess import InProcessCli
from tests.support.jobhelpers import logs, wait_status
from tests.support.servers import SCRIPTED_AGENT, write_config

READER = f"""
[agents.reader]
command = ["{{python}}", {json.dumps(str(SCRIPTED_AGENT))}, "-"]
stdin = true
"""
MARKER = "the-secret-plan-7f3a9c"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose PATH lacks the presets' programs (no stand-ins): claude is not installed
    for it; its own agent `reader` takes the spec on standard input."""
    root = tmp_path_factory.mktemp("srv")
    (root / "config").mkdir()
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != STAND_INS)
    server = Server(
        data_dir=root / "data",
        config_dir=root / "config",
        config=write_config(root, READER),
        env_extra={"PATH": path},
    )
    yield server.start()
    server.shutdown()


@pytest.fixture(scope="module")
def token(srv: Server) -> str:
    return srv.add_user("agents@example.com", tier="enterprise")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    bare = make_repo(tmp_path / "remote", {"README.md": "# sample\n"})
    git(tmp_path, "clone", "-q", str(bare), "work")
    return tmp_path / "work"


@pytest.fixture
def ckrv(srv: Server, token: str, checkout: Path, tmp_path: Path) -> InProcessCli:
    return InProcessCli(
        config_dir=tmp_path / "cli-config", api_url=srv.api_url, token=token, cwd=checkout
    )


def spec_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "spec.md"
    path.write_text(text)
    return str(path)


def command_lines() -> list[str]:
    """Every process's command line, as `ps` shows it to any local user."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError):
            continue
    return found


def test_no_preset_puts_the_spec_on_the_command_line() -> None:
    for agent in PRESETS.values():
        assert not any("{prompt}" in arg for arg in agent.command), agent.name


def test_an_agent_reading_stdin_gets_the_spec_and_no_command_line_shows_it(
    srv: Server, ckrv: InProcessCli, token: str, tmp_path: Path
) -> None:
    # The marker is in the body only: the title names the branch, which git commands carry.
    spec = f"# Plan\n{MARKER}\nprint started\nawait go\nwrite plan.txt {MARKER}\n"
    queued = ckrv.json("run", "--cloud", "--agent", "reader", "--spec", spec_file(tmp_path, spec))
    job_id = queued["id"]
    wait_for(lambda: "started" in logs(srv.data_dir, job_id), what="the agent to start")
    lines = command_lines()
    assert any(str(SCRIPTED_AGENT) in line for line in lines)  # the agent is there to be seen
    assert not [line for line in lines if MARKER in line]
    (srv.data_dir / "workspaces" / job_id / "checkout" / "go").touch()
    with httpx.Client(base_url=srv.api_url, headers={"Authorization": f"Bearer {token}"}) as api:
        done = wait_status(api, job_id)
        assert done["status"] == "succeeded", done
        diff = api.get(f"/jobs/{job_id}/artifacts/diff").text
    assert f"+{MARKER}" in diff  # the agent read the whole spec from its standard input


def test_a_preset_whose_program_is_missing_is_refused_with_how_to_install_it(
    ckrv: InProcessCli, tmp_path: Path
) -> None:
    before = ckrv.json("jobs")
    result = ckrv.run(
        "run", "--cloud", "--agent", "claude-code", "--spec", spec_file(tmp_path, "# x\n")
    )
    assert result.returncode == 1
    assert "agent 'claude-code' needs the command 'claude', which is not installed" in (
        result.stderr
    )
    assert "agents available here: example, reader, scripted" in result.stderr
    assert "npm install -g @anthropic-ai/claude-code" in result.stderr
    assert ckrv.json("jobs") == before


def test_the_example_agent_is_a_built_in_preset(
    ckrv: InProcessCli, checkout: Path, tmp_path: Path
) -> None:
    spec = "# Greet\n\n```python file=greet.py\nprint('hi')\n```\n"
    done = ckrv.json(
        "run", "--cloud", "--agent", "example", "--wait", "--spec", spec_file(tmp_path, spec)
    )
    assert done["status"] == "succeeded", done
    pulled = ckrv.run("pull", done["id"])
    assert pulled.returncode == 0, pulled.stderr
    assert (checkout / "greet.py").read_text() == "print('hi')\n"


def test_a_timeout_over_the_servers_maximum_is_refused_naming_it(
    ckrv: InProcessCli, tmp_path: Path
) -> None:
    result = ckrv.run("run", "--cloud", "--timeout", "7d", "--spec", spec_file(tmp_path, "# x\n"))
    assert result.returncode == 1
    assert "is over this server's maximum of 6h00m" in result.stderr
    assert shutil.which("claude") is not None  # the stand-ins are on this process's PATH
