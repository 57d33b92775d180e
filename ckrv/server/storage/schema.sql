-- GENERATED from the migrations in ckrv/server/storage/schema.py; do not edit.
-- Regenerate with scripts/gen-docs (tests/unit/test_schema_snapshot.py fails when stale).
-- The schema of a database after every migration: tables by name, each followed by its
-- indexes by name (SQLite's own tables and automatic indexes left out).
-- PRAGMA user_version = 13

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT
);

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

CREATE TABLE job_logs (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    level TEXT NOT NULL,
    source TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

CREATE TABLE jobs (
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
    , network TEXT, limits TEXT, group_id TEXT, group_attempt INTEGER, verify TEXT, fix_rounds INTEGER NOT NULL DEFAULT 0, verified INTEGER, rounds INTEGER, verify_runs INTEGER, phase_times TEXT, quota_refunded INTEGER NOT NULL DEFAULT 0, parent_id TEXT, thread_id TEXT, start_commit TEXT, result_commit TEXT, cost_usd REAL);

CREATE INDEX jobs_active ON jobs(user_id)
    WHERE (status = 'running' OR (status = 'pending' AND attempt IS NOT NULL));

CREATE INDEX jobs_group ON jobs(group_id, group_attempt) WHERE group_id IS NOT NULL;

CREATE UNIQUE INDEX jobs_legacy_id ON jobs(id) WHERE substr(id, 15, 1) <> '8';

CREATE INDEX jobs_queue ON jobs(user_id, seq)
    WHERE status = 'pending' AND attempt IS NULL AND cancel_requested = 0;

CREATE INDEX jobs_succeeded ON jobs(agent, seq) WHERE status = 'succeeded';

CREATE INDEX jobs_thread ON jobs(thread_id, seq) WHERE thread_id IS NOT NULL;

CREATE INDEX jobs_unexpired ON jobs(completed_at)
    WHERE artifacts_expired = 0 AND completed_at IS NOT NULL;

CREATE INDEX jobs_user ON jobs(user_id, seq);

CREATE INDEX jobs_user_repo ON jobs(user_id, git_repo_url, seq);

CREATE INDEX jobs_user_status ON jobs(user_id, status, seq);

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

CREATE TABLE server_keys (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL DEFAULT '',
        password_hash TEXT,
        tier TEXT NOT NULL DEFAULT 'free',
        created_at TEXT NOT NULL,
        cycle_start TEXT NOT NULL,
        jobs_used INTEGER NOT NULL DEFAULT 0
    , admin INTEGER NOT NULL DEFAULT 0, disabled_at TEXT);

CREATE TABLE web_sessions (
    session_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
