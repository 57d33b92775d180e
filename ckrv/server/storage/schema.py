"""Numbered schema migrations. `PRAGMA user_version` records how many have been applied; append
new ones at the end, never edit an applied one."""

MIGRATIONS: list[str] = [
    # 1: users, tokens, device flow, jobs, logs, credentials, secrets
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL DEFAULT '',
        password_hash TEXT,
        tier TEXT NOT NULL DEFAULT 'free',
        created_at TEXT NOT NULL,
        cycle_start TEXT NOT NULL,
        jobs_used INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        family_id TEXT NOT NULL,
        client_id TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        family_expires_at TEXT NOT NULL,
        used_at TEXT,
        revoked_at TEXT
    );
    CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
    CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        last_used_at TEXT
    );
    CREATE TABLE device_codes (
        id TEXT PRIMARY KEY,
        device_code_hash TEXT NOT NULL UNIQUE,
        user_code TEXT NOT NULL UNIQUE,
        client_id TEXT NOT NULL,
        client_addr TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        interval INTEGER NOT NULL,
        last_poll_at TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        user_id TEXT REFERENCES users(id) ON DELETE CASCADE
    );
    CREATE TABLE web_sessions (
        session_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        status TEXT NOT NULL DEFAULT 'pending',
        phase TEXT,
        agent TEXT NOT NULL,
        spec_content TEXT NOT NULL,
        git_repo_url TEXT NOT NULL,
        git_base_branch TEXT NOT NULL,
        credential_id TEXT,
        credential_name TEXT,
        spec_title TEXT NOT NULL DEFAULT '',
        setup TEXT,
        push INTEGER NOT NULL DEFAULT 0,
        timeout_seconds REAL NOT NULL,
        feature_branch_name TEXT,
        base_commit TEXT,
        pushed_branch TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        completed_at TEXT,
        result_summary TEXT,
        error_message TEXT,
        diff_stats TEXT,
        diff_artifact TEXT,
        log_artifact TEXT,
        artifacts_expired INTEGER NOT NULL DEFAULT 0,
        executor TEXT,
        executor_ref TEXT,
        attempt TEXT,
        dispatched_at TEXT,
        agent_exit_code INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        log_bytes INTEGER NOT NULL DEFAULT 0,
        log_dropped INTEGER NOT NULL DEFAULT 0,
        last_log_seq INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_user ON jobs(user_id, seq);
    CREATE INDEX jobs_status ON jobs(status, seq);
    CREATE TABLE job_logs (
        job_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts TEXT NOT NULL,
        level TEXT NOT NULL,
        source TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE credentials (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        provider TEXT NOT NULL,
        credential_type TEXT NOT NULL,
        ciphertext BLOB NOT NULL,
        key_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        last_used_at TEXT,
        UNIQUE (user_id, name)
    );
    CREATE TABLE secrets (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        ciphertext BLOB NOT NULL,
        key_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (user_id, name)
    );
    """,
    # 2: partial indexes, so each query touches only the jobs it is about: without them every
    # dispatcher wake-up scanned all pending jobs (a long queue slowed job creation for
    # everyone) and the retention sweep scanned the whole table on the event loop. jobs_status
    # gives way to them: a new job no longer enters an index only finished jobs are looked up in.
    """
    CREATE INDEX jobs_active ON jobs(user_id)
        WHERE (status = 'running' OR (status = 'pending' AND attempt IS NOT NULL));
    CREATE INDEX jobs_queue ON jobs(user_id, seq)
        WHERE status = 'pending' AND attempt IS NULL AND cancel_requested = 0;
    CREATE INDEX jobs_succeeded ON jobs(agent, seq) WHERE status = 'succeeded';
    CREATE INDEX jobs_unexpired ON jobs(completed_at)
        WHERE artifacts_expired = 0 AND completed_at IS NOT NULL;
    DROP INDEX jobs_status;
    """,
    # 3: job ids carry their row number (ckrv/server/jobs/ids.py), so the unique index on
    # `id` goes: its random inserts cost more than the rest of a job's write (17 vs 7 us per
    # job at 100k jobs) and wrote five times the WAL. SQLite cannot drop a
    # column's UNIQUE, so the table is rebuilt; its AUTOINCREMENT high-water mark moves with
    # it (no row number, hence no id, is ever handed out twice). The uuid4 ids of earlier jobs
    # stay findable through an index holding those rows alone.
    """
    CREATE TABLE jobs_v3 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        status TEXT NOT NULL DEFAULT 'pending',
        phase TEXT,
        agent TEXT NOT NULL,
        spec_content TEXT NOT NULL,
        git_repo_url TEXT NOT NULL,
        git_base_branch TEXT NOT NULL,
        credential_id TEXT,
        credential_name TEXT,
        spec_title TEXT NOT NULL DEFAULT '',
        setup TEXT,
        push INTEGER NOT NULL DEFAULT 0,
        timeout_seconds REAL NOT NULL,
        feature_branch_name TEXT,
        base_commit TEXT,
        pushed_branch TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        completed_at TEXT,
        result_summary TEXT,
        error_message TEXT,
        diff_stats TEXT,
        diff_artifact TEXT,
        log_artifact TEXT,
        artifacts_expired INTEGER NOT NULL DEFAULT 0,
        executor TEXT,
        executor_ref TEXT,
        attempt TEXT,
        dispatched_at TEXT,
        agent_exit_code INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        log_bytes INTEGER NOT NULL DEFAULT 0,
        log_dropped INTEGER NOT NULL DEFAULT 0,
        last_log_seq INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO jobs_v3 SELECT * FROM jobs;
    DELETE FROM sqlite_sequence WHERE name = 'jobs_v3';
    UPDATE sqlite_sequence SET name = 'jobs_v3' WHERE name = 'jobs';
    DROP TABLE jobs;
    ALTER TABLE jobs_v3 RENAME TO jobs;
    CREATE INDEX jobs_user ON jobs(user_id, seq);
    CREATE INDEX jobs_active ON jobs(user_id)
        WHERE (status = 'running' OR (status = 'pending' AND attempt IS NOT NULL));
    CREATE INDEX jobs_queue ON jobs(user_id, seq)
        WHERE status = 'pending' AND attempt IS NULL AND cancel_requested = 0;
    CREATE INDEX jobs_succeeded ON jobs(agent, seq) WHERE status = 'succeeded';
    CREATE INDEX jobs_unexpired ON jobs(completed_at)
        WHERE artifacts_expired = 0 AND completed_at IS NOT NULL;
    CREATE UNIQUE INDEX jobs_legacy_id ON jobs(id) WHERE substr(id, 15, 1) <> '8';
    """,
    # 4: the job's network policy as settled at creation (JSON); NULL: the server's at dispatch
    "ALTER TABLE jobs ADD COLUMN network TEXT",
    # 5: the job's own resource limits option (JSON, only the limits it lowers); NULL: none
    "ALTER TABLE jobs ADD COLUMN limits TEXT",
    # 6: best-of-N groups: a job made as attempt K of a group (ckrv/server/jobs/groups.py)
    # carries the group's id and K. The index holds only grouped jobs, so a single job's
    # insert costs what it did.
    """
    ALTER TABLE jobs ADD COLUMN group_id TEXT;
    ALTER TABLE jobs ADD COLUMN group_attempt INTEGER;
    CREATE INDEX jobs_group ON jobs(group_id, group_attempt) WHERE group_id IS NOT NULL;
    """,
    # 7: the verify gate: the job's own verify commands (JSON; NULL: the repository's or the
    # agent's), the fix rounds it may use, and what happened: verified (1, 0, NULL: no verify
    # ran), the fix rounds used and how many times verify ran (one transcript each)
    """
    ALTER TABLE jobs ADD COLUMN verify TEXT;
    ALTER TABLE jobs ADD COLUMN fix_rounds INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN verified INTEGER;
    ALTER TABLE jobs ADD COLUMN rounds INTEGER;
    ALTER TABLE jobs ADD COLUMN verify_runs INTEGER
    """,
    # 8: administrators (who see /admin) and disabled accounts (refused at sign-in and on
    # every request; NULL: enabled)
    """
    ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN disabled_at TEXT
    """,
    # 9: the dashboard's filters: a user's jobs by status and by repository, newest first, each
    # read through its own index; and when each phase of a job began (JSON {phase: time})
    """
    CREATE INDEX jobs_user_status ON jobs(user_id, status, seq);
    CREATE INDEX jobs_user_repo ON jobs(user_id, git_repo_url, seq);
    ALTER TABLE jobs ADD COLUMN phase_times TEXT;
    """,
    # 10: the job-id key (jobs/ids.py), made once: random, so two servers' ids and branch names
    # differ; 0 (ids as before keys) where jobs exist already, so their ids stay valid
    """
    CREATE TABLE server_keys (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO server_keys (name, value) SELECT 'job_ids', CASE
        WHEN EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs') THEN 0
        ELSE random() & 4294967295 END;
    """,
    # 11: 1 when the job ended before its agent started and its quota was given back
    "ALTER TABLE jobs ADD COLUMN quota_refunded INTEGER NOT NULL DEFAULT 0",
    # 12: follow-ups: a job made by continuing another names it (parent_id) and its thread's
    # first job (thread_id; NULL for a thread's first job), and starts from the parent's
    # result commit (start_commit); every job records the commit of its result
    """
    ALTER TABLE jobs ADD COLUMN parent_id TEXT;
    ALTER TABLE jobs ADD COLUMN thread_id TEXT;
    ALTER TABLE jobs ADD COLUMN start_commit TEXT;
    ALTER TABLE jobs ADD COLUMN result_commit TEXT;
    CREATE INDEX jobs_thread ON jobs(thread_id, seq) WHERE thread_id IS NOT NULL
    """,
    # 13: what the job's agent runs cost (US dollars), as the agent reported it; NULL: unknown
    "ALTER TABLE jobs ADD COLUMN cost_usd REAL",
]
