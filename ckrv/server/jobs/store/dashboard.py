"""The dashboard's reads: a page of a user's jobs with filters and a bounded title search, and
the repositories a user has used, a queued job's place in the queue."""

from __future__ import annotations

import sqlite3

from ckrv.contracts.jobmodel import JobStatus
from ckrv.server.jobs.store.queue import QUEUED
from ckrv.server.jobs.store.rows import PUBLIC_COLUMNS, list_page


def dashboard_page(
    conn: sqlite3.Connection,
    user_id: str,
    limit: int,
    *,
    status: JobStatus | None = None,
    repo: str | None = None,
    title: str | None = None,
    id_prefix: str | None = None,
    before: int | None = None,
) -> list[sqlite3.Row]:
    """Up to `limit` of the user's jobs (PUBLIC_COLUMNS), newest first, below row number
    `before`: with `status`, of repository `repo`, whose title contains `title` or whose id
    begins with `id_prefix`. A status or a repository is sought through its own index, so a
    filter that matches few of 100,000 jobs reads those few, not all of them."""
    if id_prefix is not None:
        return list_page(conn, user_id, limit, status=status, id_prefix=id_prefix, before=before)
    index = "jobs_user_status" if status else "jobs_user_repo" if repo else "jobs_user"
    where: list[str] = ["user_id = ?"]
    params: list[object] = [user_id]
    for column, value in (("status", status), ("git_repo_url", repo)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if title:
        escaped = title.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("spec_title LIKE ? ESCAPE '\\'")
        params.append(f"%{escaped}%")
        floor = search_floor(conn, user_id, before)
        if floor is not None:  # a title search reads at most SEARCH_WINDOW jobs per page
            where.append("seq >= ?")
            params.append(floor)
    if before is not None:
        where.append("seq < ?")
        params.append(before)
    return conn.execute(
        f"SELECT {PUBLIC_COLUMNS} FROM jobs INDEXED BY {index} WHERE {' AND '.join(where)}"
        " ORDER BY seq DESC LIMIT ?",
        (*params, limit),
    ).fetchall()


SEARCH_WINDOW = 5000  # jobs a title search reads for one page (a LIKE has no index)


def search_floor(conn: sqlite3.Connection, user_id: str, before: int | None) -> int | None:
    """The lowest row number among the user's SEARCH_WINDOW newest jobs below `before`; None
    when there are fewer (the search then reads them all)."""
    row = conn.execute(
        "SELECT seq FROM jobs INDEXED BY jobs_user WHERE user_id = ? AND seq < ?"
        " ORDER BY seq DESC LIMIT 1 OFFSET ?",
        (user_id, before if before is not None else 2**62, SEARCH_WINDOW - 1),
    ).fetchone()
    return int(row[0]) if row is not None else None


def repositories(conn: sqlite3.Connection, user_id: str, limit: int = 200) -> list[str]:
    """The repositories of the user's jobs, one index seek each (a skip-scan)."""
    rows = conn.execute(
        """WITH RECURSIVE repo(url) AS (
            SELECT MIN(git_repo_url) FROM jobs INDEXED BY jobs_user_repo WHERE user_id = ?
            UNION ALL
            SELECT (SELECT MIN(git_repo_url) FROM jobs INDEXED BY jobs_user_repo
                    WHERE user_id = ? AND git_repo_url > repo.url)
            FROM repo WHERE repo.url IS NOT NULL
        )
        SELECT url FROM repo WHERE url IS NOT NULL LIMIT ?""",
        (user_id, user_id, limit),
    )
    return [row[0] for row in rows]


def queue_place(conn: sqlite3.Connection, seq: int) -> int:
    """A queued job's place in the queue: 1 + the queued jobs of every user created before
    it (the dispatcher takes users in turn, so it may start sooner, never later)."""
    row = conn.execute(f"SELECT COUNT(*) FROM {QUEUED} AND seq < ?", (seq,)).fetchone()
    return int(row[0]) + 1
