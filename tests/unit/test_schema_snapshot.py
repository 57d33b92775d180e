"""ckrv/server/storage/schema.sql is what the migrations add up to: regenerated and compared
(a new migration without a regenerated snapshot fails here), and complete (the snapshot alone
builds the same schema)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from ckrv.server.apidocs.generated_docs import SCHEMA_SQL, stale
from ckrv.server.storage import database, schema_snapshot
from ckrv.server.storage.schema import MIGRATIONS
from tests.support.helpers import ROOT


def test_the_committed_snapshot_is_the_migrated_schema() -> None:
    committed = (ROOT / SCHEMA_SQL).read_text(encoding="utf-8")
    assert committed == schema_snapshot.schema_sql(), (
        f"{SCHEMA_SQL} differs from the migrations: run scripts/gen-docs"
    )


def test_the_snapshot_names_its_version_and_how_to_regenerate_it() -> None:
    head = (ROOT / SCHEMA_SQL).read_text(encoding="utf-8").splitlines()[:6]
    assert head[0].startswith("-- GENERATED")
    assert any("scripts/gen-docs" in line for line in head)
    assert f"-- PRAGMA user_version = {len(MIGRATIONS)}" in head


def test_the_snapshot_alone_builds_the_same_schema() -> None:
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    conn.executescript((ROOT / SCHEMA_SQL).read_text(encoding="utf-8"))
    body = schema_snapshot.schema_sql().split("\n\n", 1)[1]
    assert "\n\n".join(f"{s};" for s in schema_snapshot.dump(conn)) + "\n" == body


def test_a_new_migration_makes_the_snapshot_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path
    (root / "docs").mkdir()
    shutil.copy(ROOT / "README.md", root / "README.md")
    shutil.copy(ROOT / "docs" / "api.md", root / "docs" / "api.md")
    (root / SCHEMA_SQL).parent.mkdir(parents=True)
    shutil.copy(ROOT / SCHEMA_SQL, root / SCHEMA_SQL)
    assert stale(root) == []

    added = "ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0"
    monkeypatch.setattr(database, "MIGRATIONS", [*MIGRATIONS, added])
    assert stale(root) == [root / SCHEMA_SQL]
    assert "priority INTEGER NOT NULL DEFAULT 0" in schema_snapshot.schema_sql()
