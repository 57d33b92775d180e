"""The Job object of the API contract (plus ckrv's additions), built from a job row."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from ckrv.contracts.jobmodel import TERMINAL
from ckrv.timeutil import parse_iso, utcnow

# A job as selected (a sqlite3.Row) or as just inserted (a dict): both index by column name.
JobRow = sqlite3.Row | Mapping[str, Any]


def duration(row: JobRow) -> float | None:
    started = parse_iso(row["started_at"])
    if started is None:
        return None
    end = parse_iso(row["completed_at"]) or utcnow()
    return max((end - started).total_seconds(), 0.0)


def public_job(row: JobRow, eta_median: float | None = None) -> dict[str, Any]:
    """The Job object of the API contract, plus ckrv's additions."""
    if isinstance(row, sqlite3.Row):  # it finds each name by walking its columns: copy once
        row = dict(zip(row.keys(), row, strict=True))
    status = row["status"]
    elapsed = duration(row)
    eta = None
    if eta_median is not None and status in ("pending", "running"):
        eta = max(eta_median - (elapsed or 0.0), 0.0)
    return {
        "id": row["id"],
        "status": status,
        "phase": row["phase"] if status == "running" else None,
        "agent": row["agent"],
        "spec_title": row["spec_title"],
        "git_repo_url": row["git_repo_url"],
        "git_base_branch": row["git_base_branch"],
        "git_credential_name": row["credential_name"],
        "base_commit": row["base_commit"],
        "feature_branch_name": row["feature_branch_name"],
        "pushed_branch": row["pushed_branch"],
        "setup": row["setup"],
        "push": bool(row["push"]),
        "timeout_seconds": row["timeout_seconds"],
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "completed_at": row["completed_at"],
        "result_status": status if status in TERMINAL else None,
        "result_summary": row["result_summary"],
        "error_message": row["error_message"],
        "diff_stats": json.loads(row["diff_stats"]) if row["diff_stats"] else None,
        "duration_seconds": round(elapsed, 3) if elapsed is not None else None,
        "eta_seconds": round(eta, 1) if eta is not None else None,
        "group": row["group_id"],
        "attempt": row["group_attempt"],
        "quota_refunded": bool(row["quota_refunded"]),
        "network": _own_network(row["network"]),
        "limits": json.loads(row["limits"]) if row["limits"] else None,
        **_verify_fields(row),
        "parent": row["parent_id"],
        "thread": row["thread_id"] or row["id"],
        "start_commit": row["start_commit"],
        "result_commit": row["result_commit"],
        "cost_usd": row["cost_usd"],
    }


def _verify_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The verify gate: the job's own commands, the fix rounds it may use and used, whether
    its result passed (null: no verify ran) and where each verify run's transcript is."""
    verified = row["verified"]
    runs = row["verify_runs"] or 0
    return {
        "verify": json.loads(row["verify"]) if row["verify"] else None,
        "fix_rounds": row["fix_rounds"],
        "verified": bool(verified) if verified is not None else None,
        "rounds": row["rounds"],
        "verify_transcripts": [f"/v1/jobs/{row['id']}/artifacts/verify/{n}" for n in range(runs)],
    }


def _own_network(raw: str | None) -> dict[str, Any] | None:
    """The policy the job's own network option settled (null: it gave none, and the
    operator's policy is settled when the job starts)."""
    if not raw:
        return None
    stored = json.loads(raw)
    return {k: stored.get(k) for k in ("mode", "allowed_hosts", "source")}
