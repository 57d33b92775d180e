"""The single writer on a real SQLite file: grouped writes (one call for the items of a loop
iteration, each caller getting its own outcome), job rows built without reading them back, the
quota spent per group, and a WAL that stays bounded under a steady stream of commits."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from ckrv.errors import NotAuthenticated, QuotaExceeded
from ckrv.server.identity import users
from ckrv.server.jobs import store as jobs
from ckrv.server.storage import checkpoints, schema
from ckrv.server.storage import database as db_module
from ckrv.server.storage.database import Database

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def opened(tmp_path: Path) -> AsyncIterator[Database]:
    """A Database on tmp_path/ckrv.db, opened inside the running event loop."""
    db = Database(tmp_path / "ckrv.db")
    db.open()
    try:
        yield db
    finally:
        db.close()


async def test_items_sent_together_reach_one_call_and_each_caller_gets_its_outcome(
    tmp_path: Path,
) -> None:
    calls: list[list[int]] = []

    def square_or_refuse(conn: sqlite3.Connection, items: list[int]) -> list[int | Exception]:
        calls.append(list(items))
        return [ValueError(f"no {i}") if i % 3 == 0 else i * i for i in items]

    async with opened(tmp_path) as db:
        outcomes = await asyncio.gather(
            *(db.write_grouped(square_or_refuse, i) for i in range(1, 8)), return_exceptions=True
        )
        assert [str(o) if isinstance(o, Exception) else o for o in outcomes] == [
            1, 4, "no 3", 16, 25, "no 6", 49,
        ]  # fmt: skip
        assert calls == [[1, 2, 3, 4, 5, 6, 7]]
        assert await db.write_grouped(square_or_refuse, 8) == 64  # a later tick: a new group
        assert calls[-1] == [8]


async def test_a_failing_group_rolls_back_and_every_caller_sees_the_error(tmp_path: Path) -> None:
    def insert_then_fail(conn: sqlite3.Connection, items: list[str]) -> list[str | Exception]:
        conn.executemany("INSERT INTO users (id, email, created_at, cycle_start) VALUES"
                         " (?, ?, 'x', 'x')", [(i, f"{i}@example.com") for i in items])  # fmt: skip
        raise sqlite3.IntegrityError("boom")

    async with opened(tmp_path) as db:
        outcomes = await asyncio.gather(
            *(db.write_grouped(insert_then_fail, f"u{i}") for i in range(3)),
            db.write(lambda c: c.execute("SELECT 1").fetchone()[0]),
            return_exceptions=True,
        )
        assert [type(o) for o in outcomes[:3]] == [sqlite3.IntegrityError] * 3
        assert outcomes[3] == 1  # the other write of the same transaction still commits
        assert db.read("SELECT id FROM users") == []


async def test_more_items_than_a_batch_holds_are_all_answered(tmp_path: Path) -> None:
    def echo(conn: sqlite3.Connection, items: list[int]) -> list[int | Exception]:
        return list(items)

    async with opened(tmp_path) as db:
        count = db_module._MAX_BATCH * 2 + 5
        writes = [db.write(lambda c: None) for _ in range(db_module._MAX_BATCH - 1)]
        grouped = [db.write_grouped(echo, i) for i in range(count)]
        assert await asyncio.wait_for(asyncio.gather(*grouped), 10) == list(range(count))
        await asyncio.gather(*writes)


def _new_job(user_id: str, spec: str = "# Fix the login bug\n") -> jobs.NewJob:
    return jobs.NewJob(user_id, spec, "https://git.example/a.git", "main", "scripted", 60)


async def test_an_inserted_job_row_is_what_a_read_of_it_returns(tmp_path: Path) -> None:
    async with opened(tmp_path) as db:
        user_id = await db.write(lambda c: users.add_user(c, "a@example.com", "a", "pro", None))
        row = await db.write(lambda c: jobs.insert_jobs(c, [_new_job(user_id)], "")[0])
        assert not isinstance(row, Exception)
        stored = db.read_one(f"SELECT {jobs.COLUMNS} FROM jobs WHERE id = ?", (row["id"],))
        assert stored is not None
        assert row == dict(stored)  # schema defaults and the built row agree, column by column
        assert row["feature_branch_name"] == f"ckrv/fix-the-login-bug-{row['id'][:8]}"


async def test_a_group_spends_quota_once_per_user_and_refuses_only_the_overflow(
    tmp_path: Path,
) -> None:
    async with opened(tmp_path) as db:
        free = await db.write(lambda c: users.add_user(c, "f@example.com", "f", "free", None))
        pro = await db.write(lambda c: users.add_user(c, "p@example.com", "p", "pro", None))
        batch = [_new_job(free) for _ in range(14)] + [_new_job(pro) for _ in range(3)]
        outcomes = await db.write(lambda c: jobs.insert_jobs(c, batch, "https://up.example"))
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert len(refused) == 4 and all(isinstance(o, QuotaExceeded) for o in refused)
        assert all(not isinstance(o, Exception) for o in outcomes[:10] + outcomes[14:])
        used = {r["email"]: r["jobs_used"] for r in db.read("SELECT email, jobs_used FROM users")}
        assert used == {"f@example.com": 10, "p@example.com": 3}
        counts = db.read("SELECT user_id, COUNT(*) FROM jobs GROUP BY user_id")
        assert {r[0]: r[1] for r in counts} == {free: 10, pro: 3}


async def test_the_wal_starts_over_under_a_steady_stream_of_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint beside a busy writer never catches up on its own; without the held pass
    the WAL file grew by every byte written."""
    monkeypatch.setattr(checkpoints, "INTERVAL_SECONDS", 0.1)
    monkeypatch.setattr(checkpoints, "RESTART_FRAMES", 64)
    monkeypatch.setattr(db_module, "_WAL_KEEP_BYTES", 256 * 1024)
    wal = tmp_path / "ckrv.db-wal"
    payload = "x" * 3000  # most of a page per row

    async with opened(tmp_path) as db:
        await db.write(lambda c: c.execute("CREATE TABLE filler (body TEXT)"))
        written = largest = previous = restarts = 0
        loop = asyncio.get_running_loop()
        # What was written, not time, decides when to judge: the WAL must have started over
        # and stayed under half of everything written (without the held pass it grows by
        # every byte). A loaded machine only takes longer; the minute bounds a failure.
        give_up = loop.time() + 60.0
        while (restarts < 2 or written < 2 * largest) and loop.time() < give_up:
            await db.write(lambda c: c.execute("INSERT INTO filler VALUES (?)", (payload,)))
            written += len(payload)
            size = wal.stat().st_size
            restarts += size < previous  # cut back to the size limit when it starts over
            largest, previous = max(largest, size), size
        assert restarts >= 2, f"the WAL never started over: {largest} bytes for {written}"
        assert largest < written / 2
        assert db.read_one("SELECT COUNT(*) FROM filler")[0] == written // len(payload)


