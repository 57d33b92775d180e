"""The log service in-process, on a real SQLite database: idempotent ingestion, positions without
gaps, the caps, fan-out to fast and stalled followers, the backlog-to-live switch, archiving while
someone reads, and recovery of an archive a crash interrupted. (End-to-end behaviour through a
real server, worker and CLI is in tests/e2e/test_log_following.py.)"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ckrv.server.identity import users
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.public import public_job
from ckrv.server.logs.service import LogService
from ckrv.server.logs.store import MAX_LINE_BYTES, entry_dict, entry_json, seal, validate
from ckrv.server.storage.database import Database
from ckrv.timeutil import iso, utcnow


def lines(first: int, last: int, source: str = "agent", size: int = 0) -> list[dict[str, Any]]:
    """Worker entries with sequence numbers first..last; message `line <seq>` (padded to size)."""
    return [
        {
            "seq": s,
            "timestamp": iso(utcnow()),
            "level": "info",
            "source": source,
            "message": f"line {s}".ljust(size, "."),
        }
        for s in range(first, last + 1)
    ]


pytestmark = pytest.mark.anyio


@asynccontextmanager
async def started(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[LogService, str]]:
    """A started LogService on a fresh database holding one running job, and that job's id."""
    db = Database(tmp_path / "ckrv.db")
    db.open()
    service = LogService(db, tmp_path, options.pop("max_log_bytes", 10**8), **options)
    await service.start()
    try:
        yield service, await _running_job(db)
    finally:
        await service.stop()
        db.close()


async def _running_job(db: Database) -> str:
    def insert(conn: sqlite3.Connection) -> str:
        user_id = users.add_user(conn, "ada@example.com", "ada", "pro", None)
        new = jobs.NewJob(user_id, "# spec\n", "https://git.example/a.git", "main", "scripted", 60)
        jobs.insert_jobs(conn, [new], "")
        job_id = str(conn.execute("SELECT id FROM jobs ORDER BY seq DESC LIMIT 1").fetchone()[0])
        conn.execute("UPDATE jobs SET status = 'running' WHERE id = ?", (job_id,))
        return job_id

    return await db.write(insert)


def follow(service: LogService, job_id: str, after: int, tail: int | None) -> AsyncIterator[bytes]:
    """The SSE stream, its status events carrying the job's public JSON."""

    def describe(job: str) -> dict[str, Any] | None:
        row = service.db.read_one("SELECT * FROM jobs WHERE id = ?", (job,))
        return public_job(row) if row is not None else None

    return service.follow(job_id, after, tail, describe)


async def end_job(service: LogService, job_id: str, status: str = "succeeded") -> None:
    await service.db.write(
        lambda c: c.execute(
            "UPDATE jobs SET status = ?, completed_at = ? WHERE id = ?",
            (status, iso(utcnow()), job_id),
        )
    )
    await service.job_ended(job_id)


async def collect(stream: AsyncIterator[bytes]) -> list[tuple[str, str, str]]:
    """Parse an SSE byte stream into (event, id, data) triples; comments become ('comment', ...)."""
    text = b"".join([part async for part in stream]).decode()
    return parse_sse(text)


def parse_sse(text: str) -> list[tuple[str, str, str]]:
    events = []
    for block in text.split("\n\n"):
        if not block:
            continue
        if block.startswith(":"):
            events.append(("comment", "", block))
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields.get("event", "message"), fields.get("id", ""), fields["data"]))
    return events


def log_ids(events: list[tuple[str, str, str]]) -> list[int]:
    return [int(i) for kind, i, _ in events if kind == "log"]


