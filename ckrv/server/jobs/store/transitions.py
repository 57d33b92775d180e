"""The status moves (pending -> running -> a terminal status; contracts/jobmodel.py) and the
progress a worker reports. Every move is a guarded UPDATE, so a terminal status never changes
and `started_at`/`completed_at` are set once."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ckrv.contracts.jobmodel import TERMINAL, TerminalStatus
from ckrv.server.identity.users import refund_quota
from ckrv.server.jobs.store.rows import BY_ID, NOT_TERMINAL, key
from ckrv.timeutil import iso, utcnow


def mark_dispatched(conn: sqlite3.Connection, job_id: str, attempt: str, executor: str) -> bool:
    cur = conn.execute(
        f"UPDATE jobs SET attempt = ?, executor = ?, dispatched_at = ? WHERE {BY_ID}"
        " AND status = 'pending' AND attempt IS NULL AND cancel_requested = 0",
        (attempt, executor, iso(utcnow()), *key(conn, job_id)),
    )
    return cur.rowcount == 1


def set_executor_ref(conn: sqlite3.Connection, job_id: str, attempt: str, ref: str) -> None:
    conn.execute(
        f"UPDATE jobs SET executor_ref = ? WHERE {BY_ID} AND attempt = ?",
        (ref, *key(conn, job_id), attempt),
    )


def undispatch(conn: sqlite3.Connection, job_id: str) -> None:
    """Put a dispatched job whose worker never reported back in the queue again."""
    conn.execute(
        "UPDATE jobs SET attempt = NULL, executor_ref = NULL, dispatched_at = NULL"
        f" WHERE {BY_ID} AND status = 'pending'",
        key(conn, job_id),
    )


def mark_running(conn: sqlite3.Connection, job_id: str) -> bool:
    """Pending -> running; False when the job was not pending (a repeated report)."""
    cur = conn.execute(
        "UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, ?)"
        f" WHERE {BY_ID} AND status = 'pending'",
        (iso(utcnow()), *key(conn, job_id)),
    )
    return cur.rowcount == 1


def update_progress(conn: sqlite3.Connection, job_id: str, fields: dict[str, Any]) -> None:
    allowed = {"phase", "base_commit", "feature_branch_name", "pushed_branch"}
    sets = {k: v for k, v in fields.items() if k in allowed and v is not None}
    if sets:
        assignments = ", ".join(f"{k} = ?" for k in sets)
        params: list[object] = list(sets.values())
        if "phase" in sets:  # when each phase began, for the job page's timeline
            assignments += ", phase_times = json_set(COALESCE(phase_times, '{}'), ?, ?)"
            params += [f"$.{sets['phase']}", iso(utcnow())]
        conn.execute(
            f"UPDATE jobs SET {assignments} WHERE {BY_ID} AND status = 'running'",
            (*params, *key(conn, job_id)),
        )


# A job that ends before its setup command or agent ran (queued, cloning, preparing its sandbox:
# a clone or branch failure, a missing agent program, a cancellation) gives its quota back.
_UNSTARTED = "(phase IS NULL OR phase = 'cloning')"


def finish(
    conn: sqlite3.Connection,
    job_id: str,
    status: TerminalStatus,
    *,
    summary: str | None = None,
    error: str | None = None,
    diff_stats: dict[str, int] | None = None,
    diff_artifact: str | None = None,
    agent_exit_code: int | None = None,
    verified: bool | None = None,
    rounds: int | None = None,
    verify_runs: int | None = None,
    result_commit: str | None = None,
    cost_usd: float | None = None,
) -> bool:
    """Move a job to a terminal status; False when it already was terminal. A job that did
    not succeed and never got past cloning is refunded (`quota_refunded`) in the same write."""
    assert status in TERMINAL
    now = iso(utcnow())
    ended = conn.execute(
        f"UPDATE jobs SET status = ?, completed_at = ?, started_at = COALESCE(started_at, ?),"
        f" result_summary = COALESCE(?, result_summary), error_message = ?, diff_stats = ?,"
        f" diff_artifact = ?, agent_exit_code = COALESCE(?, agent_exit_code),"
        f" verified = ?, rounds = ?, verify_runs = ?, result_commit = ?, cost_usd = ?,"
        f" quota_refunded = (? <> 'succeeded' AND {_UNSTARTED})"
        f" WHERE {BY_ID} AND {NOT_TERMINAL} RETURNING user_id, created_at, quota_refunded",
        (
            status,
            now,
            now if status != "cancelled" else None,
            summary,
            error,
            json.dumps(diff_stats) if diff_stats is not None else None,
            diff_artifact,
            agent_exit_code,
            int(verified) if verified is not None else None,
            rounds,
            verify_runs,
            result_commit,
            cost_usd,
            status,
            *key(conn, job_id),
        ),
    ).fetchone()
    if ended is not None and ended[2]:  # (user_id, created_at, quota_refunded)
        refund_quota(conn, ended[0], ended[1])
    return ended is not None


def request_cancel(conn: sqlite3.Connection, seq: int) -> None:
    """Keep the dispatcher from starting the job (its queue index leaves it out)."""
    conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE seq = ?", (seq,))


# --- the queue: the dispatcher's reads ---

# Each condition matches its partial index in the schema word for word, and INDEXED BY holds the
# planner to it: the queries then touch only active or queued jobs, however long the queue.
