"""The dispatcher's queue: what is active, who waits, the oldest queued jobs of a user."""

from __future__ import annotations

import sqlite3

from ckrv.server.jobs.store.rows import COLUMNS, NOT_TERMINAL

_ACTIVE = (
    "jobs INDEXED BY jobs_active"
    " WHERE (status = 'running' OR (status = 'pending' AND attempt IS NOT NULL))"
)
QUEUED = "jobs INDEXED BY jobs_queue WHERE status = 'pending' AND attempt IS NULL AND cancel_requested = 0"
# The users with queued jobs, one index seek each (a skip-scan), not one row per queued job.
_WAITING_USERS = f"""
    WITH RECURSIVE waiting(user_id) AS (
        SELECT MIN(user_id) FROM {QUEUED}
        UNION ALL
        SELECT (SELECT MIN(user_id) FROM {QUEUED} AND user_id > waiting.user_id)
        FROM waiting WHERE waiting.user_id IS NOT NULL
    )
    SELECT user_id FROM waiting WHERE user_id IS NOT NULL"""


def active(conn: sqlite3.Connection, columns: str = COLUMNS) -> list[sqlite3.Row]:
    """The jobs holding a worker: running, or dispatched and not yet reported running."""
    return conn.execute(f"SELECT {columns} FROM {_ACTIVE}").fetchall()


def active_per_user(conn: sqlite3.Connection) -> dict[str, int]:
    rows = conn.execute(f"SELECT user_id, COUNT(*) AS n FROM {_ACTIVE} GROUP BY user_id")
    return {r["user_id"]: r["n"] for r in rows}


def waiting_users(conn: sqlite3.Connection) -> list[str]:
    """The users with queued jobs (pending, not dispatched, not cancelled)."""
    return [row["user_id"] for row in conn.execute(_WAITING_USERS)]


def oldest_queued(conn: sqlite3.Connection, user_id: str, limit: int) -> list[tuple[int, str]]:
    """(row number, id) of the user's `limit` oldest queued jobs, oldest first."""
    rows = conn.execute(
        f"SELECT id, seq FROM {QUEUED} AND user_id = ? ORDER BY seq LIMIT ?", (user_id, limit)
    )
    return [(row["seq"], row["id"]) for row in rows]


# --- retention and the log's place (logs/store.py says what `log_artifact` holds) ---


def queued(conn: sqlite3.Connection, columns: str = COLUMNS, limit: int = 200) -> list[sqlite3.Row]:
    """The queue of every user, oldest first (at most `limit` jobs)."""
    return conn.execute(f"SELECT {columns} FROM {QUEUED} ORDER BY seq LIMIT ?", (limit,)).fetchall()


def unfinished_count(conn: sqlite3.Connection, user_id: str) -> int:
    """How many of the user's jobs are pending or running."""
    sql = f"SELECT COUNT(*) FROM jobs INDEXED BY jobs_user WHERE user_id = ? AND {NOT_TERMINAL}"
    return int(conn.execute(sql, (user_id,)).fetchone()[0])


def ids_of_user(conn: sqlite3.Connection, user_id: str) -> list[str]:
    rows = conn.execute("SELECT id FROM jobs INDEXED BY jobs_user WHERE user_id = ?", (user_id,))
    return [row["id"] for row in rows]


# --- the dashboard's reads ---
