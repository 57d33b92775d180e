"""Best-of-N groups: one spec fanned out into several jobs (attempts), with one agent or several,
created together or not at all, then compared and ranked by evidence.

A group is its jobs: each is a normal job (its own log, diff, quota, sandbox) that carries the
group's id and its attempt number (jobs.group_id, jobs.group_attempt); there is no group row.
The quota of every attempt is spent in the one transaction that inserts them, all or none
(identity/users.py `spend_quota(whole=True)`), so a group over the quota starts no job.

Ranking, best first: a succeeded attempt whose verify passed (`verified` true), then one with
no verify (null), then one whose verify failed; attempts still going, then those that ended
unsuccessfully. Within a class an attempt that changed something comes before one that changed
nothing (there is nothing to pull), then the smaller change (lines added and removed), then
the faster. The pick is the first, once every attempt has ended, if it succeeded and its
verify did not fail."""

from __future__ import annotations

import re
import secrets
import sqlite3
from typing import Any

from ckrv.contracts.jobmodel import TERMINAL
from ckrv.errors import InvalidRequest
from ckrv.server.identity.users import spend_quota
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.creation import JOB_FIELDS, parse_new_job
from ckrv.server.services import Services
from ckrv.server.web.http import field

MAX_ATTEMPTS = 10  # jobs in one group, all agents together
GROUP_FIELDS = JOB_FIELDS | {"attempts", "agents"}  # the keys of its request
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud and typed by hand
_ID_LENGTH = 8
GROUP_ID = re.compile(rf"^g-[{_ALPHABET}]{{{_ID_LENGTH}}}$")


def new_group_id() -> str:
    return "g-" + "".join(secrets.choice(_ALPHABET) for _ in range(_ID_LENGTH))


def _positive_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"{name} must be a whole number of at least 1")
    return value


def _agents(body: dict[str, Any]) -> list[str | None]:
    agents = body.get("agents")
    if agents is None:
        return [field(body, "agent", required=False)]
    if "agent" in body:
        raise InvalidRequest("give agent or agents, not both")
    if (
        not isinstance(agents, list)
        or not agents
        or not all(isinstance(a, str) and a for a in agents)
    ):
        raise InvalidRequest("agents must be a non-empty list of agent names")
    return list(agents)


def parse_new_group(svc: Services, user_id: str, body: dict[str, Any]) -> list[jobs.NewJob]:
    """The group's jobs in attempt order: `attempts` (default 1) of each agent in `agents`
    (default: `agent`, or the server's default agent). Each is checked as a job of its own."""
    per_agent = _positive_int(body, "attempts") or 1
    agents = _agents(body)
    total = per_agent * len(agents)
    if total > MAX_ATTEMPTS:
        raise InvalidRequest(
            f"a group has at most {MAX_ATTEMPTS} attempts; this one asks for {total}"
            f" ({per_agent} of each of {len(agents)} agents)"
        )
    one_job = {k: v for k, v in body.items() if k not in ("attempts", "agents")}
    settled: dict[str | None, jobs.NewJob] = {}
    for agent in agents:
        if agent not in settled:
            settled[agent] = parse_new_job(svc, user_id, {**one_job, "agent": agent})
    return [settled[agent] for agent in agents for _ in range(per_agent)]


def insert_group(
    conn: sqlite3.Connection, new_jobs: list[jobs.NewJob], upgrade_url: str
) -> list[dict[str, Any]]:
    """Spend the quota of every attempt and insert them, in the writer's transaction: all or
    none (QuotaExceeded, raised, leaves nothing behind)."""
    granted, refusal = spend_quota(
        conn, new_jobs[0].user_id, upgrade_url, len(new_jobs), whole=True
    )
    if refusal is not None or granted != len(new_jobs):
        assert refusal is not None
        raise refusal
    group_id = new_group_id()
    while jobs.group_taken(conn, group_id):
        group_id = new_group_id()
    return jobs.insert_group(conn, new_jobs, group_id)


def _verified(job: dict[str, Any]) -> bool | None:
    value = job.get("verified")
    return value if isinstance(value, bool) else None


def lines_changed(job: dict[str, Any]) -> int | None:
    stats = job.get("diff_stats")
    if not stats:
        return None
    return int(stats.get("insertions", 0)) + int(stats.get("deletions", 0))


def _class(job: dict[str, Any]) -> int:
    status = job["status"]
    if status == "succeeded":
        return {True: 0, None: 1, False: 2}[_verified(job)]
    return 3 if status not in TERMINAL else 4


def rank_key(job: dict[str, Any]) -> tuple[int, int, int, float, int]:
    lines = lines_changed(job)
    duration = job.get("duration_seconds")
    return (
        _class(job),
        0 if lines else 1,
        lines or 0,
        duration if duration is not None else float("inf"),
        int(job.get("attempt") or 0),
    )


def _attempt(job: dict[str, Any]) -> dict[str, Any]:
    stats = job.get("diff_stats") or {}
    return {
        "attempt": job["attempt"],
        "job_id": job["id"],
        "agent": job["agent"],
        "status": job["status"],
        "verified": _verified(job),
        "files_changed": stats.get("files_changed"),
        "lines_changed": lines_changed(job),
        "insertions": stats.get("insertions"),
        "deletions": stats.get("deletions"),
        "duration_seconds": job.get("duration_seconds"),
        "cost_usd": job.get("cost_usd"),
        "job": job,
    }


def public_group(group_id: str, members: list[dict[str, Any]]) -> dict[str, Any]:
    """The Group object of the API, from its jobs (public Job objects, in attempt order)."""
    ranked = sorted(members, key=rank_key)
    ended = all(job["status"] in TERMINAL for job in members)
    best = ranked[0]
    pick = best["attempt"] if ended and _class(best) <= 1 else None
    first = members[0]
    return {
        "id": group_id,
        "spec_title": first["spec_title"],
        "git_repo_url": first["git_repo_url"],
        "git_base_branch": first["git_base_branch"],
        "created_at": first["created_at"],
        "ended": ended,
        "attempts": [_attempt(job) for job in members],
        "ranking": [job["attempt"] for job in ranked],
        "pick": pick,
    }


def group_members(svc: Services, group_id: str, user_id: str) -> list[dict[str, Any]]:
    """The group's jobs as public Job objects; empty when it is not the user's."""
    if not GROUP_ID.match(group_id):
        return []
    rows = svc.db.read_with(lambda c: jobs.group_jobs(c, group_id, user_id, jobs.PUBLIC_COLUMNS))
    return [svc.engine.public(row) for row in rows]
