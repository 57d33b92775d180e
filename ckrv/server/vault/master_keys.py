"""The versioned master keys that encrypt credentials and secrets at rest: the data dir's
`keys/master.keys` (0600) or the CKRV_MASTER_KEY environment variable, never the database."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from ckrv.errors import ConfigError
from ckrv.fileutil import check_private, write_private

MASTER_KEY_ENV = "CKRV_MASTER_KEY"


class MasterKeys:
    """Versioned 256-bit keys; new ciphertexts use the highest version.

    Loaded from a key file (`source`), the keys follow that file: `ckrv admin rotate-key`
    rewrites it while the server runs, so before sealing, and when asked for a version it does
    not hold, this re-reads the file if it changed (one stat). Versions read once stay known."""

    def __init__(self, keys: dict[int, bytes], source: Path | None = None) -> None:
        self.keys = dict(keys)
        self.source = source
        self._stamp = _file_stamp(source) if source is not None else None

    @property
    def current_version(self) -> int:
        self.refresh()
        return max(self.keys)

    def get(self, version: int) -> bytes:
        if version not in self.keys:
            self.refresh()
        try:
            return self.keys[version]
        except KeyError:
            raise ConfigError(
                f"master key version {version} is missing from the key file"
            ) from None

    def refresh(self) -> None:
        if self.source is None:
            return
        stamp = _file_stamp(self.source)
        if stamp is None or stamp == self._stamp:
            return
        check_private(self.source)
        fresh = _parse_master(self.source.read_text(), str(self.source))
        self.keys = {**self.keys, **fresh}  # one assignment: readers on other threads see either
        self._stamp = stamp


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def master_keys_path(data_dir: Path) -> Path:
    return data_dir / "keys" / "master.keys"


def create_master_keys(data_dir: Path) -> None:
    """Write a first master key unless one exists or the environment supplies it."""
    path = master_keys_path(data_dir)
    if not path.exists() and MASTER_KEY_ENV not in os.environ:
        write_private(path, _master_line(1, secrets.token_bytes(32)), exclusive=True)
    if path.exists():
        check_private(path)


def _master_line(version: int, key: bytes) -> bytes:
    return f"{version}:{base64.b64encode(key).decode()}\n".encode()


def _parse_master(text: str, origin: str) -> dict[int, bytes]:
    keys: dict[int, bytes] = {}
    for line in text.split():
        version, _, encoded = line.partition(":")
        if not encoded:  # a bare key (environment variable form) is version 1
            version, encoded = "1", line
        try:
            key = base64.b64decode(encoded, validate=True)
            number = int(version)
        except ValueError as exc:
            raise ConfigError(f"{origin}: malformed master key line") from exc
        if len(key) != 32:
            raise ConfigError(f"{origin}: master key version {number} is not 32 bytes")
        keys[number] = key
    if not keys:
        raise ConfigError(f"{origin}: no master key found")
    return keys


def load_master_keys(data_dir: Path) -> MasterKeys:
    if MASTER_KEY_ENV in os.environ:
        return MasterKeys(_parse_master(os.environ[MASTER_KEY_ENV], MASTER_KEY_ENV))
    path = master_keys_path(data_dir)
    check_private(path)
    return MasterKeys(_parse_master(path.read_text(), str(path)), source=path)


def save_master_keys(data_dir: Path, keys: MasterKeys) -> None:
    if MASTER_KEY_ENV in os.environ:
        raise ConfigError(f"the master key comes from {MASTER_KEY_ENV}; rotate it there")
    lines = b"".join(_master_line(v, k) for v, k in sorted(keys.keys.items()))
    write_private(master_keys_path(data_dir), lines)
