"""The jobs table: every statement on it. Creation (with the quota spent in the same
transaction), lookup and listing, the status moves (pending -> running -> a terminal status; contracts/jobmodel.py), the dispatcher's queue,
retention, and the log's bookkeeping columns. Every move is a guarded UPDATE, so a terminal
status never changes and `started_at`/`completed_at` are set once."""

from __future__ import annotations

import copy
import json
import sqlite3
import statistics
from typing import Any, NamedTuple

from ckrv.contracts.jobmodel import TERMINAL, JobStatus, TerminalStatus, feature_branch, spec_title
from ckrv.server.identity.users import refund_quota, spend_quota
from ckrv.server.jobs.ids import new_id, seq_of, seqs_for_short_id
from ckrv.server.jobs.public import duration
from ckrv.server.storage.database import Connection
from ckrv.timeutil import iso, utcnow

_NOT_TERMINAL = "status IN ('pending', 'running')"
# A job found by id: by the row number its id carries (a rowid lookup), the id compared too.
# Parameters: `key(conn, job_id)`.
BY_ID = "seq = ? AND id = ?"
_LEGACY_SEQ = (
    "SELECT seq FROM jobs INDEXED BY jobs_legacy_id WHERE id = ? AND substr(id, 15, 1) <> '8'"
)
# Every column but spec_content (up to 1 MiB, needed only by the worker): what routes select.
COLUMNS = (
    "seq, id, user_id, status, phase, agent, spec_title, git_repo_url, git_base_branch,"
    " credential_id, credential_name, setup, push, timeout_seconds, feature_branch_name,"
    " base_commit, pushed_branch, created_at, started_at, completed_at, result_summary,"
    " error_message, diff_stats, diff_artifact, log_artifact, artifacts_expired, executor,"
    " executor_ref, attempt, dispatched_at, agent_exit_code, cancel_requested, log_bytes,"
    " log_dropped, last_log_seq, network, limits, group_id, group_attempt,"
    " verify, fix_rounds, verified, rounds,"
    " verify_runs, phase_times, quota_refunded,"
    " parent_id, thread_id, start_commit, result_commit"
)


class NewJob(NamedTuple):  # built on every POST: cheaper than a frozen dataclass
    user_id: str
    spec_content: str
    git_repo_url: str
    git_base_branch: str
    agent: str
    timeout_seconds: float
    setup: str | None = None
    credential_id: str | None = None
    credential_name: str | None = None
    push: bool = False
    network: str | None = None  # the settled NetworkPolicy as JSON
    limits: str | None = None  # the job's own limits option as JSON (ckrv/server/jobs/limits.py)
    verify: str | None = None  # the job's own verify commands as JSON
    fix_rounds: int = 0
    # a follow-up: the job it continues, its thread's first job, the commit it starts from,
    # the thread's base commit and its feature branch (the parent's)
    parent_id: str | None = None
    thread_id: str | None = None
    start_commit: str | None = None
    base_commit: str | None = None
    feature_branch_name: str | None = None


# What `public` reads: the columns the job routes select (fewer columns, cheaper rows).
PUBLIC_COLUMNS = (
    "seq, id, status, phase, agent, spec_title, git_repo_url, git_base_branch,"
    " credential_name, base_commit, feature_branch_name, pushed_branch, setup, push,"
    " timeout_seconds, created_at, started_at, completed_at, result_summary, error_message,"
    " diff_stats, group_id, group_attempt,"
    " verify, fix_rounds, verified, rounds,"
    " verify_runs, quota_refunded, parent_id, thread_id, start_commit, result_commit"
)

# What a new job's columns hold before anything happens to it (the schema's defaults).
_UNSET = dict.fromkeys(COLUMNS.replace(" ", "").split(","), None) | {
    "artifacts_expired": 0,
    "cancel_requested": 0,
    "log_bytes": 0,
    "log_dropped": 0,
    "last_log_seq": 0,
    "fix_rounds": 0,
    "quota_refunded": 0,
}
_INSERTED = [
    "seq",
    "id",
    "user_id",
    "status",
    "agent",
    "spec_title",
    "git_repo_url",
    "git_base_branch",
    "credential_id",
    "credential_name",
    "setup",
    "push",
    "timeout_seconds",
    "feature_branch_name",
    "created_at",
    "spec_content",
]


