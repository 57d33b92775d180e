"""Where a job's log lives: rows in SQLite while the job runs, a JSON-lines archive after.

Each stored line has a *position* (`job_logs.seq`): 1, 2, 3... per job, assigned by the single
writer in commit order, with no gaps. Positions are the SSE event ids, so "resume after N" is a
plain `seq > N` and a follower can tell a gap from a quiet job. The worker's own sequence numbers
are only for deduplication: `jobs.last_log_seq` is the highest one stored, and a retried batch's
entries at or below it are ignored.

`jobs.log_artifact` says where to read: NULL while the log is in rows, '' while it is being
archived (the log is sealed: worker lines are refused), the archive's file name once written.
The switch to the archive and the deletion of rows are separate commits, but a reader decides
from `log_artifact` inside one snapshot, so it never sees a half-moved log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, NamedTuple

from ckrv.errors import InvalidRequest
from ckrv.server.jobs import store as jobs
from ckrv.server.storage.artifacts import ArtifactStore, atomic_file
from ckrv.timeutil import iso, utcnow

LEVELS = frozenset({"debug", "info", "warn", "error"})
MAX_LINE_BYTES = 64 * 1024
MAX_SOURCE_CHARS = 100
ARCHIVE_NAME = "log.jsonl"
SEALED = ""
DELETE_CHUNK = 20_000
# What a stored line costs besides its text, counted against `max_log_bytes` so that the budget
# bounds the disk a log takes, not only its messages: a row's key (job id, position), record
# header and cell pointer in SQLite, and about as much of JSON punctuation and position in the
# archive. Without it a log of short lines took 7 times its budget in the database.
ROW_COST = 64

Entry = tuple[int, str, str, str, str]
"""A stored line: (position, timestamp, level, source, message)."""

_quote: Any = encode_basestring  # the C one: quotes and escapes, keeps non-ASCII as is
_INSERT = "INSERT INTO job_logs (job_id, seq, ts, level, source, message) VALUES (?, ?, ?, ?, ?, ?)"
# Multi-row inserts of 64, 32, ... 1 rows: one statement per 64 rows instead of one per row,
# about twice as fast as executemany, and only 7 statements to cache. The writer runs on the
# event loop (db.py), so time spent inserting is time the fan-out to followers waits.
_ROWS_PER_INSERT = 64
_INSERT_ROWS = {
    rows: _INSERT.replace("(?, ?, ?, ?, ?, ?)", ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows))
    for rows in (64, 32, 16, 8, 4, 2, 1)
}


def entry_dict(entry: Entry) -> dict[str, Any]:
    seq, ts, level, source, message = entry
    return {"seq": seq, "timestamp": ts, "level": level, "source": source, "message": message}


def entry_json(entry: Entry) -> str:
    """The LogEntry as compact JSON. Built by hand around the C string encoder: this runs for
    every line every follower is sent, and json.dumps of a dict costs several times more."""
    seq, ts, level, source, message = entry
    return (
        f'{{"seq":{seq:d},"timestamp":{_quote(ts)},"level":{_quote(level)},'
        f'"source":{_quote(source)},"message":{_quote(message)}}}'
    )


# --- validating what a worker sends ---


class Incoming(NamedTuple):
    """A worker's line after validation and the per-line cap; `size` is its UTF-8 length."""

    worker_seq: int
    ts: str
    level: str
    source: str
    message: str
    size: int


def clip_line(message: str) -> tuple[str, int]:
    """The message (valid UTF-8, at most MAX_LINE_BYTES plus a marker) and its size in bytes."""
    if message.isascii():
        if len(message) <= MAX_LINE_BYTES:
            return message, len(message)
        data = message.encode()
    else:
        data = _utf8(message).encode()
        if len(data) <= MAX_LINE_BYTES:
            return data.decode(), len(data)
    kept = data[:MAX_LINE_BYTES].decode(errors="ignore")
    message = f"{kept}… [line truncated: {len(data)} bytes, the limit is {MAX_LINE_BYTES}]"
    return message, len(message.encode())


def _utf8(text: str) -> str:
    """`text` with lone surrogates (valid in JSON escapes, not in UTF-8) replaced."""
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode(errors="replace").decode()
    return text


def _bad(index: int, what: str) -> InvalidRequest:
    return InvalidRequest(f"entries[{index}]: {what}")