def test_a_first_schema_database_upgrades_with_its_jobs_in_the_new_indexes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ckrv.db"
    conn = db_module.connect(path)
    for statement in schema.MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    user_id = users.add_user(conn, "old@example.com", "old", "pro", None)
    queued = jobs.insert_jobs(conn, [_new_job(user_id)], "")[0]
    assert not isinstance(queued, Exception)
    conn.close()

    assert db_module.migrate(path) == len(schema.MIGRATIONS)
    conn = db_module.connect(path)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"jobs_active", "jobs_queue", "jobs_succeeded", "jobs_unexpired"} <= indexes
    assert "jobs_status" not in indexes
    waiting = conn.execute(
        "SELECT id FROM jobs INDEXED BY jobs_queue"
        " WHERE status = 'pending' AND attempt IS NULL AND cancel_requested = 0"
    ).fetchall()
    assert [r[0] for r in waiting] == [queued["id"]]
    conn.close()


async def test_inline_reads_share_a_snapshot_per_loop_iteration_and_never_miss_a_commit(
    tmp_path: Path,
) -> None:
    async with opened(tmp_path) as db:
        await db.write(lambda c: c.execute("CREATE TABLE t (n INTEGER)"))
        await db.write(lambda c: c.execute("INSERT INTO t VALUES (1)"))
        assert db.read_one("SELECT n FROM t")[0] == 1  # opens this iteration's snapshot
        # A commit from the writer: whoever awaited it reads afterwards, in a fresh snapshot.
        await db.write(lambda c: c.execute("UPDATE t SET n = 2"))
        assert db.read_one("SELECT n FROM t")[0] == 2
        # Another process's commit (the admin CLI, say) shows from the next iteration on.
        other = sqlite3.connect(db.path, isolation_level=None)
        assert db.read_one("SELECT n FROM t")[0] == 2
        other.execute("UPDATE t SET n = 3")
        other.close()
        assert db.read_one("SELECT n FROM t")[0] == 2  # the same iteration: the same snapshot
        await asyncio.sleep(0)
        assert db.read_one("SELECT n FROM t")[0] == 3


async def test_a_missing_user_refuses_only_their_own_jobs_in_a_group(tmp_path: Path) -> None:
    async with opened(tmp_path) as db:
        present = await db.write(lambda c: users.add_user(c, "p@example.com", "p", "pro", None))
        outcomes = await asyncio.gather(
            db.write_grouped(_insert_group, _new_job("no-such-user")),
            db.write_grouped(_insert_group, _new_job(present)),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], NotAuthenticated)
        assert isinstance(outcomes[1], dict) and outcomes[1]["user_id"] == present
        assert [r[0] for r in db.read("SELECT user_id FROM jobs")] == [present]


def _insert_group(
    conn: sqlite3.Connection, new_jobs: list[jobs.NewJob]
) -> list[dict[str, object] | Exception]:
    return jobs.insert_jobs(conn, new_jobs, "")