def _insert_statement(columns: list[str]) -> str:
    return f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join(':' + n for n in columns)})"


# By the optional columns a job sets (left out: NULL, the column's default), made once each.
_INSERTS: dict[tuple[str, ...], str] = {}


def _insert_for(given: tuple[str, ...]) -> str:
    statement = _INSERTS.get(given)
    if statement is None:
        statement = _INSERTS[given] = _insert_statement([*_INSERTED, *given])
    return statement


def insert_jobs(
    conn: sqlite3.Connection, new_jobs: list[NewJob], upgrade_url: str
) -> list[dict[str, Any] | Exception]:
    """Insert jobs, spending their quota in the same transaction (one quota read and write
    per user however many jobs): for each, its row or why it was refused. Rows are built
    here, not read back: a RETURNING clause cost as much as the insert itself."""
    wanted: dict[str, int] = {}
    for job in new_jobs:
        wanted[job.user_id] = wanted.get(job.user_id, 0) + 1
    grants = {user: spend_quota(conn, user, upgrade_url, n) for user, n in wanted.items()}
    seq = _high_water(conn)  # row numbers are handed out here: a job's id is made from its own
    id_key = job_id_key(conn)
    created_at = iso(utcnow())
    outcomes: list[dict[str, Any] | Exception] = []
    for job in new_jobs:
        granted, refusal = grants[job.user_id]
        if granted == 0:
            assert refusal is not None
            outcomes.append(copy.copy(refusal))  # each caller raises its own
            continue
        grants[job.user_id] = (granted - 1, refusal)
        seq += 1
        outcomes.append(_insert(conn, job, seq, id_key, created_at))
    return outcomes


def insert_group(
    conn: sqlite3.Connection, new_jobs: list[NewJob], group_id: str
) -> list[dict[str, Any]]:
    """Insert a group's jobs as its attempts 1..N; the caller has spent their quota (a group
    is granted whole or refused whole: server/jobs/groups.py)."""
    seq = _high_water(conn)
    id_key = job_id_key(conn)
    created_at = iso(utcnow())
    rows = []
    for attempt, job in enumerate(new_jobs, 1):
        seq += 1
        row = _insert(conn, job, seq, id_key, created_at)
        conn.execute(
            "UPDATE jobs SET group_id = ?, group_attempt = ? WHERE seq = ?",
            (group_id, attempt, seq),
        )
        rows.append(row | {"group_id": group_id, "group_attempt": attempt})
    return rows


def group_taken(conn: sqlite3.Connection, group_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM jobs INDEXED BY jobs_group WHERE group_id = ? LIMIT 1", (group_id,)
    ).fetchone()
    return row is not None


def group_jobs(
    conn: sqlite3.Connection, group_id: str, user_id: str, columns: str = COLUMNS
) -> list[sqlite3.Row]:
    """The group's jobs, by attempt; none when it is not `user_id`'s (or does not exist)."""
    return conn.execute(
        f"SELECT {columns} FROM jobs INDEXED BY jobs_group"
        " WHERE group_id = ? AND user_id = ? ORDER BY group_attempt",
        (group_id, user_id),
    ).fetchall()


def _insert(
    conn: sqlite3.Connection, job: NewJob, seq: int, id_key: int, created_at: str | None
) -> dict[str, Any]:
    job_id = new_id(seq, id_key)
    title = spec_title(job.spec_content)
    values = {
        "seq": seq,
        "id": job_id,
        "user_id": job.user_id,
        "status": "pending",
        "agent": job.agent,
        "spec_title": title,
        "git_repo_url": job.git_repo_url,
        "git_base_branch": job.git_base_branch,
        "credential_id": job.credential_id,
        "credential_name": job.credential_name,
        "setup": job.setup,
        "push": int(job.push),
        "timeout_seconds": job.timeout_seconds,
        "feature_branch_name": job.feature_branch_name or feature_branch(title, job_id),
        "created_at": created_at,
    }
    optional = {
        "network": job.network,
        "limits": job.limits,
        "verify": job.verify,
        "fix_rounds": job.fix_rounds or None,
        "parent_id": job.parent_id,
        "thread_id": job.thread_id,
        "start_commit": job.start_commit,
        "base_commit": job.base_commit,
    }
    given = tuple(name for name, value in optional.items() if value is not None)
    values.update({name: optional[name] for name in given})
    conn.execute(_insert_for(given), {**values, "spec_content": job.spec_content})
    return _UNSET | values


