"""Which agent a new job runs: a known one whose program the workers can start. Checked when the
job is created, so a job that could never start is refused with what to do (422), instead of
failing later (and spending quota)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from ckrv.contracts.agents import AgentConfig, install_hint, program
from ckrv.errors import AgentUnavailable, InvalidRequest
from ckrv.settings import Settings


def installed(agent: AgentConfig) -> bool:
    """Whether the local executor's workers find the agent's program: they run with this
    server's PATH (executors/local.py keeps it)."""
    name = program(agent)
    return name is None or shutil.which(name, path=os.environ.get("PATH")) is not None


def choose_agent(settings: Settings, known: Mapping[str, AgentConfig], name: str) -> AgentConfig:
    """The agent called `name`, refused when unknown, or (local executor) not installed. Under
    Kubernetes the worker image decides, and a missing program fails the job with the hint."""
    if name not in known:
        raise InvalidRequest(
            f"unknown agent {name!r}; this server knows: {', '.join(sorted(known))}"
        )
    agent = known[name]
    if settings.executor != "local" or installed(agent):
        return agent
    usable = sorted(n for n, a in known.items() if installed(a))
    hint = install_hint(agent) or f"install {program(agent)} or fix [agents.{name}] in the config"
    raise AgentUnavailable(
        f"agent {name!r} needs the command {program(agent)!r}, which is not installed where "
        f"this server runs jobs ({hint}); agents available here: {', '.join(usable) or 'none'} "
        "(pick one with --agent NAME)"
    )
