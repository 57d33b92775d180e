"""schema.sql, the schema every migration in schema.py adds up to, as a reader wants it: one
file to look a table up in. It is generated (`scripts/gen-docs`), and a test fails when the
committed file and the migrations disagree."""

from __future__ import annotations

import re
import sqlite3
import tempfile
import textwrap
from pathlib import Path

from ckrv.server.storage.database import connect, migrate

SNAPSHOT = Path(__file__).with_name("schema.sql")
_HEADER = """\
-- GENERATED from the migrations in ckrv/server/storage/schema.py; do not edit.
-- Regenerate with scripts/gen-docs (tests/unit/test_schema_snapshot.py fails when stale).
-- The schema of a database after every migration: tables by name, each followed by its
-- indexes by name (SQLite's own tables and automatic indexes left out).
"""


def schema_sql() -> str:
    """The snapshot's text: every migration applied to an empty database, dumped from
    sqlite_master in a stable order."""
    with tempfile.TemporaryDirectory(prefix="ckrv-schema-") as tmp:
        path = Path(tmp) / "ckrv.db"
        version = migrate(path)
        conn = connect(path)
        try:
            statements = dump(conn)
        finally:
            conn.close()
    body = "\n\n".join(f"{statement};" for statement in statements)
    return f"{_HEADER}-- PRAGMA user_version = {version}\n\n{body}\n"


def dump(conn: sqlite3.Connection) -> list[str]:
    """The CREATE statements of the schema in `conn`, in the snapshot's order and layout."""
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master"
        " WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    tables = sorted(r["name"] for r in rows if r["type"] == "table")
    rank = {name: i for i, name in enumerate(tables)}
    kinds = {"table": 0, "index": 1, "trigger": 2, "view": 3}
    ordered = sorted(
        rows, key=lambda r: (rank.get(r["tbl_name"], len(rank)), kinds[r["type"]], r["name"])
    )
    return [_tidy(r["sql"]) for r in ordered]


def _tidy(sql: str) -> str:
    """The statement without the indentation it had inside schema.py's strings."""
    first, _, rest = sql.strip().partition("\n")
    # A table rebuilt and renamed by a migration has its name quoted by SQLite: not by us.
    first = re.sub(r'^CREATE TABLE "(\w+)"', r"CREATE TABLE \1", first)
    if not rest:
        return first
    body = textwrap.dedent(rest)
    if not any(line.startswith(")") for line in body.splitlines()):
        body = textwrap.indent(body, "    ")  # an index's WHERE clause under its CREATE
    return f"{first}\n{body}"