def validate(entries: Any, mask: Callable[[str], str] = str) -> list[Incoming]:
    """Worker entries sorted by their sequence number; a malformed one rejects the batch.
    Messages go through `mask` before they are clipped (a secret the cut would halve is
    masked whole)."""
    if not isinstance(entries, list):
        raise InvalidRequest("entries must be a list")
    out: list[Incoming] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _bad(index, "must be an object")
        seq, message = entry.get("seq"), entry.get("message")
        if type(seq) is not int or seq < 1:
            raise _bad(index, "seq must be a positive integer")
        if not isinstance(message, str):
            raise _bad(index, "message must be a string")
        level = entry.get("level", "info")
        if level not in LEVELS:
            raise _bad(index, f"level must be one of {', '.join(sorted(LEVELS))}")
        source = entry.get("source", "worker")
        if not isinstance(source, str) or not 0 < len(source) <= MAX_SOURCE_CHARS:
            raise _bad(index, f"source must be a string of 1 to {MAX_SOURCE_CHARS} characters")
        ts = entry.get("timestamp")
        if not isinstance(ts, str) or not 0 < len(ts) <= 40:
            raise _bad(index, "timestamp must be an ISO 8601 string")
        text, size = clip_line(mask(message))
        out.append(Incoming(seq, _utf8(ts), level, _utf8(source), text, size))
    out.sort(key=lambda e: e.worker_seq)  # linear when already in order, as it usually is
    return out


# --- writes (each runs inside the single writer) ---


def _next_position(conn: sqlite3.Connection, job_id: str) -> int:
    row = conn.execute("SELECT MAX(seq) FROM job_logs WHERE job_id = ?", (job_id,)).fetchone()
    return int(row[0] or 0) + 1


def _insert(conn: sqlite3.Connection, job_id: str, entries: list[Entry]) -> None:
    at = 0
    while at < len(entries):
        rows = min(_ROWS_PER_INSERT, 1 << ((len(entries) - at).bit_length() - 1))
        values = [v for entry in entries[at : at + rows] for v in (job_id, *entry)]
        conn.execute(_INSERT_ROWS[rows], values)
        at += rows


def stored_cost(line: Incoming) -> int:
    """The bytes a line counts against the job's budget: all it stores, not only its text."""
    return line.size + len(line.ts) + len(line.level) + len(line.source.encode()) + ROW_COST


def append_worker_lines(
    conn: sqlite3.Connection, job_id: str, lines: list[Incoming], max_bytes: int
) -> list[Entry]:
    """Store the lines not seen before, within the job's byte budget; return what was stored."""
    job = jobs.log_counters(conn, job_id)
    if job is None or job["log_artifact"] is not None or job["artifacts_expired"]:
        return []  # unknown job, or its log is sealed: the job has ended
    seen, used, dropped = job["last_log_seq"], job["log_bytes"], job["log_dropped"]
    position = (job["last"] or 0) + 1
    stored: list[Entry] = []
    for line in lines:
        if line.worker_seq <= seen:
            continue  # a retried batch: stored already
        seen = line.worker_seq
        cost = stored_cost(line)
        if dropped or used + cost > max_bytes:
            dropped += 1  # past the budget everything is dropped, so the log has one hole
            continue
        used += cost
        stored.append((position, line.ts, line.level, line.source, line.message))
        position += 1
    _insert(conn, job_id, stored)
    jobs.set_log_counters(conn, job["seq"], seen, used, dropped)
    return stored


def append_server_line(
    conn: sqlite3.Connection, job_id: str, message: str, level: str, source: str = "server"
) -> list[Entry]:
    """A line from the server itself (or what it read from the executor, e.g. a crashed pod's
    log tail with source `kubernetes`), not counted against the budget; refused once sealed."""
    job = jobs.find(conn, job_id, "log_artifact")
    if job is None or job["log_artifact"] is not None:
        return []
    entry: Entry = (
        _next_position(conn, job_id),
        iso(utcnow()) or "",
        level,
        source,
        clip_line(message)[0],
    )
    conn.execute(_INSERT, (job_id, *entry))
    return [entry]


def dropped_marker(dropped: int, used: int, max_bytes: int) -> str:
    return (
        f"{dropped} log line{'s' if dropped != 1 else ''} dropped: this job's log reached "
        f"the server's limit of {max_bytes} bytes (max_log_bytes) after {used} bytes "
        f"(each line counts its text, timestamp, level, source and {ROW_COST} bytes of storage)"
    )


