"""Operations behind `ckrv admin`: they work on the data dir directly, with or without a
running server (writes use `BEGIN IMMEDIATE` and wait for the server's writer). Only `init`
creates a data dir (and `ckrv serve`): every other command refuses a path holding none, so a
typo in --data-dir is an error rather than a new, empty server with new keys."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ckrv.errors import ConfigError, Conflict, NotFound
from ckrv.server.identity import device_flow as device
from ckrv.server.identity import sessions, users
from ckrv.server.identity.tokens import (
    create_api_token,
    list_api_tokens,
    revoke_api_token,
    revoke_user_logins,
)
from ckrv.server.jobs import store as jobs
from ckrv.server.logs.store import delete_logs
from ckrv.server.storage.artifacts import ArtifactStore
from ckrv.server.storage.data_dir import prepare_data_dir
from ckrv.server.storage.database import connect, migrate, run_in_transaction

DATABASE = "ckrv.db"


def init_data_dir(data_dir: Path) -> bool:
    """Create the data dir with its keys and database (`ckrv admin init`); False when one was
    already there (nothing is replaced)."""
    existed = (data_dir / DATABASE).exists()
    prepare_data_dir(data_dir)
    migrate(data_dir / DATABASE)
    return not existed


def require_data_dir(data_dir: Path) -> None:
    if not (data_dir / DATABASE).is_file():
        raise ConfigError(
            f"no ckrv data dir at {data_dir} (it holds no {DATABASE})",
            hint=f"check --data-dir or CKRV_DATA_DIR; to create one: "
            f"ckrv admin --data-dir {data_dir} init (or start `ckrv serve` on it)",
        )


@contextmanager
def open_db(data_dir: Path) -> Iterator[sqlite3.Connection]:
    require_data_dir(data_dir)
    prepare_data_dir(data_dir)  # checks the key files' modes
    path = data_dir / DATABASE
    migrate(path)
    conn = connect(path)
    try:
        yield conn
    finally:
        conn.close()


def add_user(
    data_dir: Path, email: str, name: str, tier: str, password: str | None, admin: bool = False
) -> str:
    with open_db(data_dir) as conn:
        # hash before the transaction: argon2 takes a while and must not hold the write lock
        hashed = users.hash_password(password) if password else None
        return run_in_transaction(
            conn, lambda c: users.add_user(c, email, name, tier, hashed, admin)
        )


def list_users(data_dir: Path) -> list[dict[str, Any]]:
    with open_db(data_dir) as conn:
        return [user_summary(r) for r in users.all_users(conn)]


def user_summary(row: sqlite3.Row) -> dict[str, Any]:
    """What `user list` and the admin page show of a user."""
    return {
        **users.profile(row),
        "name": row["name"],  # as stored ("" for none); the API's profile says null
        "created_at": row["created_at"],
        "admin": bool(row["admin"]),
        "disabled_at": row["disabled_at"],
    }


def set_tier(data_dir: Path, email: str, tier: str) -> None:
    with open_db(data_dir) as conn:
        run_in_transaction(conn, lambda c: users.set_tier(c, email, tier))


def set_admin(data_dir: Path, email: str, admin: bool) -> None:
    with open_db(data_dir) as conn:
        run_in_transaction(conn, lambda c: users.set_admin(c, email, admin))


def set_disabled(data_dir: Path, email: str, disabled: bool) -> None:
    with open_db(data_dir) as conn:
        run_in_transaction(conn, lambda c: users.set_disabled(c, email, disabled))


def reset_password(conn: sqlite3.Connection, email: str, password_hash: str) -> None:
    """Set a new password and end the user's browser sessions and CLI logins (API tokens stay:
    revoke them separately). Shared by the CLI and the admin page."""
    user_id = users.set_password(conn, email, password_hash)
    sessions.end_user_sessions(conn, user_id)
    revoke_user_logins(conn, user_id)


def reset_password_in(data_dir: Path, email: str, password: str) -> None:
    with open_db(data_dir) as conn:
        hashed = users.hash_password(password)
        run_in_transaction(conn, lambda c: reset_password(c, email, hashed))


def remove_user(conn: sqlite3.Connection, email: str) -> list[str]:
    """Delete the user with everything that is theirs: jobs and their logs, credentials,
    secrets, tokens and sessions; the ids of the deleted jobs, whose artifact files the caller
    removes after the commit. Refused while one of their jobs is queued or running."""
    user_id = str(users.get_user(conn, email)["id"])
    if jobs.unfinished_count(conn, user_id):
        raise Conflict(
            f"{email} has queued or running jobs",
            hint="cancel them (or wait for them to end), or disable the user instead",
        )
    job_ids = jobs.ids_of_user(conn, user_id)
    delete_logs(conn, job_ids)
    users.delete_user(conn, user_id)  # the schema's foreign keys take the rest
    return job_ids


def remove_user_in(data_dir: Path, email: str) -> int:
    """`ckrv admin user remove`: the number of jobs deleted with the user."""
    with open_db(data_dir) as conn:
        job_ids = run_in_transaction(conn, lambda c: remove_user(c, email))
    store = ArtifactStore(data_dir)
    for job_id in job_ids:
        store.delete_job(job_id)
    return len(job_ids)


def approve_device(data_dir: Path, user_code: str, email: str) -> None:
    with open_db(data_dir) as conn:

        def approve(c: sqlite3.Connection) -> None:
            user = users.get_user(c, email)
            users.require_enabled(user)
            if not device.decide(c, user_code, user["id"], True):
                raise NotFound(
                    f"no pending login with code {device.normalize_user_code(user_code)}",
                    hint="codes expire after 15 minutes; start `ckrv cloud login` again",
                )

        run_in_transaction(conn, approve)


def create_token(data_dir: Path, email: str, ttl: float | None) -> tuple[str, str]:
    with open_db(data_dir) as conn:
        return run_in_transaction(
            conn, lambda c: create_api_token(c, users.get_user(c, email)["id"], ttl)
        )


def list_tokens(data_dir: Path, email: str | None) -> list[dict[str, Any]]:
    with open_db(data_dir) as conn:
        return [dict(r) for r in list_api_tokens(conn, email)]


def revoke_token(data_dir: Path, token_id: str) -> None:
    with open_db(data_dir) as conn:

        def revoke(c: sqlite3.Connection) -> None:
            if not revoke_api_token(c, token_id):
                raise NotFound(
                    f"no active API token with id {token_id}",
                    hint="list them with: ckrv admin token list",
                )

        run_in_transaction(conn, revoke)
