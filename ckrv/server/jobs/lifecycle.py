"""The job engine: every status move goes through here, so followers hear of it, artifacts of
unsuccessful jobs are dropped, and the dispatcher wakes when capacity frees up.

The engine knows nothing of the dispatcher: it is handed `wake`, a callable that wakes it (the
composition root, server/app.py, connects the two). The dispatcher drives the engine."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from ckrv.contracts.jobmodel import TERMINAL, TerminalStatus
from ckrv.server import serverlog
from ckrv.server.executors.base import Executor
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.public import JobRow, duration, public_job
from ckrv.server.logs.service import LogService
from ckrv.server.storage.artifacts import ArtifactStore
from ckrv.server.storage.database import Database

TIMEOUT_PREFIX = "timeout:"


class Engine:
    def __init__(
        self,
        db: Database,
        logs: LogService,
        artifacts: ArtifactStore,
        executor: Executor,
        *,
        upgrade_url: str,
        wake: Callable[[], None],
        mask_worker_text: Callable[[str, str], Awaitable[str]] | None = None,
    ) -> None:
        self.db = db
        self.logs = logs
        self.artifacts = artifacts
        self.executor = executor
        self.upgrade_url = upgrade_url  # named in the quota error of a job creation
        self.wake = wake  # tells the dispatcher that a job was queued or capacity freed up
        # (job id, text) -> text masked of the job's secrets: what a lost worker left behind
        self.mask_worker_text = mask_worker_text
        self._eta: dict[str, float | None] = {}

    async def create(self, new_job: jobs.NewJob) -> dict[str, Any]:
        """Create a job (quota spent with it) and wake the dispatcher; raises QuotaExceeded.
        Creations asked for together are inserted together (Database.write_grouped)."""
        row = await self.db.write_grouped(self._insert_jobs, new_job)
        self.wake()
        log_queued(row)
        return row

    def _insert_jobs(
        self, conn: sqlite3.Connection, new_jobs: list[jobs.NewJob]
    ) -> list[dict[str, Any] | Exception]:
        return jobs.insert_jobs(conn, new_jobs, self.upgrade_url)

    def row(self, job_id: str) -> sqlite3.Row | None:
        return self.db.read_with(lambda c: jobs.find(c, job_id))

    def eta_median(self, agent: str) -> float | None:
        if agent not in self._eta:
            self._eta[agent] = self.db.read_with(lambda c: jobs.median_duration(c, agent))
        return self._eta[agent]

    def public(self, row: JobRow) -> dict[str, Any]:
        return public_job(row, self.eta_median(row["agent"]))

    def describe(self, job_id: str) -> dict[str, Any] | None:
        row = self.row(job_id)
        return self.public(row) if row is not None else None

    def _announce(self, job_id: str) -> sqlite3.Row | None:
        row = self.row(job_id)
        if row is not None:
            self.logs.status_changed(self.public(row))
        return row

    async def mark_running(self, job_id: str) -> None:
        started = await self.db.write(lambda c: jobs.mark_running(c, job_id))
        row = self._announce(job_id)
        if started and row is not None:
            serverlog.event(
                serverlog.jobs,
                "job.started",
                f"job {job_id} started",
                job=job_id,
                user_id=row["user_id"],
                agent=row["agent"],
                executor=row["executor"],
            )

    async def progress(self, job_id: str, fields: dict[str, Any]) -> None:
        await self.db.write(lambda c: jobs.update_progress(c, job_id, fields))
        self._announce(job_id)

    async def finish(self, job_id: str, status: TerminalStatus, **result: Any) -> bool:
        """Move the job to a terminal status once; afterwards archive its log."""
        changed = await self.db.write(lambda c: jobs.finish(c, job_id, status, **result))
        if not changed:
            return False
        if status != "succeeded":
            for name in ("diff.patch", "delta.patch", "result.bundle"):
                self.artifacts.delete(job_id, name)  # no partial result is kept
        row = self._announce(job_id)
        if row is not None:
            _log_end(row)
        if status == "succeeded" and row is not None:
            self._eta.pop(row["agent"], None)
        await self.logs.job_ended(job_id)
        self.wake()
        return True

    async def fail_with_line(self, job_id: str, status: TerminalStatus, message: str) -> bool:
        """End a job for a reason only the server knows, and say so at the end of its log."""
        row = self.row(job_id)
        if row is None or row["status"] in TERMINAL:
            return False
        await self.logs.server_line(job_id, message, "warn" if status == "cancelled" else "error")
        return await self.finish(job_id, status, error=message)

    async def worker_lost(self, job_id: str, reason: str) -> None:
        if self.mask_worker_text is not None:  # it may quote the worker's last output
            reason = await self.mask_worker_text(job_id, reason)
        if reason.startswith(TIMEOUT_PREFIX):
            await self.fail_with_line(job_id, "timeout", reason[len(TIMEOUT_PREFIX) :].strip())
        else:
            await self.fail_with_line(job_id, "failed", reason)

    async def cancel(self, job_id: str, by: str = "its owner") -> bool:
        row = self.row(job_id)
        if row is None or row["status"] in TERMINAL:
            return False
        await self.db.write(lambda c: jobs.request_cancel(c, row["seq"]))
        ended = await self.fail_with_line(job_id, "cancelled", f"job cancelled by {by}")
        if row["attempt"] is not None:
            await self.executor.terminate(job_id, row["executor_ref"])
        return ended

    async def time_out(self, row: sqlite3.Row) -> None:
        limit = row["timeout_seconds"]
        await self.fail_with_line(
            row["id"], "timeout", f"job exceeded its timeout of {limit:g} s and was stopped"
        )
        await self.executor.terminate(row["id"], row["executor_ref"])


def log_queued(row: JobRow) -> None:
    """A new job in the server's log (each attempt of a group too: routes/groups.py)."""
    serverlog.event(
        serverlog.jobs,
        "job.queued",
        f"job {row['id']} queued",
        job=row["id"],
        user_id=row["user_id"],
        agent=row["agent"],
    )


def _log_end(row: sqlite3.Row) -> None:
    status, took = row["status"], duration(row)
    serverlog.event(
        serverlog.jobs,
        "job.ended",
        f"job {row['id']} {status}" + (f" after {took:.1f} s" if took is not None else ""),
        logging.INFO if status in ("succeeded", "cancelled") else logging.WARNING,
        job=row["id"],
        user_id=row["user_id"],
        status=status,
        duration_s=round(took, 3) if took is not None else None,
        quota_refunded=bool(row["quota_refunded"]),
    )
