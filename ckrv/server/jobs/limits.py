"""A job's resource limits: the operator's (`[server]`, then the agent's table, where 0 is "no
limit") narrowed by the job's own `limits` option. A job may only lower a limit, never raise
it: asking for more is a 400 naming the setting an operator would change.

The job's option is stored as given (parsed, only the limits it names); the limits it runs
under are settled when the worker fetches its job, so an operator lowering a limit meanwhile
still holds."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from ckrv.contracts.agents import AgentConfig
from ckrv.errors import InvalidRequest, UsageError
from ckrv.limits import human_size, parse_size
from ckrv.settings import LIMIT_KEYS, Settings, cpu_seconds

_EXAMPLES = {"memory": "2G", "cpu_time": "10m", "processes": 256, "disk": "5G"}


def _processes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected a whole number")
    return value


_PARSERS: dict[str, Callable[[Any], int]] = {
    "memory": parse_size,
    "cpu_time": cpu_seconds,
    "processes": _processes,
    "disk": parse_size,
}


def shown(key: str, value: int) -> str:
    if key in ("memory", "disk"):
        return human_size(value)
    return f"{value} s" if key == "cpu_time" else str(value)


def operator_limits(settings: Settings, agent: AgentConfig) -> dict[str, int]:
    """The agent's own limits, else the server's (0: no limit)."""
    return {key: int(getattr(settings, key)) for key in LIMIT_KEYS} | dict(agent.limits)


def _setting(agent: AgentConfig, key: str) -> str:
    return f"[agents.{agent.name}] {key}" if key in dict(agent.limits) else f"[server] {key}"


def _parse(key: str, raw: Any) -> int:
    if key not in _PARSERS:
        raise InvalidRequest(
            f"limits.{key} is not a limit; a job may set {', '.join(LIMIT_KEYS)}",
        )
    try:
        value = _PARSERS[key](raw)
    except (ValueError, TypeError, UsageError) as exc:  # parse_duration's is a UsageError
        raise InvalidRequest(
            f"limits.{key}: {exc} (e.g. {json.dumps(_EXAMPLES[key])})",
        ) from exc
    if value <= 0:
        raise InvalidRequest(
            f"limits.{key} must be above 0: a job may only lower its limits "
            f"(leave {key} out for the server's)",
        )
    return value


def job_limits(settings: Settings, agent: AgentConfig, body: dict[str, Any]) -> str | None:
    """The job's `limits` option as JSON (None when it sets none), or 400 when a value is
    malformed or above what the operator's settings give the agent's jobs."""
    raw = body.get("limits")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidRequest(
            f"limits must be an object with any of {', '.join(LIMIT_KEYS)}, "
            'e.g. {"memory": "2G", "processes": 256}',
        )
    operator = operator_limits(settings, agent)
    asked = {}
    for key, value in raw.items():
        if value is None:
            continue
        limit = _parse(str(key), value)
        ceiling = operator[key]
        if ceiling and limit > ceiling:
            raise InvalidRequest(
                f"limits.{key} = {shown(key, limit)} is above the {shown(key, ceiling)} the "
                f"server gives {agent.name} jobs; a job may only lower its limits (an "
                f"operator raises `{_setting(agent, key)}`)",
            )
        asked[key] = limit
    return json.dumps(asked) if asked else None


def settled_limits(row: sqlite3.Row, settings: Settings, agent: AgentConfig) -> dict[str, int]:
    """What the job's commands run under: the operator's limits, each lowered to the job's
    own where it set one (a lower operator limit set since still wins)."""
    limits = operator_limits(settings, agent)
    for key, value in json.loads(row["limits"] or "{}").items():
        limits[key] = min(limits[key], value) if limits.get(key) else value
    return limits
