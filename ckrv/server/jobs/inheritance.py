"""What a follow-up takes from its parent: the parent's options with the request's on top.

Only what the request sends is checked strictly (creation.py: the same errors as a new job).
What it inherits was the user's choice under the server's settings of that day: an operator
may since have lowered `max_job_timeout`, `max_fix_rounds` or a limit, or narrowed the
network. Such a value is brought within the server's current bounds instead of refusing a
follow-up the user asked nothing unusual of, and a notice says what was lowered and why.

An empty value (`""` for `setup` and `network`, `[]` for `verify` and `allowed_hosts`) drops
the inherited option, leaving the server's default (null or left out: the parent's)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ckrv.contracts.agents import AgentConfig, available_agents
from ckrv.errors import InvalidRequest
from ckrv.server.jobs.limits import operator_limits, shown
from ckrv.server.jobs.network import asked_network, job_network
from ckrv.settings import Settings
from ckrv.timeutil import format_duration

# The options an empty value drops (the server's default instead of the parent's).
DROPPABLE = {"setup": "", "verify": [], "network": "", "allowed_hosts": []}


def inherited(parent: sqlite3.Row) -> dict[str, Any]:
    """The parent's own options as a request body would give them."""
    return {
        "git_repo_url": parent["git_repo_url"],
        "git_base_branch": parent["git_base_branch"],
        "git_credential_name": parent["credential_name"],
        "agent": parent["agent"],
        "setup": parent["setup"],
        "push": bool(parent["push"]),
        "timeout_seconds": parent["timeout_seconds"],
        "limits": json.loads(parent["limits"]) if parent["limits"] else None,
        "verify": json.loads(parent["verify"]) if parent["verify"] else None,
        "fix_rounds": parent["fix_rounds"],
        **asked_network(parent),
    }


def merged(
    settings: Settings, parent: sqlite3.Row, body: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The body to check as a new job's, and notices of what inherited was lowered. The
    request's `limits` replace the parent's one limit at a time (a limit set to null drops
    the parent's, leaving the server's); `git_repo_url` cannot change."""
    own = inherited(parent)
    given = {k: v for k, v in body.items() if v is not None and k != "git_repo_url"}
    for key, empty in DROPPABLE.items():
        if key in given and given[key] == empty:
            del given[key]
            own.pop(key, None)
            if key == "network":  # the hosts belong to the option dropped
                own.pop("allowed_hosts", None)
    notices = _bounded(settings, own, given)
    limits = given.get("limits")
    if isinstance(limits, dict) and own.get("limits"):
        given["limits"] = {**own["limits"], **limits}
    return {**own, **given}, notices


def _bounded(settings: Settings, own: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """Lower, in `own`, each inherited value the request does not override that is now over
    the server's bounds; say what was lowered."""
    notices = []
    timeout, longest = own.get("timeout_seconds"), settings.max_job_timeout
    if "timeout_seconds" not in given and timeout and timeout > longest:
        own["timeout_seconds"] = longest
        notices.append(
            f"inherited timeout {format_duration(timeout)} lowered to the server's maximum "
            f"{format_duration(longest)} (max_job_timeout)"
        )
    rounds, cap = own.get("fix_rounds") or 0, settings.max_fix_rounds
    if "fix_rounds" not in given and rounds > cap:
        own["fix_rounds"] = cap
        notices.append(
            f"inherited fix rounds {rounds} lowered to the server's maximum {cap} (max_fix_rounds)"
        )
    name = given.get("agent") or own["agent"]
    agent = available_agents(settings.agents).get(name) if isinstance(name, str) else None
    if agent is None:
        return notices  # refused by the creation checks (an unknown agent, not a string)
    notices += _bounded_limits(settings, agent, own, given.get("limits"))
    if "network" not in given and "allowed_hosts" not in given:
        notices += _bounded_network(settings, agent, own)
    return notices


def _bounded_limits(
    settings: Settings, agent: AgentConfig, own: dict[str, Any], asked: Any
) -> list[str]:
    limits = own.get("limits")
    if not isinstance(limits, dict):
        return []
    replaced = asked if isinstance(asked, dict) else {}
    ceilings = operator_limits(settings, agent)
    notices = []
    for key, value in list(limits.items()):
        ceiling = ceilings.get(key)
        if key in replaced or not ceiling or not isinstance(value, int) or value <= ceiling:
            continue
        limits[key] = ceiling
        notices.append(
            f"inherited limit {key} {shown(key, value)} lowered to the {shown(key, ceiling)} "
            f"the server now gives {agent.name} jobs"
        )
    return notices


def _bounded_network(settings: Settings, agent: AgentConfig, own: dict[str, Any]) -> list[str]:
    """An inherited network option the server's policy no longer allows is dropped: the
    operator's policy, narrower, applies."""
    if own.get("network") is None and own.get("allowed_hosts") is None:
        return []
    try:
        job_network(settings, agent, own["git_repo_url"], own)
    except InvalidRequest as exc:
        mode = own.pop("network", None) or "allowed hosts"
        own.pop("allowed_hosts", None)
        return [f"inherited network option ({mode}) dropped, the server's policy applies: {exc}"]
    return []
