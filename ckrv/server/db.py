"""SQLite access: numbered migrations, one writer thread, cheap reads.

Every write goes through one connection on one thread (DESIGN.md §7): callers hand it a function
and await the result. The writer drains whatever is queued into one `BEGIN IMMEDIATE`
transaction, each call inside its own savepoint, so many small writes share one commit (group
commit) and a failing call rolls back only itself. Reads use separate WAL connections and never
wait for the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ckrv.errors import ConfigError
from ckrv.server.schema import MIGRATIONS

T = TypeVar("T")
WriteFn = Callable[[sqlite3.Connection], T]
_MAX_BATCH = 256


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def migrate(path: Path) -> int:
    """Apply pending migrations; refuse a database written by a newer ckrv."""
    conn = connect(path)
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > len(MIGRATIONS):
            raise ConfigError(
                f"the database {path} was written by a newer ckrv (schema {current}, this "
                f"version knows {len(MIGRATIONS)}): upgrade ckrv, or point --data-dir elsewhere"
            )
        for number in range(current, len(MIGRATIONS)):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return len(MIGRATIONS)
    finally:
        conn.close()


def run_in_transaction(conn: sqlite3.Connection, fn: WriteFn[T]) -> T:
    """Run one write function in its own immediate transaction (used outside the server)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


class _Request:
    __slots__ = ("fn", "future", "loop")

    def __init__(self, fn: WriteFn[Any], future: asyncio.Future[Any], loop: Any) -> None:
        self.fn, self.future, self.loop = fn, future, loop


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._writer_thread: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()

    def open(self) -> None:
        migrate(self.path)
        self._reader = connect(self.path)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ckrv-read")
        self._writer_thread = threading.Thread(
            target=self._write_loop, args=(connect(self.path),), name="ckrv-writer", daemon=True
        )
        self._writer_thread.start()

    def close(self) -> None:
        if self._writer_thread is not None:
            self._queue.put(None)
            self._writer_thread.join(timeout=10)
            self._writer_thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def write(self, fn: WriteFn[T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Request(fn, future, loop))
        return await future

    def read(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """A small indexed read, run inline: cheaper than a thread hop, and WAL readers never
        block on the writer. Use `read_async` for anything that scans."""
        assert self._reader is not None, "database not open"
        return self._reader.execute(sql, params).fetchall()

    def read_one(
        self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        rows = self.read(sql, params)
        return rows[0] if rows else None

    def read_with(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a small read function inline on the read connection."""
        assert self._reader is not None, "database not open"
        return fn(self._reader)

    async def read_async(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._pool is not None, "database not open"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run_read, fn)

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return fn(conn)

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                while len(batch) < _MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        self._queue.put(None)
                        break
                    batch.append(item)
                self._commit_batch(conn, batch)
        finally:
            conn.close()

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[_Request]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for request in batch:
                conn.execute("SAVEPOINT call")
                try:
                    outcomes.append((request.fn(conn), None))
                    conn.execute("RELEASE call")
                except Exception as exc:
                    conn.execute("ROLLBACK TO call")
                    conn.execute("RELEASE call")
                    outcomes.append((None, exc))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(None, exc)] * len(batch)
        for request, (result, error) in zip(batch, outcomes, strict=True):
            # RuntimeError: the caller's loop has closed; nobody is waiting any more
            with contextlib.suppress(RuntimeError):
                request.loop.call_soon_threadsafe(_settle, request.future, result, error)
