"""Reading a job's log forward: the JSON body of `GET .../logs` and the SSE follow stream.

The follower protocol, which gives "no gap, no duplicate" across the backlog-to-live switch:
subscribe to the hub first, then read storage; every chunk from the hub is checked against the
last position delivered: older positions are skipped, a gap sends the follower back to storage
(everything the hub publishes is committed before it is published, so storage has it).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any, Protocol

from ckrv.contracts.jobmodel import TERMINAL
from ckrv.server.logs.hub import (
    DONE,
    HEARTBEAT,
    Chunk,
    Close,
    End,
    Follower,
    Heartbeat,
    Status,
    sse_lines,
    sse_status,
)
from ckrv.server.logs.store import Entry, LogState, entry_json, read_rows
from ckrv.server.storage.database import Database


class LogSource(Protocol):
    """Where a Reader finds a job's log (the LogService): rows while it runs, then its archive."""

    db: Database

    def archive_path(self, job_id: str) -> Path: ...


PAGE = 2000


class Reader:
    """One job's log read forward in pages, from its rows or its archive, whichever holds it.
    An archive is read with one open file, so paging through it is linear."""

    def __init__(self, service: LogSource, job_id: str) -> None:
        self.service, self.job_id = service, job_id
        self._file: IO[str] | None = None
        self._file_position = 0

    async def page(self, after: int, limit: int = PAGE) -> tuple[LogState | None, list[Entry]]:
        job_id = self.job_id
        state, rows = await self.service.db.read_async(lambda c: read_rows(c, job_id, after, limit))
        if state is not None and state.archived and not state.expired:
            rows = await asyncio.to_thread(self._read_archive, after, limit)
        return state, rows

    def _read_archive(self, after: int, limit: int) -> list[Entry]:
        if self._file is None or self._file_position != after:
            self.close()
            try:
                self._file = open(self.service.archive_path(self.job_id), encoding="utf-8")  # noqa: SIM115
            except FileNotFoundError:
                return []
            self._file_position = 0
        out: list[Entry] = []
        for line in self._file:
            self._file_position += 1
            if self._file_position <= after:
                continue  # line k holds position k: no need to parse what is skipped
            item = json.loads(line)
            out.append(
                (item["seq"], item["timestamp"], item["level"], item["source"], item["message"])
            )
            if len(out) >= limit:
                break
        if out:
            self._file_position = out[-1][0]
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


async def json_logs(reader: Reader, after: int, limit: int | None) -> AsyncIterator[bytes]:
    """`{"logs": [...]}` streamed page by page, so a 100 MB log never sits in memory."""
    try:
        yield b'{"logs":['
        separator, left = b"", limit
        while left is None or left > 0:
            want = PAGE if left is None else min(PAGE, left)
            _state, page = await reader.page(after, want)
            if page:
                yield separator + b",".join(entry_json(e).encode() for e in page)
                separator, after = b",", page[-1][0]
                left = None if left is None else left - len(page)
            if len(page) < want:
                break
        yield b"]}"
    finally:
        reader.close()


async def follow_sse(
    reader: Reader,
    follower: Follower,
    after: int,
    describe: Callable[[str], dict[str, Any] | None],
) -> AsyncIterator[bytes]:
    """The SSE stream: current status, backlog, live lines and status changes, and when the job
    ends, the rest of the log, the final status and [DONE]. The caller has subscribed
    `follower` to the hub *before* calling this, so nothing published after that is missed."""
    job_id = reader.job_id
    delivered = after
    follower.behind = True  # start from storage
    try:
        current = describe(job_id)
        last_status = b""
        if current is not None and current.get("status") not in TERMINAL:
            # With the id of the position lines start after, so a reconnect resumes there even
            # before the first line arrives. (An ended job's status comes last, once.)
            last_status = sse_status(current)
            yield sse_status(current, delivered)
        while True:
            if follower.behind:
                follower.behind = False
                state, page = await reader.page(delivered)
                if page:
                    follower.active = time.monotonic()
                    yield b"".join(sse_lines(page))
                    delivered = page[-1][0]
                if len(page) == PAGE:
                    follower.behind = True
                elif state is None or state.archived or state.expired:
                    break  # an ended job: storage had all of it
                continue
            await follower.wait()
            parts: list[bytes] = []
            end: int | None = None
            for item in follower.take():
                if isinstance(item, Chunk):
                    if item.last <= delivered or follower.behind:
                        continue
                    if item.first > delivered + 1:
                        follower.behind = True  # a gap: storage has it
                        continue
                    parts.append(item.after(delivered))
                    delivered = item.last
                elif isinstance(item, Status):
                    if not item.terminal and item.event != last_status:
                        parts.append(item.event)
                        last_status = item.event
                elif isinstance(item, End):
                    end = item.last
                elif isinstance(item, Heartbeat):
                    parts.append(HEARTBEAT)
                elif isinstance(item, Close):
                    if parts:
                        yield b"".join(parts)
                    return
            if parts:
                follower.active = time.monotonic()
                yield b"".join(parts)
            if end is not None:
                async for part in _rest(reader, delivered, end):
                    yield part
                break
        final = describe(job_id)
        if final is not None:
            yield sse_status(final)
        yield DONE
    finally:
        reader.close()


async def _rest(reader: Reader, delivered: int, last: int) -> AsyncIterator[bytes]:
    while delivered < last:
        _state, page = await reader.page(delivered)
        if not page:
            return
        yield b"".join(sse_lines(page))
        delivered = page[-1][0]
