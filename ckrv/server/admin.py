"""Operations behind `ckrv admin`: they work on the data dir directly, with or without a
running server (writes use `BEGIN IMMEDIATE` and wait for the server's writer)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ckrv.errors import NotFound
from ckrv.server.identity import device_flow as device
from ckrv.server.identity import users
from ckrv.server.identity.tokens import create_api_token, list_api_tokens, revoke_api_token
from ckrv.server.storage.data_dir import prepare_data_dir
from ckrv.server.storage.database import connect, migrate, run_in_transaction


@contextmanager
def open_db(data_dir: Path) -> Iterator[sqlite3.Connection]:
    prepare_data_dir(data_dir)
    path = data_dir / "ckrv.db"
    migrate(path)
    conn = connect(path)
    try:
        yield conn
    finally:
        conn.close()


def add_user(data_dir: Path, email: str, name: str, tier: str, password: str | None) -> str:
    with open_db(data_dir) as conn:
        # hash before the transaction: argon2 takes a while and must not hold the write lock
        hashed = users.hash_password(password) if password else None
        return run_in_transaction(conn, lambda c: users.add_user(c, email, name, tier, hashed))


def list_users(data_dir: Path) -> list[dict[str, Any]]:
    with open_db(data_dir) as conn:
        return [{**users.profile(r), "created_at": r["created_at"]} for r in users.all_users(conn)]


def set_tier(data_dir: Path, email: str, tier: str) -> None:
    with open_db(data_dir) as conn:
        run_in_transaction(conn, lambda c: users.set_tier(c, email, tier))


def approve_device(data_dir: Path, user_code: str, email: str) -> None:
    with open_db(data_dir) as conn:

        def approve(c: sqlite3.Connection) -> None:
            user = users.get_user(c, email)
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
