"""The jobs table: every statement on it, by concern. Callers use `from ckrv.server.jobs import
store as jobs` and `jobs.NAME`; this package gathers the names.

   rows.py          columns, creation (jobs and groups, quota in the same transaction), ids,
                    lookup, listing, a thread's steps
   transitions.py   the status moves and reported progress (guarded UPDATEs)
   queue.py         what is active, who waits, the oldest queued jobs
   artifacts.py     retention and the log's bookkeeping columns
   dashboard.py     the dashboard's pages, bounded title search, repositories, queue place
"""

from ckrv.server.jobs.store.artifacts import (
    archived_with_rows,
    ended_before,
    ended_with_log_in_rows,
    log_counters,
    mark_artifacts_expired,
    replace_log_artifact,
    set_log_artifact,
    set_log_counters,
)
from ckrv.server.jobs.store.dashboard import (
    SEARCH_WINDOW,
    dashboard_page,
    queue_place,
    repositories,
    search_floor,
)
from ckrv.server.jobs.store.queue import (
    QUEUED,
    active,
    active_per_user,
    ids_of_user,
    oldest_queued,
    queued,
    unfinished_count,
    waiting_users,
)
from ckrv.server.jobs.store.rows import (
    BY_ID,
    COLUMNS,
    NOT_TERMINAL,
    PUBLIC_COLUMNS,
    NewJob,
    find,
    group_jobs,
    group_taken,
    insert_group,
    insert_jobs,
    job_id_key,
    key,
    list_page,
    median_duration,
    prefix_seqs,
    thread_steps,
)
from ckrv.server.jobs.store.transitions import (
    finish,
    mark_dispatched,
    mark_running,
    request_cancel,
    set_executor_ref,
    undispatch,
    update_progress,
)

__all__ = [
    "BY_ID",
    "COLUMNS",
    "NOT_TERMINAL",
    "PUBLIC_COLUMNS",
    "QUEUED",
    "SEARCH_WINDOW",
    "NewJob",
    "active",
    "active_per_user",
    "archived_with_rows",
    "dashboard_page",
    "ended_before",
    "ended_with_log_in_rows",
    "find",
    "finish",
    "group_jobs",
    "group_taken",
    "ids_of_user",
    "insert_group",
    "insert_jobs",
    "job_id_key",
    "key",
    "list_page",
    "log_counters",
    "mark_artifacts_expired",
    "mark_dispatched",
    "mark_running",
    "median_duration",
    "oldest_queued",
    "prefix_seqs",
    "queue_place",
    "queued",
    "replace_log_artifact",
    "repositories",
    "request_cancel",
    "search_floor",
    "set_executor_ref",
    "set_log_artifact",
    "set_log_counters",
    "thread_steps",
    "undispatch",
    "unfinished_count",
    "update_progress",
    "waiting_users",
]
