"""Follow-ups: a job that continues another's result (`POST /v1/jobs/{id}/continue`).

It takes every option that shaped the parent's run (INHERITED: repository, base branch,
credential, agent, setup, push, timeout, network, limits, verify, fix rounds) unless the request
names its own, and is checked like any new job (creation.py: the same errors) with the same
quota. It
starts from the parent's result commit, which the server keeps as a git bundle
(`result.bundle`, uploaded by the parent's worker, deleted with the job's other artifacts),
so the parent need not have pushed; it keeps the thread's base commit and feature branch, so
its diff is the thread's whole change and its push fast-forwards the same branch."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ckrv.errors import ArtifactExpired, Conflict
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.creation import parse_new_job
from ckrv.server.jobs.network import asked_network
from ckrv.server.services import Services

MAX_THREAD_STEPS = 50  # the history a follow-up's agent is given goes back this far
BUNDLE = "result.bundle"
DELTA = "delta.patch"

# What a follow-up takes from its parent unless the request sets it (request body names; the
# route's OpenAPI description and `ckrv continue --help` list them too).
INHERITED = (
    "git_base_branch",
    "git_credential_name",
    "agent",
    "setup",
    "push",
    "timeout_seconds",
    "network",
    "allowed_hosts",
    "limits",
    "verify",
    "fix_rounds",
)
# The keys of its request; any other is refused (web/http.py), `git_repo_url` too: a
# follow-up's repository is its parent's.
FOLLOW_UP_FIELDS = frozenset({"spec_content", *INHERITED})


def follow_up(
    svc: Services, user_id: str, parent: sqlite3.Row, body: dict[str, Any]
) -> jobs.NewJob:
    """The NewJob continuing `parent` (a row with store.COLUMNS) as `body` asks."""
    pid = parent["id"]
    if parent["status"] != "succeeded":
        raise Conflict(
            f"job {pid} ended {parent['status']}; only a succeeded job can be continued"
            if parent["status"] in ("failed", "timeout", "cancelled")
            else f"job {pid} is {parent['status']}; continue it once it succeeds"
        )
    if parent["artifacts_expired"]:
        raise ArtifactExpired(f"the result of job {pid} has expired (artifact retention)")
    if not parent["result_commit"]:
        raise Conflict(f"job {pid} kept no result commit (it ran on an older server)")
    new_job = parse_new_job(svc, user_id, _merged(parent, body))
    if parent["parent_id"] is not None and _depth(svc, pid) >= MAX_THREAD_STEPS:
        raise Conflict(f"a thread holds at most {MAX_THREAD_STEPS} steps; start a new job")
    return new_job._replace(
        parent_id=pid,
        thread_id=parent["thread_id"] or pid,
        start_commit=parent["result_commit"],
        base_commit=parent["base_commit"],
        feature_branch_name=parent["feature_branch_name"],
    )


def _inherited(parent: sqlite3.Row) -> dict[str, Any]:
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


def _merged(parent: sqlite3.Row, body: dict[str, Any]) -> dict[str, Any]:
    """The parent's options with the request's on top (null or left out: the parent's). The
    request's `limits` replace the parent's one limit at a time (a limit set to null drops
    the parent's, leaving the server's); `git_repo_url` cannot change."""
    merged = _inherited(parent)
    given = {k: v for k, v in body.items() if v is not None and k != "git_repo_url"}
    limits = given.get("limits")
    if isinstance(limits, dict) and merged["limits"]:
        given["limits"] = {**merged["limits"], **limits}
    merged.update(given)
    return merged


def _depth(svc: Services, job_id: str) -> int:
    return len(svc.db.read_with(lambda c: jobs.thread_steps(c, job_id, MAX_THREAD_STEPS)))


def earlier_steps(svc: Services, row: sqlite3.Row) -> list[dict[str, str]]:
    """The steps before this follow-up, first first: each job's id, spec and summary."""
    parent = row["parent_id"]
    if parent is None:
        return []
    steps = svc.db.read_with(lambda c: jobs.thread_steps(c, parent, MAX_THREAD_STEPS))
    return [
        {"job_id": s["id"], "spec": s["spec_content"], "summary": s["result_summary"] or ""}
        for s in reversed(steps)
    ]
