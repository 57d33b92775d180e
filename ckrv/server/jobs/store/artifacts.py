"""Retention and the log's bookkeeping columns: jobs whose artifacts expire, log counters, and
where each job's log lives (rows or an archive)."""

from __future__ import annotations

import sqlite3

from ckrv.contracts.jobmodel import TERMINAL
from ckrv.server.jobs.store.rows import BY_ID, key


def ended_before(conn: sqlite3.Connection, cutoff: str | None) -> list[sqlite3.Row]:
    """(seq, id) of the jobs that ended before `cutoff` and still have their artifacts."""
    return conn.execute(
        "SELECT seq, id FROM jobs INDEXED BY jobs_unexpired"
        " WHERE artifacts_expired = 0 AND completed_at IS NOT NULL AND completed_at < ?",
        (cutoff,),
    ).fetchall()


def mark_artifacts_expired(conn: sqlite3.Connection, seqs: list[int]) -> None:
    """Retention: the artifacts are gone, and the spec goes with them (the title stays)."""
    conn.executemany(
        "UPDATE jobs SET artifacts_expired = 1, diff_artifact = NULL,"
        " log_artifact = NULL, spec_content = '' WHERE seq = ?",
        [(seq,) for seq in seqs],
    )


def log_counters(conn: sqlite3.Connection, job_id: str) -> sqlite3.Row | None:
    """The job's log bookkeeping and `last`, the highest log position stored, in one read."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT seq, last_log_seq, log_bytes, log_dropped, log_artifact, artifacts_expired,"
        f" (SELECT MAX(seq) FROM job_logs WHERE job_id = jobs.id) AS last FROM jobs WHERE {BY_ID}",
        key(conn, job_id),
    ).fetchone()
    return row


def set_log_counters(
    conn: sqlite3.Connection, seq: int, seen: int, used: int, dropped: int
) -> None:
    conn.execute(
        "UPDATE jobs SET last_log_seq = ?, log_bytes = ?, log_dropped = ? WHERE seq = ?",
        (seen, used, dropped, seq),
    )


def set_log_artifact(conn: sqlite3.Connection, seq: int, artifact: str) -> None:
    conn.execute("UPDATE jobs SET log_artifact = ? WHERE seq = ?", (artifact, seq))


def replace_log_artifact(conn: sqlite3.Connection, job_id: str, old: str, new: str) -> None:
    conn.execute(
        f"UPDATE jobs SET log_artifact = ? WHERE {BY_ID} AND log_artifact = ?",
        (new, *key(conn, job_id), old),
    )


def ended_with_log_in_rows(conn: sqlite3.Connection, sealed: str) -> list[str]:
    """Ids of ended jobs whose log is still in rows (not yet sealed, or sealed and not
    archived): what a crash left to archive."""
    placeholders = ", ".join("?" * len(TERMINAL))
    rows = conn.execute(
        "SELECT id FROM jobs INDEXED BY jobs_unexpired"
        " WHERE artifacts_expired = 0 AND completed_at IS NOT NULL"
        f" AND status IN ({placeholders}) AND (log_artifact IS NULL OR log_artifact = ?)",
        (*TERMINAL, sealed),
    )
    return [row["id"] for row in rows]


def archived_with_rows(conn: sqlite3.Connection, archived: str) -> list[str]:
    """Ids of jobs whose log is archived but still has rows (their deletion was cut short)."""
    rows = conn.execute(
        "SELECT id FROM jobs WHERE log_artifact = ? AND EXISTS"
        " (SELECT 1 FROM job_logs WHERE job_logs.job_id = jobs.id)",
        (archived,),
    )
    return [row["id"] for row in rows]


# --- across users: the admin page and `ckrv admin user remove` ---
