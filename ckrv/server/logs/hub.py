"""Live fan-out of log lines to followers: one in-process hub per job.

A batch of stored lines is encoded as Server-Sent Events once and the same bytes are handed to
every follower. Each follower has a bounded queue; when it is full the follower is marked
*behind* and gets nothing more from the hub until it has caught up from storage, so a slow or
stalled reader costs the others (and ingestion) nothing but a flag check.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ckrv.contracts.jobmodel import TERMINAL
from ckrv.server.logs.store import Entry, entry_json

DONE = b"data: [DONE]\n\n"
HEARTBEAT = b": keep-alive\n\n"


def sse_lines(entries: list[Entry]) -> list[bytes]:
    return [f"id: {e[0]}\nevent: log\ndata: {entry_json(e)}\n\n".encode() for e in entries]


def sse_status(job: dict[str, Any], position: int | None = None) -> bytes:
    """A status event; with `position`, it also tells the client where its lines resume."""
    data = json.dumps(job, ensure_ascii=False, separators=(",", ":"))
    event_id = f"id: {position}\n" if position is not None else ""
    return f"{event_id}event: status\ndata: {data}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Chunk:
    """SSE events for the contiguous positions first..last, with each event's start offset."""

    first: int
    last: int
    blob: bytes
    offsets: tuple[int, ...]

    @classmethod
    def of(cls, entries: list[Entry]) -> Chunk:
        parts = sse_lines(entries)
        offsets, at = [], 0
        for part in parts:
            offsets.append(at)
            at += len(part)
        return cls(entries[0][0], entries[-1][0], b"".join(parts), tuple(offsets))

    def after(self, position: int) -> bytes:
        """The events after `position` (which is inside this chunk or before it)."""
        if position < self.first:
            return self.blob
        return self.blob[self.offsets[position + 1 - self.first] :]


@dataclass(frozen=True, slots=True)
class Status:
    event: bytes
    terminal: bool  # the stream sends the terminal status itself, last, after the whole log


@dataclass(frozen=True, slots=True)
class End:
    """The job has ended; its log holds positions 1..last."""

    last: int


@dataclass(frozen=True, slots=True)
class Close:
    """The server is stopping: end the stream without [DONE], so the client reconnects."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Nothing was sent for a while: send a comment, so proxies and clients see a live stream."""


Item = Chunk | Status | End | Close | Heartbeat


@dataclass(eq=False)
class Follower:
    capacity: int
    items: deque[Item] = field(default_factory=deque)
    queued: int = 0
    behind: bool = False
    active: float = field(default_factory=time.monotonic)  # when it last sent something
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, chunk: Chunk) -> None:
        if self.behind:
            return
        size = chunk.last - chunk.first + 1
        if self.queued + size > self.capacity:
            self.behind = True  # it will read storage; what is queued stays valid
        else:
            self.items.append(chunk)
            self.queued += size
        self.wakeup.set()

    def push(self, item: Status | End | Close | Heartbeat) -> None:
        """Rare control events bypass the bound: a follower must never miss its end."""
        self.items.append(item)
        self.wakeup.set()

    def take(self) -> list[Item]:
        items = list(self.items)
        self.items.clear()
        self.queued = 0
        self.wakeup.clear()
        return items

    async def wait(self) -> None:
        """Until there is something to do (the hub's heartbeat timer makes sure there is)."""
        if not (self.items or self.behind):
            await self.wakeup.wait()


def flush_interval(followers: int) -> float:
    """How long the hub may gather lines before handing them out. Waking a follower costs tens
    of microseconds however few lines it gets, so with many followers lines are handed out in
    fewer, larger chunks: 0.1 ms per follower, at most 100 ms (1,000 followers: 10 wake-ups a
    second each, whatever the line rate). One follower gets each batch at once."""
    return min(0.0001 * followers, 0.1)


@dataclass(eq=False)
class JobHub:
    followers: set[Follower] = field(default_factory=set)
    pending: list[Entry] = field(default_factory=list)  # published, not yet handed out
    flushed_at: float = 0.0
    timer: asyncio.TimerHandle | None = None

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.flushed_at = time.monotonic()
        if not self.pending:
            return
        entries, self.pending = self.pending, []
        for run in contiguous_runs(entries):
            chunk = Chunk.of(run)
            for follower in self.followers:
                follower.offer(chunk)

    def publish(self, entries: list[Entry]) -> None:
        self.pending.extend(entries)
        if self.timer is not None:
            return  # a flush is already due
        delay = self.flushed_at + flush_interval(len(self.followers)) - time.monotonic()
        if delay <= 0:
            self.flush()
        else:
            self.timer = asyncio.get_running_loop().call_later(delay, self.flush)

    def push(self, item: Status | End | Close) -> None:
        self.flush()  # lines published before a status change reach followers before it
        for follower in self.followers:
            follower.push(item)


def contiguous_runs(entries: list[Entry]) -> list[list[Entry]]:
    runs = [[entries[0]]]
    for entry in entries[1:]:
        if entry[0] == runs[-1][-1][0] + 1:
            runs[-1].append(entry)
        else:
            runs.append([entry])
    return runs


class Hub:
    """The hubs of all jobs that have followers right now."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._jobs: dict[str, JobHub] = {}

    def subscribe(self, job_id: str) -> Follower:
        follower = Follower(self.capacity)
        self._jobs.setdefault(job_id, JobHub()).followers.add(follower)
        return follower

    def unsubscribe(self, job_id: str, follower: Follower) -> None:
        hub = self._jobs.get(job_id)
        if hub is None:
            return
        hub.followers.discard(follower)
        if not hub.followers:
            if hub.timer is not None:
                hub.timer.cancel()
            del self._jobs[job_id]

    def followers(self, job_id: str) -> int:
        hub = self._jobs.get(job_id)
        return len(hub.followers) if hub else 0

    def publish(self, job_id: str, entries: list[Entry]) -> None:
        hub = self._jobs.get(job_id)
        if hub is not None and entries:
            hub.publish(entries)  # nobody listens: not even encoded

    def status(self, job_id: str, job: dict[str, Any]) -> None:
        hub = self._jobs.get(job_id)
        if hub is not None:
            hub.push(Status(sse_status(job), job.get("status") in TERMINAL))

    def end(self, job_id: str, last: int) -> None:
        hub = self._jobs.get(job_id)
        if hub is not None:
            hub.push(End(last))

    def close_all(self) -> None:
        for hub in self._jobs.values():
            hub.push(Close())

    def heartbeat(self, idle: float) -> None:
        """Give every follower that has sent nothing for `idle` seconds a heartbeat to send."""
        quiet_since = time.monotonic() - idle
        for hub in self._jobs.values():
            for follower in hub.followers:
                if follower.active <= quiet_since and not follower.items:
                    follower.push(Heartbeat())
