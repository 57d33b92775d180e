"""Resource limits of a job's commands (setup, agent, verify): memory, CPU time, number of
processes and disk, each 0 for "no limit". They are applied as rlimits by util-linux's `prlimit`,
run inside the sandbox just before the command, so the sandbox's own set-up is not counted and
every process the command starts inherits them:

- memory: RLIMIT_DATA (the process's private writable memory; address-space reservations such
  as V8's or Go's are not counted, unlike RLIMIT_AS), per process;
- cpu_time: RLIMIT_CPU, CPU seconds per process (SIGXCPU at the limit, SIGKILL 5 s later);
- processes: RLIMIT_NPROC, counted per user namespace, so per sandboxed command (the kernel
  never applies it to uid 0, which is why the sandbox runs commands as an unprivileged user
  when the worker is root);
- disk: RLIMIT_FSIZE (no file larger than the limit) plus the worker's check of the workspace's
  total size while the command runs (`workspace_bytes`).

A command that ends because of a limit is explained by `explain_end`, naming the limit and the
setting to raise."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_OOM_MARKERS = re.compile(
    r"MemoryError|Cannot allocate memory|bad_alloc|out of memory|heap out of memory", re.I
)
_CPU_GRACE = 5  # seconds between SIGXCPU and SIGKILL


def parse_size(value: Any) -> int:
    """Bytes from 4G, 512M, 4GiB, 1.5g or a plain number of bytes; 0 means no limit."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 4G or 512M")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"invalid size {value!r}: use a number with K, M, G or T (e.g. 4G)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def human_size(size: int) -> str:
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class Limits:
    memory: int = 0  # bytes
    cpu_time: int = 0  # CPU seconds per process
    processes: int = 0
    disk: int = 0  # bytes

    @classmethod
    def from_description(cls, raw: dict[str, Any] | None) -> Limits:
        raw = raw or {}
        return cls(**{k: int(raw.get(k) or 0) for k in ("memory", "cpu_time", "processes", "disk")})

    def describe(self) -> dict[str, int]:
        return {
            "memory": self.memory,
            "cpu_time": self.cpu_time,
            "processes": self.processes,
            "disk": self.disk,
        }

    def prlimit_argv(self) -> list[str]:
        """`prlimit --data=... -- ` (empty when nothing is limited)."""
        options = []
        if self.memory:
            options.append(f"--data={self.memory}")
        if self.cpu_time:
            options.append(f"--cpu={self.cpu_time}:{self.cpu_time + _CPU_GRACE}")
        if self.processes:
            options.append(f"--nproc={self.processes}")
        if self.disk:
            options.append(f"--fsize={self.disk}")
        return ["prlimit", *options, "--"] if options else []


def _signal_of(exit_code: int) -> int | None:
    """The signal that ended a command: negative from Popen, 128+N through a shell or bwrap."""
    if exit_code < 0:
        return -exit_code
    if 128 < exit_code < 128 + 65:
        return exit_code - 128
    return None


def explain_end(exit_code: int, last_lines: Iterable[str], limits: Limits) -> str | None:
    """Which limit ended a command that failed, as a message naming the setting; None when
    no limit is to blame (as far as the exit can tell)."""
    if exit_code == 0:
        return None
    sig = _signal_of(exit_code)
    if limits.cpu_time and sig == signal.SIGXCPU:
        return (
            f"out of CPU time: limit {limits.cpu_time} s per process; raise `cpu_time` "
            "for the agent or the job"
        )
    if limits.disk and sig == signal.SIGXFSZ:
        return over_disk(limits)
    if limits.memory and any(_OOM_MARKERS.search(line) for line in last_lines):
        return (
            f"out of memory: limit {human_size(limits.memory)}; raise `memory` for the agent "
            "or the job"
        )
    return None


def over_disk(limits: Limits) -> str:
    return (
        f"out of disk: limit {human_size(limits.disk)} for the workspace; raise `disk` for "
        "the agent or the job"
    )


def workspace_bytes(path: Path) -> int:
    """Bytes of the files under `path` (symlinks not followed; what vanishes meanwhile skipped)."""
    total = 0
    stack = [str(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total


class DiskWatch:
    """Checks the workspace's size against the disk limit while a command runs, at most every
    `every` seconds (a walk of a large checkout is not free)."""

    def __init__(self, workspace: Path, limits: Limits, every: float = 1.0) -> None:
        self.workspace = workspace
        self.limits = limits
        self.every = every
        self.tripped = False
        self._next = 0.0

    def over(self) -> bool:
        if not self.limits.disk or self.tripped:
            return self.tripped
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every
            self.tripped = workspace_bytes(self.workspace) > self.limits.disk
        return self.tripped

    def message(self) -> str | None:
        return over_disk(self.limits) if self.tripped else None
