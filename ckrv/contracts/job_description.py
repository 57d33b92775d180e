"""The job as its worker receives it: from the server (`GET /v1/worker/jobs/{id}`, the body is
`to_wire()`), or built on this machine for `ckrv run` without `--cloud`. Every field is required
to build one, so no caller can leave one out; `from_wire` reads a description sent by a server
of another version, taking the defaults below for what it does not send."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ckrv.contracts.agents import AgentConfig, install_hint
from ckrv.contracts.network import NetworkPolicy

DEFAULT_MAX_DIFF_BYTES = 50 * 1024 * 1024
DEFAULT_KNOWN_HOSTS_POLICY = "accept-new"


@dataclass(frozen=True)
class AgentDescription:
    """The agent to run: argv (with the placeholders of contracts/agents.py), the pass-through
    variable names, its timeout, the verify step, what to install when its command is missing,
    and whether the spec goes to its standard input."""

    name: str
    command: tuple[str, ...]
    env: tuple[str, ...]
    timeout: float | None
    verify: tuple[str, ...]
    install_hint: str
    stdin: bool = False

    @classmethod
    def of(cls, agent: AgentConfig) -> AgentDescription:
        return cls(
            agent.name,
            agent.command,
            agent.env,
            agent.timeout,
            agent.verify,
            install_hint(agent),
            agent.stdin,
        )

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AgentDescription:
        timeout = data.get("timeout")
        return cls(
            name=str(data["name"]),
            command=tuple(str(arg) for arg in data["command"]),
            env=tuple(str(name) for name in data.get("env") or ()),
            timeout=float(timeout) if timeout is not None else None,
            verify=tuple(str(arg) for arg in data.get("verify") or ()),
            install_hint=str(data.get("install_hint") or ""),
            stdin=bool(data.get("stdin")),
        )


@dataclass(frozen=True)
class CredentialLabel:
    """Which credential the job uses, without its value (that comes in the launch environment)."""

    name: str
    provider: str
    credential_type: str


@dataclass(frozen=True)
class JobDescription:
    id: str
    spec_content: str
    spec_title: str
    git_repo_url: str
    git_base_branch: str
    feature_branch_name: str
    setup: str | None
    push: bool
    timeout_seconds: float
    agent: AgentDescription
    credential: CredentialLabel | None
    max_diff_bytes: int
    allow_local_repositories: bool
    ssh_known_hosts: str  # the server's known-hosts policy for ssh URLs
    network: NetworkPolicy  # what the job's commands may reach, settled when it was created
    # memory, cpu_time, processes, disk (bytes, seconds, count, bytes; 0 = no limit); none
    # sent (an older server, a local run): no limits
    limits: dict[str, int] = field(default_factory=dict)
    # shell commands run after the agent (none: the agent's `verify`, if any), and how many
    # times the agent may run again with a failing verify's output
    verify: tuple[str, ...] = ()
    fix_rounds: int = 0
    # the server's `refuse_private_hosts`: the worker checks the repository host again when git
    # connects (ckrv/worker/hostpin.py)
    refuse_private_hosts: bool = False
    # a follow-up: the commit it starts from (its parent's result, fetched from the server as
    # a bundle when it is not the thread's base), the thread's base commit, and the earlier
    # steps (each {"job_id", "spec", "summary"}, first first) for the agent's history
    start_commit: str | None = None
    base_commit: str | None = None
    earlier: tuple[dict[str, str], ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)  # tuples stay tuples: JSON writes them as arrays

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> JobDescription:
        """Raises KeyError or ValueError when a field every server sends is missing or wrong."""
        credential = data.get("credential")
        return cls(
            id=str(data["id"]),
            spec_content=str(data["spec_content"]),
            spec_title=str(data.get("spec_title") or "ckrv job"),
            git_repo_url=str(data["git_repo_url"]),
            git_base_branch=str(data["git_base_branch"]),
            feature_branch_name=str(data["feature_branch_name"]),
            setup=data.get("setup") or None,
            push=bool(data.get("push")),
            timeout_seconds=float(data["timeout_seconds"]),
            agent=AgentDescription.from_wire(data["agent"]),
            credential=CredentialLabel(**credential) if credential else None,
            max_diff_bytes=int(data.get("max_diff_bytes") or DEFAULT_MAX_DIFF_BYTES),
            allow_local_repositories=bool(data.get("allow_local_repositories")),
            ssh_known_hosts=str(data.get("ssh_known_hosts") or DEFAULT_KNOWN_HOSTS_POLICY),
            network=NetworkPolicy.from_dict(data.get("network")),  # none sent: open
            limits={str(k): int(v) for k, v in (data.get("limits") or {}).items()},
            verify=tuple(str(c) for c in data.get("verify") or ()),
            fix_rounds=int(data.get("fix_rounds") or 0),
            refuse_private_hosts=bool(data.get("refuse_private_hosts")),
            start_commit=data.get("start_commit") or None,
            base_commit=data.get("base_commit") or None,
            earlier=tuple(
                {k: str(step.get(k) or "") for k in ("job_id", "spec", "summary")}
                for step in data.get("earlier") or ()
            ),
        )
