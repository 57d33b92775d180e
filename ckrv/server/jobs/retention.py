"""Retention: artifacts (diffs, archived logs) of jobs that ended longer ago than
`artifact_retention` are deleted; the job record stays and its artifact routes answer 410.
Expired device codes and browser sessions are removed on the same pass."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import traceback
from datetime import timedelta

from ckrv.server.identity import device_flow, sessions
from ckrv.server.jobs import store as jobs
from ckrv.server.logs.store import delete_logs
from ckrv.server.storage.artifacts import ArtifactStore
from ckrv.server.storage.database import Database
from ckrv.timeutil import iso, utcnow


class Sweeper:
    def __init__(self, db: Database, artifacts: ArtifactStore, retention: float) -> None:
        self.db = db
        self.artifacts = artifacts
        self.retention = retention
        self.interval = max(min(retention / 4, 60.0), 0.5)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ckrv-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                traceback.print_exc(file=sys.stderr)
            await asyncio.sleep(self.interval)

    async def sweep(self) -> int:
        cutoff = iso(utcnow() - timedelta(seconds=self.retention))
        rows = self.db.read_with(lambda c: jobs.ended_before(c, cutoff))
        for row in rows:  # whole directories: off the event loop, which also runs the writer
            await asyncio.to_thread(self.artifacts.delete_job, row["id"])
        seqs = [r["seq"] for r in rows]
        job_ids = [r["id"] for r in rows]
        now = iso(utcnow())

        def expire(conn: sqlite3.Connection) -> None:
            jobs.mark_artifacts_expired(conn, seqs)
            delete_logs(conn, job_ids)  # unarchived leftovers
            device_flow.delete_expired(conn, now)
            sessions.delete_expired(conn, now)

        await self.db.write(expire)
        return len(rows)
