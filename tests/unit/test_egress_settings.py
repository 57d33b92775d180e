"""The network settings in the config file and how a job's policy is settled from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ckrv.contracts.agents import available_agents
from ckrv.errors import ConfigError, InvalidRequest
from ckrv.server.jobs.network import job_network
from ckrv.settings import load_settings

CONFIG = """
[server]
network = "open"
allowed_hosts = ["pypi.org", "files.pythonhosted.org"]

[agents.claude-code]
command = ["claude", "{prompt}"]
network = "allowlist"

[agents.offline]
command = ["offline-agent"]
network = "none"

[repositories."https://git.corp.example/*"]
network = "allowlist"
allowed_hosts = ["*.corp.example"]
"""


def test_agent_and_repository_tables_set_the_network(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, _write(tmp_path, CONFIG))
    agents = available_agents(settings.agents)
    # an agent table without allowed_hosts keeps its preset's model API host
    claude = job_network(settings, agents["claude-code"], "https://github.com/a/b", {})
    assert claude.mode == "allowlist" and claude.source == "[agents.claude-code] network"
    assert claude.allowed_hosts == ("pypi.org", "files.pythonhosted.org", "api.anthropic.com")
    corp = job_network(settings, agents["offline"], "https://git.corp.example/x/y", {})
    assert corp.mode == "allowlist"  # the repository's table is more specific than the agent's
    assert corp.source == '[repositories."https://git.corp.example/*"] network'
    assert corp.allowed_hosts[-1] == "*.corp.example"
    codex = job_network(settings, agents["codex"], "https://github.com/a/b", {})
    assert (codex.mode, codex.source) == ("open", "[server] network")


def test_a_job_option_narrows_and_a_widening_is_a_400(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, _write(tmp_path, CONFIG))
    offline = available_agents(settings.agents)["offline"]
    with pytest.raises(InvalidRequest) as refused:
        job_network(settings, offline, "https://github.com/a/b", {"network": "allowlist"})
    assert "[agents.offline] network" in refused.value.message
    codex = available_agents(settings.agents)["codex"]
    narrowed = job_network(
        settings, codex, "https://github.com/a/b", {"network": "allowlist", "allowed_hosts": []}
    )
    assert narrowed.allowed_hosts == ("pypi.org", "files.pythonhosted.org", "api.openai.com")
    with pytest.raises(InvalidRequest, match="network must be one of"):
        job_network(settings, codex, "https://github.com/a/b", {"network": "closed"})
    with pytest.raises(InvalidRequest, match="allowed_hosts"):
        job_network(settings, codex, "https://github.com/a/b", {"allowed_hosts": "pypi.org"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[server]\nnetwork = "closed"\n',
            r"\[server\] network = 'closed': network must be one of",
        ),
        ('[server]\nallowed_hosts = ["http://x"]\n', "allowed_hosts"),
        ('[agents.a]\ncommand = ["a"]\nnetwork = 1\n', r"\[agents\.a\] network must be one of"),
        ('[repositories."x"]\nproxy = "y"\n', r'unknown keys in \[repositories\."x"\]: proxy'),
    ],
)
def test_bad_network_settings_say_which(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path, _write(tmp_path, text))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ckrv.toml"
    path.write_text(text)
    return path
