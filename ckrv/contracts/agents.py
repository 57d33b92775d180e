"""Agents: how one is configured, the presets, and the agents a configuration offers. A preset is
just a default `[agents.NAME]` table; the config file may override any of them or add new ones.
The server and `ckrv run` (on this machine) read the same presets.

A command's placeholders: `{spec_file}` (the path of a file holding the spec), `{prompt}` (the
spec's text itself, as one argument: visible to every local user through `ps` while the agent
runs, so no preset uses it), `{python}` (the Python the worker runs, which can import ckrv).
With `stdin` set the spec is also written to the command's standard input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ckrv.contracts.network import NetworkMode


@dataclass(frozen=True)
class AgentConfig:
    """An agent: the argv to run (placeholders replaced), the environment variable names passed
    through from the server, its own timeout, an optional verify step, and whether the spec goes
    to its standard input."""

    name: str
    command: tuple[str, ...]
    env: tuple[str, ...] = ()
    timeout: float | None = None
    verify: tuple[str, ...] = ()
    install_hint: str = ""
    network: NetworkMode | None = None  # None: the server's (or the repository's) mode
    allowed_hosts: tuple[str, ...] = ()  # the hosts it needs under `allowlist` (its model API)
    limits: tuple[tuple[str, int], ...] = ()  # (memory | cpu_time | processes | disk, value)
    stdin: bool = False  # the spec is written to the command's standard input


PYTHON = "{python}"  # the worker's own interpreter: always there, never looked up on PATH


GEMINI_PROMPT = "Carry out the task described above."

PRESETS: dict[str, AgentConfig] = {
    "claude-code": AgentConfig(
        "claude-code",
        ("claude", "--print", "--dangerously-skip-permissions"),  # the prompt from stdin
        env=("ANTHROPIC_API_KEY",),
        stdin=True,
        install_hint="install Claude Code in the worker: npm install -g @anthropic-ai/claude-code",
        allowed_hosts=("api.anthropic.com",),
    ),
    "codex": AgentConfig(
        "codex",
        ("codex", "exec", "--full-auto", "-"),  # `-`: the instructions from stdin
        env=("OPENAI_API_KEY",),
        stdin=True,
        install_hint="install Codex CLI in the worker: npm install -g @openai/codex",
        allowed_hosts=("api.openai.com",),
    ),
    "gemini": AgentConfig(
        "gemini",
        # headless; --prompt is appended to what stdin holds (the spec)
        ("gemini", "--yolo", "--prompt", GEMINI_PROMPT),
        env=("GEMINI_API_KEY",),
        stdin=True,
        install_hint="install Gemini CLI in the worker: npm install -g @google/gemini-cli",
        allowed_hosts=("generativelanguage.googleapis.com",),
    ),
    "aider": AgentConfig(
        "aider",
        ("aider", "--yes-always", "--no-auto-commits", "--message-file", "{spec_file}"),
        env=("OPENAI_API_KEY", "ANTHROPIC_API_KEY"),
        install_hint="install aider in the worker: pip install aider-chat",
        allowed_hosts=("api.openai.com", "api.anthropic.com"),
    ),
    # ckrv's scripted stand-in (no model, no key): what `ckrv demo` runs; for trying ckrv out
    "example": AgentConfig(
        "example", (PYTHON, "-m", "ckrv.worker.agents.example_agent", "{spec_file}")
    ),
}


def available_agents(configured: Mapping[str, AgentConfig]) -> dict[str, AgentConfig]:
    """The presets, overridden or extended by the configured `[agents.NAME]` tables."""
    return {**PRESETS, **configured}


def install_hint(agent: AgentConfig) -> str:
    """What to install for the agent: its own hint, else its preset's (a config table that
    overrides a preset keeps the preset's hint)."""
    return agent.install_hint or PRESETS.get(agent.name, agent).install_hint


def preset_hosts(agent: AgentConfig) -> tuple[str, ...]:
    """The hosts the agent needs under `allowlist`: its own list, else its preset's (a config
    table that overrides a preset without naming hosts keeps the preset's model API)."""
    return agent.allowed_hosts or PRESETS.get(agent.name, agent).allowed_hosts


def program(agent: AgentConfig) -> str | None:
    """The program the agent's command runs, to look up on PATH; None for `{python}`."""
    return None if agent.command[0] == PYTHON else agent.command[0]
