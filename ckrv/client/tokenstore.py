"""Where the CLI keeps its tokens, per server: the OS keyring (service `ckrv`) first; where no
keyring works, a 0600 file in a 0700 directory under the config dir, with a one-time notice.
Once the file is in use a marker records it, so later commands skip the keyring probe (which
costs tens of milliseconds at every start)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from ckrv.fileutil import private_dir, write_private
from ckrv.paths import config_dir

SERVICE = "ckrv"


@dataclass
class StoredTokens:
    access_token: str
    refresh_token: str
    expires_at: float  # unix time the access token expires


class TokenStore:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or config_dir()

    @property
    def file(self) -> Path:
        return self.directory / "tokens.json"

    @property
    def _file_marker(self) -> Path:
        return self.directory / "token-store-is-file"

    def _uses_file(self) -> bool:
        return self._file_marker.exists()

    def _read_file(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_file(self, data: dict[str, dict[str, object]]) -> None:
        private_dir(self.directory)
        write_private(self.file, json.dumps(data, indent=1).encode())

    def load(self, api_url: str) -> StoredTokens | None:
        raw: object
        if self._uses_file():
            raw = self._read_file().get(api_url)
        else:
            raw = _keyring_get(api_url)
            if isinstance(raw, str):
                raw = json.loads(raw)
        if not isinstance(raw, dict):
            return None
        try:
            return StoredTokens(
                str(raw["access_token"]), str(raw["refresh_token"]), float(raw["expires_at"])
            )
        except (KeyError, TypeError, ValueError):
            return None

    def save(self, api_url: str, tokens: StoredTokens) -> None:
        if not self._uses_file() and _keyring_set(api_url, json.dumps(asdict(tokens))):
            return
        if not self._uses_file():
            private_dir(self.directory)
            write_private(
                self._file_marker, b"the OS keyring was unavailable; tokens.json holds tokens\n"
            )
            print(
                f"note: no OS keyring is available; tokens are kept in {self.file} (mode 0600)",
                file=sys.stderr,
            )
        data = self._read_file()
        data[api_url] = asdict(tokens)
        self._write_file(data)

    def delete(self, api_url: str) -> None:
        if self._uses_file():
            data = self._read_file()
            if data.pop(api_url, None) is not None:
                self._write_file(data)
        else:
            _keyring_delete(api_url)


def _keyring_get(api_url: str) -> str | None:
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(SERVICE, api_url)
    except (KeyringError, RuntimeError, OSError):
        return None


def _keyring_set(api_url: str, value: str) -> bool:
    import keyring
    from keyring.errors import KeyringError

    if os.environ.get("CKRV_NO_KEYRING"):
        return False
    try:
        keyring.set_password(SERVICE, api_url, value)
    except (KeyringError, RuntimeError, OSError):
        return False
    return True


def _keyring_delete(api_url: str) -> None:
    import keyring
    from keyring.errors import KeyringError

    with contextlib.suppress(KeyringError, RuntimeError, OSError):
        keyring.delete_password(SERVICE, api_url)
