"""Finding processes a test left behind, through /proc."""

from __future__ import annotations

import contextlib
import os
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
