"""Job logs on the server: ingestion (idempotent by the worker's sequence numbers, with caps),
live fan-out to followers, and the archive written when the job ends.

The worker route calls `ingest` (worker batches); the engine calls `server_line` (the server's
own last word: worker lost, timeout, cancelled), `status_changed` and `job_ended`; the
Kubernetes executor's log sink calls `executor_lines`; the logs route calls `follow` and
`json_body`. Storage rules live in store.py (the log's columns of the job row in
jobs/store/), fan-out in hub.py, the reading protocol in stream.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from ckrv.server.jobs import store as jobs
from ckrv.server.logs.hub import Hub
from ckrv.server.logs.store import (
    ARCHIVE_NAME,
    LEVELS,
    SEALED,
    Incoming,
    LogState,
    all_rows,
    append_server_line,
    append_worker_lines,
    archive_path,
    count_archive,
    delete_rows,
    entry_dict,
    mark_archived,
    read_rows,
    seal,
    validate,
    write_archive,
)
from ckrv.server.logs.stream import Reader, follow_sse, json_logs
from ckrv.server.storage.database import Database, connect

__all__ = ["LEVELS", "LogService", "LogState"]

# Runs a function off the event loop (the masking threads) and returns its result.
Offload = Callable[[Callable[[], list[Incoming]]], Awaitable[list[Incoming]]]


class LogService:
    def __init__(
        self,
        db: Database,
        data_dir: Any,
        max_log_bytes: int,
        *,
        follower_capacity: int = 8192,
        heartbeat: float = 15.0,
    ) -> None:
        self.db = db
        self.data_dir = Path(data_dir)
        self.max_log_bytes = max_log_bytes
        self.heartbeat = heartbeat
        self.hub = Hub(follower_capacity)
        self._archiving: dict[str, asyncio.Task[None]] = {}
        self._recovery: asyncio.Task[None] | None = None
        self._heartbeats: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._recovery = asyncio.create_task(self._recover(), name="ckrv-log-recovery")
        self._heartbeats = asyncio.create_task(self._beat(), name="ckrv-log-heartbeats")

    def close_streams(self) -> None:
        """End every live stream without [DONE], so clients reconnect (to the next server).
        Meant for the start of a graceful shutdown: uvicorn waits for open responses first."""
        self.hub.close_all()

    async def stop(self) -> None:
        self.close_streams()
        tasks = [t for t in (self._recovery, self._heartbeats, *self._archiving.values()) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task  # an interrupted archive is finished by the next start's recovery

    # --- writing ---

    async def ingest(
        self,
        job_id: str,
        entries: Any,
        mask: Callable[[str], str] = str,
        offload: Offload | None = None,
    ) -> int:
        """Store a worker's batch (checked here: 400 for a malformed one), each message passed
        through `mask` before it is clipped, both through `offload` when given (off the loop);
        entries whose sequence number was stored before are ignored, and so is everything once
        the job's log is sealed. Returns how many were new."""
        if offload is None:
            lines = validate(entries, mask)
        else:
            lines = await offload(lambda: validate(entries, mask))
        if not lines:
            return 0
        budget = self.max_log_bytes
        stored = await self.db.write(lambda c: append_worker_lines(c, job_id, lines, budget))
        self.hub.publish(job_id, stored)
        return len(stored)

    async def server_line(self, job_id: str, message: str, level: str = "error") -> None:
        """A line from the server itself (worker lost, timeout, cancel), after the worker's."""
        if level not in LEVELS:
            level = "error"
        stored = await self.db.write(lambda c: append_server_line(c, job_id, message, level))
        self.hub.publish(job_id, stored)

    async def executor_lines(self, job_id: str, lines: list[str], source: str) -> None:
        """Output the executor recovered for a worker that ended without reporting (the tail
        of a pod's log), stored in one write; refused like any line once the log is sealed."""

        def append(conn: sqlite3.Connection) -> list[Any]:
            stored: list[Any] = []
            for line in lines:
                stored += append_server_line(conn, job_id, line, "info", source)
            return stored

        self.hub.publish(job_id, await self.db.write(append))

    def status_changed(self, job: dict[str, Any]) -> None:
        """Called after every status or phase change with the job's public fields."""
        self.hub.status(job["id"], job)

    async def job_ended(self, job_id: str) -> None:
        """Called once the job is terminal: archive its log, then end its live streams. Safe to
        call twice (recovery and the engine may both ask); the second waits for the first."""
        task = self._archiving.get(job_id)
        if task is None:
            task = asyncio.create_task(self._archive(job_id), name=f"ckrv-archive-{job_id}")
            self._archiving[job_id] = task
            task.add_done_callback(lambda _: self._archiving.pop(job_id, None))
        await asyncio.shield(task)

    # --- reading ---

    def archive_path(self, job_id: str) -> Path:
        return archive_path(self.data_dir, job_id)

    def state(self, job_id: str) -> LogState | None:
        def snapshot(conn: sqlite3.Connection) -> LogState | None:
            return read_rows(conn, job_id, 0, 0)[0]

        return self.db.read_with(snapshot)

    async def start_position(self, job_id: str, after: int, tail: int | None) -> int:
        """Where reading starts: after `after`, and no earlier than the last `tail` lines."""
        if tail is None:
            return after
        state = self.state(job_id)
        if state is None:
            return after
        last = state.last
        if state.archived:
            last = await self._archive_length(job_id)
        return max(after, last - tail)

    async def _archive_length(self, job_id: str) -> int:
        length: int | None = await asyncio.to_thread(count_archive, self.archive_path(job_id))
        return length or 0

    async def read(
        self, job_id: str, after: int = 0, tail: int | None = None
    ) -> list[dict[str, Any]]:
        """The stored lines after position `after` (the last `tail` of them), as LogEntry dicts."""
        reader = Reader(self, job_id)
        position = await self.start_position(job_id, after, tail)
        out: list[dict[str, Any]] = []
        try:
            while True:
                _state, page = await reader.page(position)
                out.extend(entry_dict(e) for e in page)
                if not page:
                    return out
                position = page[-1][0]
        finally:
            reader.close()

    async def json_body(
        self, job_id: str, after: int, tail: int | None, limit: int | None
    ) -> AsyncIterator[bytes]:
        position = await self.start_position(job_id, after, tail)
        async for part in json_logs(Reader(self, job_id), position, limit):
            yield part

    async def follow(
        self,
        job_id: str,
        after: int,
        tail: int | None,
        describe: Callable[[str], dict[str, Any] | None],
    ) -> AsyncIterator[bytes]:
        """The SSE stream of the job's log; `describe` gives the Job JSON its status events
        carry (the engine's, ETA included). Subscribes before reading any storage."""
        follower = self.hub.subscribe(job_id)
        try:
            position = await self.start_position(job_id, after, tail)
            stream = follow_sse(Reader(self, job_id), follower, position, describe)
            async for part in stream:
                yield part
        finally:
            self.hub.unsubscribe(job_id, follower)

    async def _beat(self) -> None:
        """One timer for every stream: a comment on each one idle for `heartbeat` seconds."""
        while True:
            await asyncio.sleep(self.heartbeat / 3)
            self.hub.heartbeat(self.heartbeat)

    # --- archiving ---

    async def _archive(self, job_id: str) -> None:
        last = 0
        archived = False
        try:
            marker = await self.db.write(lambda c: seal(c, job_id, self.max_log_bytes))
            self.hub.publish(job_id, marker)
            row = self.db.read_with(lambda c: jobs.find(c, job_id, "log_artifact"))
            if row is None:
                return
            if row["log_artifact"] == SEALED:
                last = await asyncio.to_thread(self._write_archive, job_id)
                await self.db.write(lambda c: mark_archived(c, job_id))
            else:
                last = await self._archive_length(job_id)
            archived = True
        except Exception:
            print(
                f"ckrv: archiving the log of job {job_id} failed; it stays in the database"
                " and is retried at the next start:",
                file=sys.stderr,
            )
            traceback.print_exc(file=sys.stderr)
            state = self.state(job_id)
            last = state.last if state is not None else 0
        finally:
            self.hub.end(job_id, last)
        if archived:
            await self._delete_rows(job_id)

    def _write_archive(self, job_id: str) -> int:
        """Runs in a thread with its own connection: copies the sealed rows to the archive."""
        conn = connect(self.db.path)
        try:
            conn.execute("BEGIN")
            return write_archive(self.archive_path(job_id), all_rows(conn, job_id))
        finally:
            conn.close()

    async def _delete_rows(self, job_id: str) -> None:
        while await self.db.write(lambda c: delete_rows(c, job_id)):
            pass

    async def _recover(self) -> None:
        """Finish what a crash interrupted: archive ended jobs' logs, delete archived rows."""
        try:
            for job_id in self.db.read_with(lambda c: jobs.ended_with_log_in_rows(c, SEALED)):
                await self.job_ended(job_id)
            for job_id in self.db.read_with(lambda c: jobs.archived_with_rows(c, ARCHIVE_NAME)):
                await self._delete_rows(job_id)
        except Exception:
            traceback.print_exc(file=sys.stderr)
