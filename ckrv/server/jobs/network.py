"""A job's network policy, settled when the job is created: the operator's layers (`[server]`,
the agent's table or preset, the first matching `[repositories."URL-PATTERN"]` table) and the
job's own `network` / `allowed_hosts` options (see ckrv/contracts/network.py for the rules)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ckrv.contracts.agents import AgentConfig, preset_hosts
from ckrv.contracts.network import (
    Layer,
    NetworkPolicy,
    PolicyError,
    check_mode,
    host_patterns,
    repository_layer,
    settle,
)
from ckrv.errors import InvalidRequest
from ckrv.settings import Settings

JOB_SOURCE = "the job's network option"


def operator_layers(settings: Settings, agent: AgentConfig, repo_url: str) -> list[Layer]:
    """Least specific first. An agent table that names no hosts keeps its preset's."""
    layers = [
        Layer(settings.network, settings.allowed_hosts, "[server] network"),
        Layer(agent.network, preset_hosts(agent), f"[agents.{agent.name}] network"),
    ]
    repository = repository_layer(settings.repositories, repo_url)
    return layers if repository is None else [*layers, repository]


def job_layer(body: dict[str, Any]) -> Layer | None:
    mode, hosts = body.get("network"), body.get("allowed_hosts")
    if mode is None and hosts is None:
        return None
    try:
        return Layer(
            None if mode is None else check_mode(mode),
            () if hosts is None else host_patterns(hosts, "allowed_hosts"),
            JOB_SOURCE,
        )
    except PolicyError as exc:
        raise InvalidRequest(str(exc)) from exc


def job_network(
    settings: Settings, agent: AgentConfig, repo_url: str, body: dict[str, Any]
) -> NetworkPolicy:
    """The policy the job will run under, or 400 when it asks for more than it may."""
    try:
        return settle(
            operator_layers(settings, agent, repo_url),
            job_layer(body),
            settings.jobs_may_widen_network,
        )
    except PolicyError as exc:
        raise InvalidRequest(str(exc)) from exc


def stored_network(
    settings: Settings, agent: AgentConfig, repo_url: str, body: dict[str, Any]
) -> str | None:
    """The network column of a new job: None when it gave no network option; else its settled
    policy as JSON, with the option as asked (`asked`, which a follow-up inherits: the settled
    hosts mix the operator's with the job's, and the agent's preset hosts may differ)."""
    layer = job_layer(body)
    if layer is None:
        return None
    policy = job_network(settings, agent, repo_url, body).as_dict()
    asked = {"network": layer.mode, "allowed_hosts": list(layer.allowed_hosts) or None}
    return json.dumps({**policy, "asked": asked})


def asked_network(row: sqlite3.Row) -> dict[str, Any]:
    """The network option the job was created with, as a request body holds it ({}: none).
    A row from before `asked` was kept gives its mode when the job's option set it."""
    if not row["network"]:
        return {}
    stored = json.loads(row["network"])
    asked = stored.get("asked")
    if isinstance(asked, dict):
        return {k: v for k, v in asked.items() if v is not None}
    return {"network": stored["mode"]} if stored.get("source") == JOB_SOURCE else {}


def settled_policy(row: sqlite3.Row, settings: Settings, agent: AgentConfig) -> NetworkPolicy:
    """As settled when the job was created, for a job that gave its own network option;
    otherwise (and for jobs from before the column) the operator's policy now."""
    if row["network"]:
        return NetworkPolicy.from_dict(json.loads(row["network"]))
    layers = operator_layers(settings, agent, row["git_repo_url"])
    return settle(layers, None, settings.jobs_may_widen_network)
