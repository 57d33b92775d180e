"""Agents: how one is configured, the presets, and the agents a configuration offers. A preset is
just a default `[agents.NAME]` table; the config file may override any of them or add new ones.
The server and `ckrv run` (on this machine) read the same presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class AgentConfig:
    """An agent: the argv to run (with `{spec_file}` and `{prompt}` replaced), the environment
    variable names passed through from the server, its own timeout and an optional verify step."""

    name: str
    command: tuple[str, ...]
    env: tuple[str, ...] = ()
    timeout: float | None = None
    verify: tuple[str, ...] = ()
    install_hint: str = ""


PRESETS: dict[str, AgentConfig] = {
    "claude-code": AgentConfig(
        "claude-code",
        ("claude", "--print", "--dangerously-skip-permissions", "{prompt}"),
        env=("ANTHROPIC_API_KEY",),
        install_hint="install Claude Code in the worker: npm install -g @anthropic-ai/claude-code",
    ),
    "codex": AgentConfig(
        "codex",
        ("codex", "exec", "--full-auto", "{prompt}"),
        env=("OPENAI_API_KEY",),
        install_hint="install Codex CLI in the worker: npm install -g @openai/codex",
    ),
    "gemini": AgentConfig(
        "gemini",
        ("gemini", "--yolo", "--prompt", "{prompt}"),
        env=("GEMINI_API_KEY",),
        install_hint="install Gemini CLI in the worker: npm install -g @google/gemini-cli",
    ),
    "aider": AgentConfig(
        "aider",
        ("aider", "--yes-always", "--no-auto-commits", "--message-file", "{spec_file}"),
        env=("OPENAI_API_KEY", "ANTHROPIC_API_KEY"),
        install_hint="install aider in the worker: pip install aider-chat",
    ),
}


def available_agents(configured: Mapping[str, AgentConfig]) -> dict[str, AgentConfig]:
    """The presets, overridden or extended by the configured `[agents.NAME]` tables."""
    return {**PRESETS, **configured}


def install_hint(agent: AgentConfig) -> str:
    """What to install for the agent: its own hint, else its preset's (a config table that
    overrides a preset keeps the preset's hint)."""
    return agent.install_hint or PRESETS.get(agent.name, agent).install_hint
