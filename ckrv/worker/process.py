"""Running setup, the agent and verify: every output line goes, masked, to the reporter with its
source, as soon as it is printed. Children stay in the worker's process group so the executor's
group kill reaches them; a per-command timeout kills the command's whole process tree."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

LineSink = Callable[[str, str, str], None]  # (source, message, level)
_READ_CHUNK = 64 * 1024
_MAX_LINE = 1024 * 1024  # the reporter truncates to 64 KiB after masking


@dataclass
class Completed:
    exit_code: int
    timed_out: bool = False
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=15))


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (zombies included); none where there is no /proc.
    The kernel lists each thread's children (/proc/PID/task/TID/children): reading those costs
    a few files, where scanning every process's stat costs one read per process on the host."""
    if not _children_listed():
        return _children_by_scan(pid)
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: set[int] = set()  # a child can move to another thread's list while they are read
    for tid in tasks:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children") as listed:
            found.update(int(child) for child in listed.read().split())
    return sorted(found)


@functools.cache
def _children_listed() -> bool:
    return os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _children_by_scan(pid: int) -> list[int]:
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (they share the worker's process group)."""
    pending, seen = [pid], []
    while pending:
        current = pending.pop()
        seen.append(current)
        with contextlib.suppress(OSError):
            os.kill(current, signal.SIGSTOP)  # freeze first so nothing forks away meanwhile
        pending.extend(children(current))
    for victim in seen:
        with contextlib.suppress(OSError):
            os.kill(victim, signal.SIGKILL)


def _pump(stream: IO[bytes], source: str, level: str, sink: LineSink, done: Completed) -> None:
    """Forward whole lines. A long line is read in chunks and joined (up to _MAX_LINE) before
    it is sent, so a secret straddling two chunks is still masked whole."""
    pending = b""
    while True:
        raw = stream.readline(_READ_CHUNK)
        if not raw:
            if pending:
                _emit(pending, source, level, sink, done)
            return
        pending += raw
        if raw.endswith(b"\n") or len(pending) >= _MAX_LINE:
            _emit(pending, source, level, sink, done)
            pending = b""


def _emit(raw: bytes, source: str, level: str, sink: LineSink, done: Completed) -> None:
    line = raw.decode("utf-8", "replace").rstrip("\r\n")
    done.last_lines.append(line[:2000])
    sink(source, line, level)


def _feed(stream: IO[bytes], data: bytes) -> None:
    """Write `data` and close, in a thread: a command that reads none of it, or ends early,
    blocks or breaks only this."""
    try:
        stream.write(data)
    except (BrokenPipeError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def run_streaming(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    source: str,
    sink: LineSink,
    timeout: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    stdin: bytes | None = None,
) -> Completed:
    """Run `argv`, its lines to `sink`; `stdin` is written to its standard input (else it
    reads nothing there)."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    done = Completed(exit_code=-1)
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, source, "info", sink, done), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, source, "warn", sink, done), daemon=True),
    ]
    if stdin is not None and proc.stdin is not None:
        pumps.append(threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True))
    for pump in pumps:
        pump.start()
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        try:  # returns the moment the command ends, not at the next tick of a sleep
            proc.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            pass
        if (deadline is not None and time.monotonic() > deadline) or should_stop():
            done.timed_out = deadline is not None and time.monotonic() > deadline
            kill_tree(proc.pid)
            break
    done.exit_code = proc.wait()
    for pump in pumps:
        pump.join(timeout=5)
    return done
