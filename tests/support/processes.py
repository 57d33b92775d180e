"""Finding processes a test left behind, through /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def processes_mentioning(path: Path) -> list[str]:
    """Processes (not this one) whose command line, cwd or environment mentions `path`."""
    needle, found = str(path).encode(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd").encode()
            environ = (entry / "environ").read_bytes()
            if needle in cmdline or cwd.startswith(needle) or needle in environ:
                command = cmdline.replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name}: {command}")
    return found


def end_processes_mentioning(path: Path, timeout: float = 10.0) -> list[str]:
    """SIGKILL the process group of every process `processes_mentioning(path)` finds (a
    worker leads its own group, with its agent and what the agent started), then wait until
    none is left. Returns what was found. A process in this one's group is killed alone."""
    found = processes_mentioning(path)
    ours = os.getpgrp()
    for line in found:
        pid = int(line.split(":", 1)[0])
        with contextlib.suppress(ProcessLookupError, PermissionError):
            group = os.getpgid(pid)
            if group == ours:
                os.kill(pid, signal.SIGKILL)
            else:
                os.killpg(group, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while processes_mentioning(path) and time.monotonic() < deadline:
        time.sleep(0.02)  # SIGKILL is sent; the kernel needs a moment to reap
    return found
