"""Private files and directories: created with the right mode whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ckrv.errors import ConfigError


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write `data` to a 0600 file atomically (temp file + rename), or with O_EXCL when asked."""
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        _write_fd(fd, data)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    _write_fd(fd, data)
    os.replace(tmp, path)


def _write_fd(fd: int, data: bytes) -> None:
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode is filtered by the umask; fchmod is not
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{path} is readable by other users (mode {mode:o}); ckrv refuses to use it",
            hint=f"run: chmod 600 {path}",
        )
