"""Server configurations for tests: the scripted agent as default, local repositories allowed."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.helpers import Server

SCRIPTED_AGENT = Path(__file__).parent / "agents" / "scripted_agent.py"

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
    path = directory / "ckrv.toml"
    path.write_text(
        LOCAL_CONFIG.format(
            python=sys.executable,
            agent=SCRIPTED_AGENT,
            capacity=capacity,
            server_extra=server_extra,
        )
        + extra
    )
    return path


def start_server(root: Path, capacity: int = 4) -> Server:
    """A running server with its data and client config under `root` (see write_config)."""
    (root / "config").mkdir()
    config = write_config(root, capacity=capacity)
    return Server(data_dir=root / "data", config_dir=root / "config", config=config).start()