async def test_retried_batches_are_stored_once_and_positions_have_no_gaps(tmp_path: Path) -> None:
    async with started(tmp_path) as (service, job_id):
        assert await service.ingest(job_id, lines(1, 5)) == 5
        assert await service.ingest(job_id, lines(3, 8)) == 3  # a retry overlapping the last
        assert await service.ingest(job_id, lines(1, 8)) == 0
        await service.server_line(job_id, "worker lost", "error")
        assert await service.ingest(job_id, list(reversed(lines(9, 10)))) == 2
        stored = await service.read(job_id)
        assert [e["seq"] for e in stored] == list(range(1, 12))
        assert [e["message"] for e in stored] == [
            *(f"line {s}" for s in range(1, 9)),
            "worker lost",
            "line 9",
            "line 10",
        ]
        assert stored[8]["source"] == "server" and stored[8]["level"] == "error"
        assert [e["seq"] for e in await service.read(job_id, after=9)] == [10, 11]
        assert [e["seq"] for e in await service.read(job_id, tail=2)] == [10, 11]


async def test_a_malformed_entry_rejects_its_batch(tmp_path: Path) -> None:
    from ckrv.errors import InvalidRequest

    async with started(tmp_path) as (service, job_id):
        for bad in (
            {"seq": 0},
            {"seq": 1, "level": "loud"},
            {"seq": True},
            {"seq": 1, "message": 3},
        ):
            entry = {**lines(1, 1)[0], **bad}
            try:
                await service.ingest(job_id, [entry])
            except InvalidRequest as exc:
                assert exc.status == 400
            else:
                raise AssertionError(f"accepted {bad}")
        assert await service.read(job_id) == []


async def test_a_long_line_is_truncated_and_past_the_budget_one_marker_counts_the_drops(
    tmp_path: Path,
) -> None:
    budget = 100_000

    async with started(tmp_path, max_log_bytes=budget) as (service, job_id):
        long = {**lines(1, 1)[0], "message": "é" * 40_000}  # 80,000 bytes of UTF-8
        assert await service.ingest(job_id, [long]) == 1
        stored = (await service.read(job_id))[0]["message"]
        assert stored.startswith("é" * 1000) and "[line truncated: 80000 bytes" in stored
        assert len(stored.encode()) < MAX_LINE_BYTES + 100
        # 50-byte lines cost about 150 bytes each stored (timestamp, level, source and a row's
        # ROW_COST count too): about 230 fit in what is left of the budget, the rest are dropped
        accepted = 0
        for first in range(2, 2002, 100):
            accepted += await service.ingest(job_id, lines(first, first + 99, size=50))
        assert 200 < accepted < 260
        await service.ingest(job_id, lines(2002, 2002))  # small, but after the cut: dropped too
        await end_job(service, job_id)
        log = await service.read(job_id)
        assert sum(len(e["message"].encode()) for e in log[:-1]) <= budget
        assert [e["message"].rstrip(".") for e in log[1:-1]] == [
            f"line {s}" for s in range(2, 2 + accepted)
        ]
        dropped = 2001 - accepted
        marker = log[-1]
        assert marker["source"] == "server" and marker["level"] == "warn"
        assert marker["message"].startswith(f"{dropped} log lines dropped")
        assert sum("dropped" in e["message"] for e in log) == 1
        row = service.db.read_one("SELECT log_dropped, log_bytes FROM jobs WHERE id = ?", (job_id,))
        assert row is not None and row["log_dropped"] == dropped and row["log_bytes"] <= budget


async def test_a_capped_log_of_short_lines_takes_about_its_budget_on_disk(tmp_path: Path) -> None:
    """The budget bounds the disk a log takes, not only its messages: short lines used to take
    seven times `max_log_bytes` in the database, and again in the archive."""
    budget = 1024 * 1024
    async with started(tmp_path, max_log_bytes=budget) as (service, job_id):
        db_file = tmp_path / "ckrv.db"
        service.db.read_one("PRAGMA wal_checkpoint(TRUNCATE)")
        before = db_file.stat().st_size
        for first in range(1, 200_000, 2000):
            await service.ingest(job_id, lines(first, first + 1999, size=16))
        service.db.read_one("PRAGMA wal_checkpoint(TRUNCATE)")
        in_rows = db_file.stat().st_size - before
        await end_job(service, job_id)
        archive = tmp_path / "artifacts" / job_id / "log.jsonl"
        assert in_rows <= 1.2 * budget, f"{in_rows} bytes of database for a {budget}-byte log"
        assert archive.stat().st_size <= 1.1 * budget


