"""WAL checkpoints, off the event loop, that keep the WAL from growing without bound.

A checkpoint copies committed pages from the WAL into the database file (with fsyncs, hence
a thread of its own). The WAL is only reused from its start once a checkpoint has copied all
of it; under a steady stream of commits a checkpoint running beside the writer never catches
up, and the WAL grew by tens of MB a second. So when a pass leaves the WAL large, the next
pass runs with writes held on the loop: it then only copies what the previous pass missed
(a few milliseconds), completes, and the next commit starts the WAL over.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

INTERVAL_SECONDS = 1.0
# Past this many WAL frames (4 KiB pages), the pass after the next one holds writes.
RESTART_FRAMES = 4096
_HOLD_WAIT_SECONDS = 1.0


class Checkpointer:
    def __init__(
        self,
        path: Path,
        connect: Callable[[Path], sqlite3.Connection],
        loop: asyncio.AbstractEventLoop | None,
        hold_writes: Callable[[bool], None],
    ) -> None:
        self.path = path
        self._connect = connect
        self._loop = loop
        self._hold_writes = hold_writes  # called on the loop: True holds, False releases
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._closing.clear()
        self._thread = threading.Thread(target=self._run, name="ckrv-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        conn = self._connect(self.path)
        try:
            while not self._closing.wait(INTERVAL_SECONDS):
                with contextlib.suppress(sqlite3.Error):
                    # Even a pass that copied all it saw missed the commits made meanwhile.
                    if checkpoint(conn, "PASSIVE")[1] > RESTART_FRAMES:
                        self._held_pass(conn)
            with contextlib.suppress(sqlite3.Error):
                checkpoint(conn, "TRUNCATE")
        finally:
            conn.close()

    def _held_pass(self, conn: sqlite3.Connection) -> None:
        """One more pass with the writer idle, so it copies everything and the WAL restarts."""
        if self._loop is None:
            return
        held = threading.Event()

        def hold() -> None:
            self._hold_writes(True)
            held.set()

        try:
            self._loop.call_soon_threadsafe(hold)
        except RuntimeError:  # the loop has closed: the server is stopping
            return
        if not held.wait(_HOLD_WAIT_SECONDS):
            # The loop was too busy to answer; it may still hold, so release either way.
            self._loop.call_soon_threadsafe(self._hold_writes, False)
            return
        try:
            checkpoint(conn, "PASSIVE")
        finally:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._hold_writes, False)


def checkpoint(conn: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
    """(busy, frames in the WAL, frames copied) of one checkpoint pass."""
    busy, frames, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
    return int(busy), int(frames), int(copied)
