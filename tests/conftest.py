from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Cli, Server

LOCAL_CONFIG = """
[server]
allow_local_repositories = true
max_concurrent_jobs = {capacity}
default_agent = "scripted"
{server_extra}
[agents.scripted]
command = ["{python}", "{agent}", "{{spec_file}}"]
"""


def write_config(
    directory: Path, extra: str = "", capacity: int = 4, server_extra: str = ""
) -> Path:
    """directory/ckrv.toml: local repositories allowed, the scripted agent as default, and
    `capacity` jobs at once (0 pauses dispatching); `server_extra` goes in [server], `extra`
    after the agents. Calling it again rewrites the file."""
    import sys

    agent = Path(__file__).parent / "agents" / "scripted_agent.py"
    path = directory / "ckrv.toml"
    path.write_text(
        LOCAL_CONFIG.format(
            python=sys.executable, agent=agent, capacity=capacity, server_extra=server_extra
        )
        + extra
    )
    return path


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.mkdir()
    return path


@pytest.fixture
def server(tmp_path: Path, config_dir: Path) -> Iterator[Server]:
    """A running server allowing local repositories, with the scripted agent as default."""
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=write_config(tmp_path))
    srv.start()
    yield srv
    srv.stop()


def start_server(root: Path, capacity: int = 4) -> Server:
    """A running server with its data and client config under `root` (see write_config)."""
    (root / "config").mkdir()
    config = write_config(root, capacity=capacity)
    return Server(data_dir=root / "data", config_dir=root / "config", config=config).start()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One running server shared by a module's tests (each test makes its own user)."""
    srv = start_server(tmp_path_factory.mktemp("live"))
    yield srv
    srv.stop()


@pytest.fixture
def cli(server: Server, config_dir: Path) -> Cli:
    return Cli(config_dir=config_dir, api_url=server.api_url)