async def test_the_ended_log_moves_to_the_archive_and_later_lines_are_refused(
    tmp_path: Path,
) -> None:
    async with started(tmp_path) as (service, job_id):
        await service.ingest(job_id, lines(1, 4500))
        await end_job(service, job_id)
        archive = tmp_path / "artifacts" / job_id / "log.jsonl"
        archived = [json.loads(line) for line in archive.read_text().splitlines()]
        assert [e["seq"] for e in archived] == list(range(1, 4501))
        assert service.db.read("SELECT 1 FROM job_logs WHERE job_id = ?", (job_id,)) == []
        row = service.db.read_one("SELECT log_artifact FROM jobs WHERE id = ?", (job_id,))
        assert row is not None and row["log_artifact"] == "log.jsonl"
        assert await service.read(job_id) == archived
        assert [e["seq"] for e in await service.read(job_id, tail=3)] == [4498, 4499, 4500]
        assert [e["seq"] for e in await service.read(job_id, after=4400)] == list(range(4401, 4501))
        assert await service.ingest(job_id, lines(4501, 4502)) == 0
        await service.server_line(job_id, "too late")
        assert len(await service.read(job_id)) == 4500
        await service.job_ended(job_id)  # a second call changes nothing
        assert await service.read(job_id) == archived


async def test_a_follower_gets_backlog_then_live_lines_exactly_once_then_status_and_done(
    tmp_path: Path,
) -> None:
    async with started(tmp_path) as (service, job_id):
        await service.ingest(job_id, lines(1, 3000))
        follower = asyncio.create_task(collect(follow(service, job_id, 0, None)))
        for first in range(3001, 6001, 7):  # small batches, racing the follower's backlog reads
            await service.ingest(job_id, lines(first, min(first + 6, 6000)))
            if first % 70 == 1:
                service.status_changed({"id": job_id, "status": "running", "phase": f"p{first}"})
            await asyncio.sleep(0)
        await end_job(service, job_id, "failed")
        events = await asyncio.wait_for(follower, 30)
        assert log_ids(events) == list(range(1, 6001))
        kinds = [kind for kind, _, _ in events]
        assert kinds[0] == "status" and kinds[-2:] == ["status", "message"]
        assert json.loads(events[-2][2])["status"] == "failed" and events[-1][2] == "[DONE]"
        statuses = [json.loads(d)["status"] for kind, _, d in events if kind == "status"]
        assert statuses.count("failed") == 1  # the terminal status comes once, last


async def test_resuming_after_a_position_gives_exactly_the_lines_after_it(tmp_path: Path) -> None:
    async with started(tmp_path) as (service, job_id):
        await service.ingest(job_id, lines(1, 100))
        first = follow(service, job_id, 0, None)
        seen = []
        async for part in first:  # a follower that goes away after some lines
            seen += log_ids(parse_sse(part.decode()))
            if len(seen) >= 100:
                break
        await first.aclose()
        resumed = asyncio.create_task(collect(follow(service, job_id, 60, None)))
        await service.ingest(job_id, lines(101, 150))
        await end_job(service, job_id)
        assert log_ids(await resumed) == list(range(61, 151))
        assert log_ids(await collect(follow(service, job_id, 0, 5))) == list(range(146, 151))
        assert service.hub.followers(job_id) == 0


