"""What a job is, for server, worker and client alike: its statuses and phases, its short id,
and how its title and branch are named."""

from __future__ import annotations

import re
from typing import Literal, get_args

TerminalStatus = Literal["succeeded", "failed", "timeout", "cancelled"]
JobStatus = Literal["pending", "running", TerminalStatus]
# What the worker is doing while a job runs (reported as it moves on; shown by `ckrv status`).
JobPhase = Literal["cloning", "setup", "executing", "verifying", "uploading"]
# How a worker's own report ends a job; timeout and cancelled are the server's to decide.
WorkerResult = Literal["succeeded", "failed"]

TERMINAL: tuple[TerminalStatus, ...] = get_args(TerminalStatus)
STATUSES: tuple[JobStatus, ...] = ("pending", "running", *TERMINAL)
PHASES: tuple[JobPhase, ...] = get_args(JobPhase)
WORKER_RESULTS: tuple[WorkerResult, ...] = get_args(WorkerResult)
SHORT_ID = 8  # the short form people see, and the shortest prefix that names a job


def short_id(job_id: str) -> str:
    return job_id[:SHORT_ID]


def spec_title(spec: str) -> str:
    """The spec's first heading, or its first non-empty line."""
    lines = [line.strip() for line in spec.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("#"):
            return line.lstrip("#").strip()[:200]
    return lines[0][:200] if lines else "job"


def feature_branch(title: str, job_id: str) -> str:
    """`ckrv/<slug of the title>-<first 8 of the job id>`."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "job"
    return f"ckrv/{slug}-{job_id[:8]}"