def prefix_seqs(conn: sqlite3.Connection, prefix: str) -> list[int] | None:
    """The row numbers of the jobs whose id may begin with `prefix` (lower-case hex digits and
    dashes); None when it is shorter than a short id and every job has to be looked at."""
    if len(prefix) < 8 or "-" in prefix[:8]:
        return None
    seqs = seqs_for_short_id(prefix, _high_water(conn), job_id_key(conn))
    beyond = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # the least string above the prefix range
    legacy = conn.execute(
        "SELECT seq FROM jobs INDEXED BY jobs_legacy_id"
        " WHERE id >= ? AND id < ? AND substr(id, 15, 1) <> '8'",
        (prefix, beyond),
    ).fetchall()
    return seqs + [row[0] for row in legacy]


def job_id_key(conn: sqlite3.Connection) -> int:
    """This server's job-id key (jobs/ids.py), read once per connection: it never changes."""
    known = getattr(conn, "job_id_key", None)
    if known is not None:
        return int(known)
    try:
        row = conn.execute("SELECT value FROM server_keys WHERE name = 'job_ids'").fetchone()
    except sqlite3.OperationalError:  # a database from before keys: ids as they were made then
        return 0
    value = int(row[0]) if row is not None else 0
    if row is not None and isinstance(conn, Connection):
        conn.job_id_key = value
    return value


