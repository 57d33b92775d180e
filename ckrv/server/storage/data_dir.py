"""The data dir's layout: created 0700 on first start with its `keys/` and `artifacts/`
folders and any missing key file; an exposed key file is refused."""

from __future__ import annotations

from pathlib import Path

from ckrv.fileutil import private_dir
from ckrv.server.identity.signing_key import create_signing_key
from ckrv.server.vault.master_keys import create_master_keys


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data dir (0700) and any missing key file (0600); refuse exposed key files."""
    private_dir(data_dir)
    private_dir(data_dir / "keys")
    private_dir(data_dir / "artifacts")
    create_signing_key(data_dir)
    create_master_keys(data_dir)
