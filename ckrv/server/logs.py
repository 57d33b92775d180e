"""Job logs on the server: ingestion (idempotent by (job, seq)), live fan-out, archive.

Minimal first version: stores entries through the writer. The live-logs work extends this
module (hub, caps, archive on job end) behind the same four methods the engine calls."""

from __future__ import annotations

import sqlite3
from typing import Any

from ckrv.server.db import Database
from ckrv.timeutil import iso, utcnow

LEVELS = ("debug", "info", "warn", "error")


class LogService:
    def __init__(self, db: Database, data_dir: Any, max_log_bytes: int) -> None:
        self.db = db
        self.data_dir = data_dir
        self.max_log_bytes = max_log_bytes

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def ingest(self, job_id: str, entries: list[dict[str, Any]]) -> int:
        """Store worker entries; a (job, seq) already stored is ignored. Returns how many were new."""

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.executemany(
                "INSERT OR IGNORE INTO job_logs (job_id, seq, ts, level, source, message)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(job_id, e["seq"], e["timestamp"], e["level"], e["source"], e["message"]) for e in entries],
            )
            return cur.rowcount

        return await self.db.write(insert)

    async def server_line(self, job_id: str, message: str, level: str = "error") -> None:
        """A line from the server itself (worker lost, timeout, cancel), after the worker's."""

        def insert(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM job_logs WHERE job_id = ?", (job_id,)).fetchone()
            conn.execute(
                "INSERT INTO job_logs (job_id, seq, ts, level, source, message) VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, row[0] + 1_000_000_000, iso(utcnow()), level, "server", message),
            )

        await self.db.write(insert)

    def status_changed(self, job: dict[str, Any]) -> None:
        """Called after every status or phase change with the job's public fields."""

    async def job_ended(self, job_id: str) -> None:
        """Called once when a job reaches a terminal status (archive the log here)."""

    async def read(self, job_id: str, after: int = 0, tail: int | None = None) -> list[dict[str, Any]]:
        def query(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT seq, ts, level, source, message FROM job_logs WHERE job_id = ? AND seq > ?"
                " ORDER BY seq", (job_id, after)).fetchall()
            entries = [{"seq": r["seq"], "timestamp": r["ts"], "level": r["level"],
                        "source": r["source"], "message": r["message"]} for r in rows]
            return entries[-tail:] if tail else entries

        return await self.db.read_async(query)
