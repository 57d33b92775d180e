"""`ckrv admin rotate-key`: a new master key version, every credential and secret re-encrypted
under it in one transaction, then the old versions dropped from the key file (docs/security.md item 15).

Safe while the server runs, in this order:
1. the key file gets the new version next to the old ones; from then on the server (which
   re-reads a changed key file before sealing) seals everything new under the new version;
2. one `BEGIN IMMEDIATE` transaction re-encrypts every row not yet under the new version. It
   waits for the server's writer, and values are sealed inside write transactions, so no row
   sealed under an old version can commit after it;
3. only once no row is left under an old version, the old versions leave the key file. The
   server keeps the versions it has read in memory, so requests in flight still decrypt.
A crash at any point leaves every row readable with the key file as it is on disk.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ckrv.errors import CkrvError, ConfigError
from ckrv.server.admin import open_db
from ckrv.server.storage.database import run_in_transaction
from ckrv.server.vault.crypto import seal, unseal
from ckrv.server.vault.master_keys import (
    MASTER_KEY_ENV,
    MasterKeys,
    load_master_keys,
    save_master_keys,
)
from ckrv.server.vault.store import SealedTable, reseal, sealed_under_other_versions

_TABLES: dict[SealedTable, str] = {"credentials": "credential", "secrets": "secret"}


@dataclass(frozen=True)
class Rotation:
    new_version: int
    credentials: int
    secrets: int
    dropped_versions: tuple[int, ...]


def rotate_master_key(data_dir: Path) -> Rotation:
    if MASTER_KEY_ENV in os.environ:
        raise ConfigError(
            f"the master key comes from {MASTER_KEY_ENV}, so ckrv cannot rewrite it",
            hint="rotate by hand: add a `2:<base64 key>` line to the variable, "
            "restart, and re-run this command with a key file instead",
        )
    with open_db(data_dir) as conn:
        old = load_master_keys(data_dir)
        new_version = max(old.keys) + 1
        new_key = secrets.token_bytes(32)
        staged = MasterKeys({**old.keys, new_version: new_key})
        save_master_keys(data_dir, staged)
        counts = run_in_transaction(conn, lambda c: _reencrypt_all(c, staged, new_version))
        leftover = run_in_transaction(conn, lambda c: _reencrypt_all(c, staged, new_version))
        if any(leftover.values()):
            raise CkrvError(
                "rows sealed under an old key kept appearing during the rotation; "
                "the key file still holds every version, run the command again"
            )
        save_master_keys(data_dir, MasterKeys({new_version: new_key}))
    return Rotation(new_version, counts["credentials"], counts["secrets"], tuple(sorted(old.keys)))


def _reencrypt_all(conn: sqlite3.Connection, keys: MasterKeys, version: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table, kind in _TABLES.items():
        rows = sealed_under_other_versions(conn, table, version)
        for row in rows:
            aad = {"user_id": row["user_id"], "row_id": row["id"], "kind": kind}
            plain = unseal(keys, row["ciphertext"], row["key_version"], **aad)
            blob, used = seal(keys, plain, **aad)
            reseal(conn, table, row["id"], blob, used)
        counts[table] = len(rows)
    return counts
