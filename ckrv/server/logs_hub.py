"""Live fan-out of log lines to followers: one in-process hub per job.

A batch of stored lines is encoded as Server-Sent Events once and the same bytes are handed to
every follower. Each follower has a bounded queue; when it is full the follower is marked
*behind* and gets nothing more from the hub until it has caught up from storage, so a slow or
stalled reader costs the others (and ingestion) nothing but a flag check.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ckrv.server.logs_store import TERMINAL, Entry, entry_json

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


Item = Chunk | Status | End | Close


@dataclass(eq=False)
class Follower:
    capacity: int
    items: deque[Item] = field(default_factory=deque)
    queued: int = 0
    behind: bool = False
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

    def push(self, item: Status | End | Close) -> None:
        """Rare control events bypass the bound: a follower must never miss its end."""
        self.items.append(item)
        self.wakeup.set()

    def take(self) -> list[Item]:
        items = list(self.items)
        self.items.clear()
        self.queued = 0
        self.wakeup.clear()
        return items

    async def wait(self, timeout: float) -> bool:
        """Wait until there is something to do; False after `timeout` seconds of nothing."""
        if self.items or self.behind:
            return True
        try:
            async with asyncio.timeout(timeout):
                await self.wakeup.wait()
        except TimeoutError:
            return False
        return True


@dataclass(eq=False)
class JobHub:
    followers: set[Follower] = field(default_factory=set)


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
            del self._jobs[job_id]

    def followers(self, job_id: str) -> int:
        hub = self._jobs.get(job_id)
        return len(hub.followers) if hub else 0

    def publish(self, job_id: str, entries: list[Entry]) -> None:
        hub = self._jobs.get(job_id)
        if hub is None or not entries:
            return  # nobody listens: not even encoded
        chunk = Chunk.of(entries)
        for follower in hub.followers:
            follower.offer(chunk)

    def status(self, job_id: str, job: dict[str, Any]) -> None:
        hub = self._jobs.get(job_id)
        if hub is None:
            return
        item = Status(sse_status(job), job.get("status") in TERMINAL)
        for follower in hub.followers:
            follower.push(item)

    def end(self, job_id: str, last: int) -> None:
        hub = self._jobs.get(job_id)
        if hub is None:
            return
        for follower in hub.followers:
            follower.push(End(last))

    def close_all(self) -> None:
        for hub in self._jobs.values():
            for follower in hub.followers:
                follower.push(Close())
