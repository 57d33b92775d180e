"""Follow-ups: a job that continues another's result (`POST /v1/jobs/{id}/continue`).

It takes the parent's repository, base branch, credential, agent, setup and verify unless the
request names its own, and is checked like any new job (creation.py) with the same quota. It
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
from ckrv.server.services import Services

MAX_THREAD_STEPS = 50  # the history a follow-up's agent is given goes back this far
BUNDLE = "result.bundle"
DELTA = "delta.patch"

# What a follow-up takes from its parent unless the request sets it.
_INHERITED = ("git_base_branch", "agent", "setup")


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
    merged = {name: parent[name] for name in _INHERITED}
    merged["git_repo_url"] = parent["git_repo_url"]
    merged["git_credential_name"] = parent["credential_name"]
    merged["timeout_seconds"] = parent["timeout_seconds"]
    if parent["verify"]:
        merged["verify"] = json.loads(parent["verify"])
        merged["fix_rounds"] = parent["fix_rounds"]
    merged.update({k: v for k, v in body.items() if v is not None and k != "git_repo_url"})
    new_job = parse_new_job(svc, user_id, merged)
    if parent["parent_id"] is not None and _depth(svc, pid) >= MAX_THREAD_STEPS:
        raise Conflict(f"a thread holds at most {MAX_THREAD_STEPS} steps; start a new job")
    return new_job._replace(
        parent_id=pid,
        thread_id=parent["thread_id"] or pid,
        start_commit=parent["result_commit"],
        base_commit=parent["base_commit"],
        feature_branch_name=parent["feature_branch_name"],
    )


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
