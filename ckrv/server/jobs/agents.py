"""Agent presets and the server's configured agents. A preset is just a default
`[agents.NAME]` table; the config file may override any of them or add new ones."""

from __future__ import annotations

from ckrv.settings import AgentConfig, Settings

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


def available_agents(settings: Settings) -> dict[str, AgentConfig]:
    return {**PRESETS, **settings.agents}


def agent_description(agent: AgentConfig) -> dict[str, object]:
    """The agent as the worker receives it in its job description."""
    return {
        "name": agent.name,
        "command": list(agent.command),
        "env": list(agent.env),
        "timeout": agent.timeout,
        "verify": list(agent.verify),
        "install_hint": agent.install_hint or PRESETS.get(agent.name, agent).install_hint,
    }
