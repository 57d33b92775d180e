"""The jobs table's rows: the columns routes read, creation (one job or a group, with the quota
spent in the same transaction), ids, lookup, listing and a thread's steps."""

from __future__ import annotations

import copy
import sqlite3
import statistics
from typing import Any, NamedTuple

from ckrv.contracts.jobmodel import JobStatus, feature_branch, spec_title
from ckrv.server.identity.users import spend_quota
from ckrv.server.jobs.ids import new_id, seq_of, seqs_for_short_id
from ckrv.server.jobs.public import duration
from ckrv.server.storage.database import Connection
from ckrv.timeutil import iso, utcnow

NOT_TERMINAL = "status IN ('pending', 'running')"
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
    " parent_id, thread_id, start_commit, result_commit, cost_usd"
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
    " diff_stats, group_id, group_attempt, network, limits,"
    " verify, fix_rounds, verified, rounds,"
    " verify_runs, quota_refunded, parent_id, thread_id, start_commit, result_commit,"
    " cost_usd"
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