def seal(conn: sqlite3.Connection, job_id: str, max_bytes: int) -> list[Entry]:
    """Refuse further worker lines and add the dropped-lines marker, in one commit (so a restart
    in the middle of archiving neither loses nor repeats the marker)."""
    job = jobs.find(conn, job_id, "seq, log_artifact, log_bytes, log_dropped")
    if job is None or job["log_artifact"] is not None:
        return []
    jobs.set_log_artifact(conn, job["seq"], SEALED)
    if not job["log_dropped"]:
        return []
    entry: Entry = (
        _next_position(conn, job_id),
        iso(utcnow()) or "",
        "warn",
        "server",
        dropped_marker(job["log_dropped"], job["log_bytes"], max_bytes),
    )
    conn.execute(_INSERT, (job_id, *entry))
    return [entry]


def mark_archived(conn: sqlite3.Connection, job_id: str) -> None:
    jobs.replace_log_artifact(conn, job_id, SEALED, ARCHIVE_NAME)


def delete_logs(conn: sqlite3.Connection, job_ids: list[str]) -> None:
    """Delete every row of these jobs' logs (retention: what archiving left behind)."""
    conn.executemany("DELETE FROM job_logs WHERE job_id = ?", [(job_id,) for job_id in job_ids])


def delete_rows(conn: sqlite3.Connection, job_id: str) -> int:
    """Delete the first DELETE_CHUNK rows of an archived job, so the writer is never held long;
    returns how many went (0 when none are left)."""
    cur = conn.execute(
        "DELETE FROM job_logs WHERE job_id = ? AND seq < COALESCE((SELECT seq FROM job_logs"
        " WHERE job_id = ? ORDER BY seq LIMIT 1 OFFSET ?), 9223372036854775807)",
        (job_id, job_id, DELETE_CHUNK),
    )
    return cur.rowcount


# --- reads ---


@dataclass(frozen=True)
class LogState:
    """Where a job's log is, seen in one snapshot."""

    status: str
    archived: bool  # read the archive file
    sealed: bool  # no more lines will be added (sealed or archived)
    expired: bool  # retention removed it
    last: int  # highest position stored (for archived logs: unknown, 0)


def _entry(row: sqlite3.Row) -> Entry:
    return (row[0], row[1], row[2], row[3], row[4])


def _state(conn: sqlite3.Connection, job_id: str) -> LogState | None:
    job = jobs.find(conn, job_id, "status, log_artifact, artifacts_expired")
    if job is None:
        return None
    artifact = job["log_artifact"]
    archived = bool(artifact)
    last = 0 if archived else _next_position(conn, job_id) - 1
    return LogState(
        job["status"], archived, artifact is not None, bool(job["artifacts_expired"]), last
    )


def read_rows(
    conn: sqlite3.Connection, job_id: str, after: int, limit: int
) -> tuple[LogState | None, list[Entry]]:
    """The job's state and up to `limit` stored lines after position `after`, in one snapshot;
    when the state says `archived`, the lines are to be read from the archive instead.
    (Inline reads are inside the loop iteration's snapshot already; a thread's are not.)"""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        state = _state(conn, job_id)
        if state is None or state.archived or state.expired:
            return state, []
        rows = conn.execute(
            "SELECT seq, ts, level, source, message FROM job_logs WHERE job_id = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (job_id, after, limit),
        ).fetchall()
        return state, [_entry(r) for r in rows]
    finally:
        if own:
            conn.execute("COMMIT")


def all_rows(conn: sqlite3.Connection, job_id: str, page: int = 5000) -> Iterator[Entry]:
    after = 0
    while True:
        rows = conn.execute(
            "SELECT seq, ts, level, source, message FROM job_logs WHERE job_id = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (job_id, after, page),
        ).fetchall()
        yield from (_entry(r) for r in rows)
        if len(rows) < page:
            return
        after = rows[-1][0]


# --- the archive file ---


def archive_path(data_dir: Path, job_id: str) -> Path:
    return ArtifactStore(data_dir).path(job_id, ARCHIVE_NAME)


def write_archive(path: Path, entries: Iterator[Entry]) -> int:
    """Write the archive whole or not at all (atomic_file); return the last position."""
    last = 0
    with atomic_file(path, "w", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(entry_json(entry))
            handle.write("\n")
            last = entry[0]
    return last


def count_archive(path: Path) -> int | None:
    """How many lines the archive holds (its last position), or None when it is gone."""
    try:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except FileNotFoundError:
        return None