async def test_a_stalled_follower_falls_behind_without_slowing_others_then_catches_up(
    tmp_path: Path,
) -> None:
    async with started(tmp_path, follower_capacity=16) as (service, job_id):
        await service.ingest(job_id, lines(1, 10))
        stalled = follow(service, job_id, 0, None)
        await stalled.__anext__()  # the current status
        assert log_ids(parse_sse((await stalled.__anext__()).decode())) == list(range(1, 11))
        # ...and from now on it reads nothing
        fast = asyncio.create_task(collect(follow(service, job_id, 0, None)))
        for first in range(11, 2001, 10):
            await service.ingest(job_id, lines(first, first + 9))
            await asyncio.sleep(0)
        hub = service.hub._jobs[job_id]
        assert any(f.behind for f in hub.followers) and all(f.queued <= 16 for f in hub.followers)
        await end_job(service, job_id)
        assert log_ids(await asyncio.wait_for(fast, 30)) == list(range(1, 2001))
        assert log_ids(await collect(stalled)) == list(range(11, 2001))  # caught up from storage


async def test_reading_while_the_log_is_archived_sees_every_line_once(tmp_path: Path) -> None:
    async with started(tmp_path) as (service, job_id):
        await service.ingest(job_id, lines(1, 5000))
        body = service.json_body(job_id, 0, None, None)
        parts = [await body.__anext__(), await body.__anext__()]  # '{"logs":[' and a first page
        await end_job(service, job_id)
        assert service.db.read("SELECT 1 FROM job_logs WHERE job_id = ?", (job_id,)) == []
        parts += [part async for part in body]
        entries = json.loads(b"".join(parts))["logs"]
        assert [e["seq"] for e in entries] == list(range(1, 5001))


async def test_an_idle_stream_sends_heartbeats(tmp_path: Path) -> None:
    async with started(tmp_path, heartbeat=0.05) as (service, job_id):
        stream = follow(service, job_id, 0, None)
        assert b"event: status" in await stream.__anext__()
        assert await asyncio.wait_for(stream.__anext__(), 5) == b": keep-alive\n\n"
        await stream.aclose()


async def test_a_restart_finishes_an_archive_that_a_crash_interrupted(tmp_path: Path) -> None:
    async with started(tmp_path) as (service, job_id):
        await service.ingest(job_id, lines(1, 300))
        await service.db.write(
            lambda c: c.execute(
                "UPDATE jobs SET status = 'timeout', completed_at = ?, log_dropped = 7 WHERE id = ?",
                (iso(utcnow()), job_id),  # as jobs.finish leaves it
            )
        )
        await service.db.write(lambda c: seal(c, job_id, 10**8))  # sealed; the process dies here

    db = Database(tmp_path / "ckrv.db")  # the restart
    db.open()
    service = LogService(db, tmp_path, 10**8)
    await service.start()
    assert service._recovery is not None
    await asyncio.wait_for(service._recovery, 30)
    archive = tmp_path / "artifacts" / job_id / "log.jsonl"
    messages = [json.loads(line)["message"] for line in archive.read_text().splitlines()]
    assert messages[:300] == [f"line {s}" for s in range(1, 301)]
    assert len(messages) == 301 and messages[-1].startswith("7 log lines dropped")
    assert db.read("SELECT 1 FROM job_logs WHERE job_id = ?", (job_id,)) == []
    await service.stop()
    db.close()


@given(st.text(), st.text(min_size=1, max_size=100), st.sampled_from(["info", "warn"]))
def test_log_entries_are_encoded_as_json_whatever_they_contain(
    message: str, source: str, level: str
) -> None:
    line = validate(
        [
            {
                "seq": 1,
                "timestamp": "2026-01-01T00:00:00.000Z",
                "level": level,
                "source": source,
                "message": message,
            }
        ]
    )[0]
    entry = (7, line.ts, line.level, line.source, line.message)
    assert json.loads(entry_json(entry)) == entry_dict(entry)
    assert entry_json(entry).encode()  # valid UTF-8, even from lone surrogates
