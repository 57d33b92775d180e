"""SQLite access: numbered migrations, one writer, cheap reads.

Every write goes through one connection (so no transaction ever waits to upgrade a read lock
to a write lock and fails with "database is locked" under concurrent writers): callers hand it a function and await
the result. The writer runs on the event loop itself: every write requested during one loop
iteration joins one `BEGIN IMMEDIATE` transaction, each call inside its own savepoint, so many
small writes share one commit (group commit) and a failing call rolls back only itself. Without
fsync on commit (WAL, synchronous=NORMAL) a write costs tens of microseconds, far less than a
hand-off to a writer thread and back; checkpoints, which do fsync, run on a background thread.
Write functions must therefore be short: no hashing, no network, no big scans.
`write_grouped` goes one step further for hot, uniform writes (job creation): the items sent
in one loop iteration reach one call of a function that handles them all, so shared work
(the quota row, statement overhead) is done once per group, not once per item.
Reads use separate WAL connections and never wait for the writer. The inline reads of one
loop iteration share one read transaction (a snapshot taken at the first of them, released by
the next iteration's first callback): starting and ending a read transaction takes eight lock
calls into the kernel, more than the read of a row itself, and under load an iteration serves
tens of requests. No code sees a stale snapshot: whatever runs after a commit was scheduled by
it, so after the release.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Generic, TypeVar

from ckrv.errors import ConfigError
from ckrv.server.storage.checkpoints import Checkpointer
from ckrv.server.storage.schema import MIGRATIONS

T = TypeVar("T")
Item = TypeVar("Item")
WriteFn = Callable[[sqlite3.Connection], T]
# Takes the items of one group, returns one outcome per item (a value or the item's error).
GroupFn = Callable[[sqlite3.Connection, list[Item]], list[T | Exception]]
_MAX_BATCH = 512
_WAL_KEEP_BYTES = 64 * 1024 * 1024


class Connection(sqlite3.Connection):
    """A connection of ours: it remembers values read once that never change for its
    database (the job-id key, jobs/store/rows.py), so hot lookups do not read them again."""

    job_id_key: int | None = None


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=30, factory=Connection
    )
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


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._pending: list[tuple[WriteFn[Any], asyncio.Future[Any]]] = []
        self._groups: dict[GroupFn[Any, Any], _Group[Any, Any]] = {}
        self._flush_scheduled = False
        self._held = False  # writes wait while a checkpoint finishes (see checkpoints.py)
        self._checkpointer: Checkpointer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._snapshot = False  # the read connection is in this iteration's read transaction

    def open(self) -> None:
        migrate(self.path)
        self._writer = connect(self.path)
        self._writer.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints happen off the loop
        # When the WAL starts over, cut its file back: a burst must not keep its disk space.
        self._writer.execute(f"PRAGMA journal_size_limit={_WAL_KEEP_BYTES}")
        self._reader = connect(self.path)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ckrv-read")
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # opened outside a loop: no writes to hold
            loop = None
        self._loop = loop
        self._checkpointer = Checkpointer(self.path, connect, loop, self._hold_writes)
        self._checkpointer.start()

    def close(self) -> None:
        self._held = False
        self._end_snapshot()
        self._loop = None
        if self._pending and self._writer is not None:
            self._flush()
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for conn in (self._reader, self._writer):
            if conn is not None:
                conn.close()
        self._reader = self._writer = None

    async def write(self, fn: WriteFn[T]) -> T:
        return await self._enqueue(fn)

    async def write_grouped(self, fn: GroupFn[Item, T], item: Item) -> T:
        """Hand `item` to `fn` together with the other items sent for `fn` in this loop
        iteration; `fn` runs once for them all, in the writer's transaction, and its outcome
        for this item is returned (or raised, when it is an exception)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        group = self._groups.get(fn)
        if group is not None:
            group.add(item, future)
        else:
            group = self._groups[fn] = _Group(fn)
            group.add(item, future)  # before queueing: a full queue runs the group at once
            self._enqueue(group.run).add_done_callback(group.settle)
        return await future

    def write_soon(self, fn: WriteFn[Any]) -> None:
        """Queue a write nobody waits for (bookkeeping, such as when a token was last used),
        from code on the loop that cannot await; a failure is printed, not raised."""
        self._enqueue(fn).add_done_callback(_print_failure)

    def _enqueue(self, fn: WriteFn[T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((fn, future))
        if len(self._pending) >= _MAX_BATCH and not self._held:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def read(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """A small indexed read, run inline: cheaper than a thread hop, and WAL readers never
        block on the writer. Use `read_async` for anything that scans."""
        return self._reading().execute(sql, params).fetchall()

    def read_one(
        self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        rows = self.read(sql, params)
        return rows[0] if rows else None

    def read_with(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a small read function inline on the read connection."""
        return fn(self._reading())

    def _reading(self) -> sqlite3.Connection:
        """The read connection, inside this loop iteration's snapshot."""
        conn = self._reader
        assert conn is not None, "database not open"
        if not self._snapshot and self._loop is not None:
            conn.execute("BEGIN")
            self._snapshot = True
            self._loop.call_soon(self._end_snapshot)
        return conn

    def _end_snapshot(self) -> None:
        self._snapshot = False
        if self._reader is not None and self._reader.in_transaction:
            self._reader.execute("COMMIT")

    async def read_async(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._pool is not None, "database not open"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run_read, fn)

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return fn(conn)

    def _hold_writes(self, hold: bool) -> None:
        self._held = hold
        if not hold and self._pending and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._held:
            return  # _hold_writes(False) flushes what waited
        batch, self._pending = self._pending, []
        self._groups = {}  # items sent from now on form new groups, in the next transaction
        if batch:
            assert self._writer is not None, "database not open"
            for future, (result, error) in zip(
                (f for _, f in batch),
                _commit_batch(self._writer, [fn for fn, _ in batch]),
                strict=True,
            ):
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)


def _print_failure(future: asyncio.Future[Any]) -> None:
    error = None if future.cancelled() else future.exception()
    if error is not None:
        traceback.print_exception(error, file=sys.stderr)


def _commit_batch(
    conn: sqlite3.Connection, batch: list[WriteFn[Any]]
) -> list[tuple[Any, Exception | None]]:
    outcomes: list[tuple[Any, Exception | None]] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for fn in batch:
            conn.execute("SAVEPOINT call")
            try:
                outcomes.append((fn(conn), None))
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
    return outcomes


class _Group(Generic[Item, T]):
    """The items sent for one group function in one loop iteration, and their futures."""

    def __init__(self, fn: GroupFn[Item, T]) -> None:
        self.fn = fn
        self.items: list[Item] = []
        self.futures: list[asyncio.Future[T]] = []

    def add(self, item: Item, future: asyncio.Future[T]) -> None:
        self.items.append(item)
        self.futures.append(future)

    def run(self, conn: sqlite3.Connection) -> list[T | Exception]:
        outcomes = self.fn(conn, self.items)
        assert len(outcomes) == len(self.items), "a group function returns one outcome per item"
        return outcomes

    def settle(self, done: asyncio.Future[list[T | Exception]]) -> None:
        """After the commit (or the rollback): give each item's caller its own outcome."""
        try:
            outcomes = done.result()
        except Exception as exc:  # the whole transaction failed: every item shares its error
            outcomes = [exc] * len(self.futures)
        for future, outcome in zip(self.futures, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
