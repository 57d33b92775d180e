"""What a job is, shared by server, worker and client (stdlib only, so the CLI's fast paths can
import it): its statuses and phases (DESIGN.md §3), its short id, and how its title and branch are named."""

from __future__ import annotations

import re

TERMINAL = ("succeeded", "failed", "timeout", "cancelled")
STATUSES = ("pending", "running", *TERMINAL)
PHASES = ("cloning", "setup", "executing", "verifying", "uploading")
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