def _high_water(conn: sqlite3.Connection) -> int:
    """The highest row number ever given to a job (AUTOINCREMENT's mark, not max(seq): a job
    deleted since keeps its number, and so its id, from being used again)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").fetchone()
    return int(row[0]) if row is not None else 0


def find(
    conn: sqlite3.Connection, job_id: str, columns: str = COLUMNS, user_id: str | None = None
) -> sqlite3.Row | None:
    """The job's row (only if it is `user_id`'s, when given), or None."""
    params: tuple[object, ...] = key(conn, job_id)
    where = BY_ID
    if user_id is not None:
        where, params = f"{BY_ID} AND user_id = ?", (*params, user_id)
    row: sqlite3.Row | None = conn.execute(
        f"SELECT {columns} FROM jobs WHERE {where}", params
    ).fetchone()
    return row


def key(conn: sqlite3.Connection, job_id: str) -> tuple[int, str]:
    """The parameters of `BY_ID` for `job_id`. A uuid4 id from before schema 3 carries no row
    number: its own index is read (0 is no row's number, so an unknown id matches nothing)."""
    seq = seq_of(job_id, job_id_key(conn))
    if seq is None:
        row = conn.execute(_LEGACY_SEQ, (job_id,)).fetchone()
        seq = row[0] if row is not None else 0
    return seq, job_id


def list_page(
    conn: sqlite3.Connection,
    user_id: str,
    limit: int,
    *,
    status: JobStatus | None = None,
    id_prefix: str | None = None,
    before: int | None = None,
    thread: str | None = None,
) -> list[sqlite3.Row]:
    """Up to `limit` of the user's jobs (PUBLIC_COLUMNS), newest first: only those with
    `status`, whose id begins with `id_prefix` (lower case), with a row number below `before`,
    of the thread whose first job is `thread`."""
    where: list[str] = ["user_id = ?"]
    params: list[object] = [user_id]
    if thread is not None:
        where.append(f"(thread_id = ? OR ({BY_ID}))")
        params.extend((thread, *key(conn, thread)))
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if id_prefix is not None:
        where.append("id LIKE ?")
        params.append(id_prefix + "%")
        seqs = prefix_seqs(conn, id_prefix)
        if seqs is not None:  # found by row number, not by reading all the user's jobs
            where.append(f"seq IN ({', '.join('?' * len(seqs))})")
            params.extend(seqs)
    if before is not None:
        where.append("seq < ?")
        params.append(before)
    return conn.execute(
        f"SELECT {PUBLIC_COLUMNS} FROM jobs WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
        (*params, limit),
    ).fetchall()


def median_duration(conn: sqlite3.Connection, agent: str, sample: int = 20) -> float | None:
    """Median duration of this server's recent successful jobs with `agent`; None below 3."""
    rows = conn.execute(
        "SELECT started_at, completed_at FROM jobs INDEXED BY jobs_succeeded"
        " WHERE status = 'succeeded' AND agent = ? ORDER BY seq DESC LIMIT ?",
        (agent, sample),
    ).fetchall()
    durations = [d for d in (duration(r) for r in rows) if d is not None]
    return statistics.median(durations) if len(durations) >= 3 else None


def thread_steps(conn: sqlite3.Connection, job_id: str, depth: int) -> list[sqlite3.Row]:
    """The job and the jobs it continues, first job of the thread last (at most `depth`):
    id, spec_content, result_summary, parent_id."""
    steps: list[sqlite3.Row] = []
    current: str | None = job_id
    while current is not None and len(steps) < depth:
        row = conn.execute(
            f"SELECT id, spec_content, result_summary, parent_id FROM jobs WHERE {BY_ID}",
            key(conn, current),
        ).fetchone()
        if row is None:
            break
        steps.append(row)
        current = row["parent_id"]
    return steps


# --- status moves ---


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
) -> bool:
    """Move a job to a terminal status; False when it already was terminal. A job that did
    not succeed and never got past cloning is refunded (`quota_refunded`) in the same write."""
    assert status in TERMINAL
    now = iso(utcnow())
    ended = conn.execute(
        f"UPDATE jobs SET status = ?, completed_at = ?, started_at = COALESCE(started_at, ?),"
        f" result_summary = COALESCE(?, result_summary), error_message = ?, diff_stats = ?,"
        f" diff_artifact = ?, agent_exit_code = COALESCE(?, agent_exit_code),"
        f" verified = ?, rounds = ?, verify_runs = ?, result_commit = ?,"
        f" quota_refunded = (? <> 'succeeded' AND {_UNSTARTED})"
        f" WHERE {BY_ID} AND {_NOT_TERMINAL} RETURNING user_id, created_at, quota_refunded",
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
_ACTIVE = (
    "jobs INDEXED BY jobs_active"
    " WHERE (status = 'running' OR (status = 'pending' AND attempt IS NOT NULL))"
)
_QUEUED = "jobs INDEXED BY jobs_queue WHERE status = 'pending' AND attempt IS NULL AND cancel_requested = 0"
# The users with queued jobs, one index seek each (a skip-scan), not one row per queued job.
_WAITING_USERS = f"""
    WITH RECURSIVE waiting(user_id) AS (
        SELECT MIN(user_id) FROM {_QUEUED}
        UNION ALL
        SELECT (SELECT MIN(user_id) FROM {_QUEUED} AND user_id > waiting.user_id)
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
        f"SELECT id, seq FROM {_QUEUED} AND user_id = ? ORDER BY seq LIMIT ?", (user_id, limit)
    )
    return [(row["seq"], row["id"]) for row in rows]


# --- retention and the log's place (logs/store.py says what `log_artifact` holds) ---


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


def queued(conn: sqlite3.Connection, columns: str = COLUMNS, limit: int = 200) -> list[sqlite3.Row]:
    """The queue of every user, oldest first (at most `limit` jobs)."""
    return conn.execute(
        f"SELECT {columns} FROM {_QUEUED} ORDER BY seq LIMIT ?", (limit,)
    ).fetchall()


def unfinished_count(conn: sqlite3.Connection, user_id: str) -> int:
    """How many of the user's jobs are pending or running."""
    sql = f"SELECT COUNT(*) FROM jobs INDEXED BY jobs_user WHERE user_id = ? AND {_NOT_TERMINAL}"
    return int(conn.execute(sql, (user_id,)).fetchone()[0])


def ids_of_user(conn: sqlite3.Connection, user_id: str) -> list[str]:
    rows = conn.execute("SELECT id FROM jobs INDEXED BY jobs_user WHERE user_id = ?", (user_id,))
    return [row["id"] for row in rows]


# --- the dashboard's reads ---


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
    row = conn.execute(f"SELECT COUNT(*) FROM {_QUEUED} AND seq < ?", (seq,)).fetchone()
    return int(row[0]) + 1
