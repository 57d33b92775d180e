"""A job's log and status as a stream of events, over Server-Sent Events, surviving dropped
connections and server restarts: reconnects resume with `Last-Event-ID`, so no line is missed
or repeated. Used by `ckrv logs -f`, `ckrv status --watch` and `ckrv run --cloud --follow`.

    for event in follow(api, job_id):
        if isinstance(event, LogEvent): print(event.message)
        elif event.final: print("ended", event.status)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from ckrv.client.api import Api
from ckrv.contracts.jobmodel import TERMINAL
from ckrv.errors import ApiError, ServerUnreachable

PAGE = 5000
# The server sends a heartbeat every 15 s; a connection silent for longer is dead.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=45.0)
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0

Notice = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One line of the job's log; `seq` is its position (1, 2, 3...)."""

    seq: int
    timestamp: str
    level: str
    source: str
    message: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogEvent:
        return cls(
            int(data["seq"]),
            str(data["timestamp"]),
            str(data["level"]),
            str(data["source"]),
            str(data["message"]),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "timestamp": self.timestamp,
            "level": self.level,
            "source": self.source,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """The job (its public JSON) after a status or phase change. `final` is the last event of
    the stream: the job has ended and its whole log has been delivered."""

    job: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.job.get("status"))

    @property
    def phase(self) -> str | None:
        return self.job.get("phase")

    @property
    def final(self) -> bool:
        return self.status in TERMINAL


Event = LogEvent | StatusEvent


def stderr_notice(text: str) -> None:
    print(f"ckrv: {text}", file=sys.stderr, flush=True)


def fetch(api: Api, job_id: str, *, tail: int | None = None, after: int = 0) -> Iterator[LogEvent]:
    """The log as it is now (the last `tail` lines), fetched in pages."""
    params: dict[str, Any] = {"after": after, "limit": PAGE}
    if tail is not None:
        params["tail"] = tail
    while True:
        entries = api.get(f"/jobs/{job_id}/logs", params=params)["logs"]
        for entry in entries:
            yield LogEvent.from_json(entry)
        if len(entries) < PAGE:
            return
        params = {"after": entries[-1]["seq"], "limit": PAGE}


def follow(
    api: Api,
    job_id: str,
    *,
    after: int = 0,
    tail: int | None = None,
    notice: Notice | None = stderr_notice,
    give_up_after: float = 600.0,
) -> Iterator[Event]:
    """Log lines after position `after` (or from the last `tail` lines) and status changes,
    live, until the job has ended: the last event is the final StatusEvent. Once connected, a
    lost connection is retried with backoff (one notice per outage) for up to `give_up_after`
    seconds; failing to connect the first time raises ServerUnreachable at once."""
    # Where to resume: known from the start unless only a tail was asked for; then the server
    # says where that tail began (the id of its first event), and lines carry their own ids.
    position: int | None = after if tail is None else None
    outage_since, attempt, connected = 0.0, 0, False
    while True:
        params: dict[str, Any] = {"follow": "true"}
        headers = {"Accept": "text/event-stream"}
        if position is None:
            params.update(after=after, tail=tail)
        else:
            headers["Last-Event-ID"] = str(position)
        try:
            with api.stream(
                "GET",
                f"/jobs/{job_id}/logs",
                params=params,
                headers=headers,
                timeout=STREAM_TIMEOUT,
            ) as response:
                connected = True
                for event, event_id in parse_sse(response.iter_lines()):
                    outage_since, attempt = 0.0, 0
                    if event_id is not None and event_id.isdigit():
                        position = int(event_id)
                    if event is None:
                        return
                    yield event
            reason = "the server closed the stream"
        except ServerUnreachable as exc:
            if not connected:
                raise  # never reached it: a wrong URL or a stopped server, not a dropped line
            reason = exc.message
        except ApiError as exc:
            if exc.status < 500 or not connected:
                raise
            reason = f"the server answered {exc.status}"
        now = time.monotonic()
        if not outage_since:
            outage_since = now
            if notice is not None:
                where = f"after line {position}" if position is not None else "from the start"
                notice(f"lost the log stream ({_short(reason)}); reconnecting {where}")
        elif now - outage_since > give_up_after:
            raise ServerUnreachable(f"gave up following job {job_id}: {reason}")
        time.sleep(min(BACKOFF_FIRST * 2**attempt, BACKOFF_MAX))
        attempt += 1


def _short(reason: str) -> str:
    return reason.split(" (", 1)[-1].rstrip(")") if reason.startswith("cannot reach") else reason


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[Event | None, str | None]]:
    """(event, its SSE id) from SSE lines; the event is None for `data: [DONE]`. Comments
    (heartbeats) and unknown events are skipped."""
    kind, data, event_id = "message", list[str](), None
    for line in lines:
        if not line:
            if data:
                payload = "\n".join(data)
                if payload == "[DONE]":
                    yield None, event_id
                elif kind == "log":
                    yield LogEvent.from_json(json.loads(payload)), event_id
                elif kind == "status":
                    yield StatusEvent(json.loads(payload)), event_id
            kind, data, event_id = "message", [], None
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
