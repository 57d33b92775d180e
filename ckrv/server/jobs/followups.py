"""Follow-ups: a job that continues another's result (`POST /v1/jobs/{id}/continue`).

It takes every option that shaped the parent's run (INHERITED: repository, base branch,
credential, agent, setup, push, timeout, network, limits, verify, fix rounds) unless the request
names its own (inheritance.py: only what the request sends is checked like a new job's, with
creation.py's errors; what it inherits is brought within the server's current bounds), with
the same quota. It starts from the parent's result commit, which the server keeps as a git bundle
(`result.bundle`, uploaded by the parent's worker, deleted with the job's other artifacts),
so the parent need not have pushed; it keeps the thread's base commit and feature branch, so
its diff is the thread's whole change and its push fast-forwards the same branch."""

from __future__ import annotations

import sqlite3
from typing import Any

from ckrv.errors import ArtifactExpired, Conflict
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.creation import parse_new_job
from ckrv.server.jobs.inheritance import merged
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
) -> tuple[jobs.NewJob, list[str]]:
    """The NewJob continuing `parent` (a row with store.COLUMNS) as `body` asks, and notices
    of what it inherited that was lowered to the server's current bounds."""
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
    settled, notices = merged(svc.settings, parent, body)
    new_job = parse_new_job(svc, user_id, settled)
    if parent["parent_id"] is not None and _depth(svc, pid) >= MAX_THREAD_STEPS:
        raise Conflict(f"a thread holds at most {MAX_THREAD_STEPS} steps; start a new job")
    new_job = new_job._replace(
        parent_id=pid,
        thread_id=parent["thread_id"] or pid,
        start_commit=parent["result_commit"],
        base_commit=parent["base_commit"],
        feature_branch_name=parent["feature_branch_name"],
    )
    return new_job, notices


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
