"""Git credentials and agent secrets at rest: validated, sealed with the master key (the owner and
row id bound as associated data), listed by name only, decrypted only for a job's launch.

Functions take a connection, so the server's single writer, its read connections and `ckrv
admin` share them. Values are sealed inside the write function: a rotation that holds the write
lock can then never miss a row sealed under a key it is about to drop.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from ckrv.contracts.credentials import CREDENTIAL_TYPES, PROVIDERS
from ckrv.errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge
from ckrv.server.vault.crypto import seal, unseal
from ckrv.server.vault.master_keys import MasterKeys
from ckrv.timeutil import iso, utcnow

CREDENTIAL_NAME = re.compile(r"^[a-z0-9-]{1,50}$")
SECRET_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
MAX_CREDENTIAL_BYTES = 16 * 1024
MAX_SECRET_BYTES = 64 * 1024
_SEAL_OVERHEAD = 12 + 16  # crypto.seal: the nonce before the ciphertext, the GCM tag after
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")


class AlreadyExists(Conflict):
    """A credential with that name already exists for this user."""


@dataclass(frozen=True)
class Credential:
    id: str
    name: str
    provider: str
    credential_type: str
    value: str


def credential_summary(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "name": row["name"],
        "provider": row["provider"],
        "credential_type": row["credential_type"],
        "created_at": row["created_at"],
        "last_used_at": row["last_used_at"],
    }


def check_credential(name: str, provider: str, credential_type: str, value: str) -> str:
    """Refuse what cannot work; return the value as it will be stored."""
    if not CREDENTIAL_NAME.match(name):
        raise InvalidRequest(f"credential name {name!r} must be 1-50 of a-z, 0-9 and '-'")
    if provider not in PROVIDERS:
        raise InvalidRequest(f"provider must be one of {', '.join(PROVIDERS)}")
    if credential_type not in CREDENTIAL_TYPES:
        raise InvalidRequest(f"credential_type must be one of {', '.join(CREDENTIAL_TYPES)}")
    if len(value.encode()) > MAX_CREDENTIAL_BYTES:
        raise InvalidRequest(f"the credential value is larger than {MAX_CREDENTIAL_BYTES} bytes")
    if credential_type == "pat":
        return _check_token(value)
    return _check_private_key(value)


def _check_token(value: str) -> str:
    token = value.strip()
    if not token:
        raise InvalidRequest("the token is empty")
    if any(ch.isspace() or ord(ch) < 32 for ch in token):
        raise InvalidRequest(
            "a token is one line without spaces; for an ssh private key use "
            "credential_type deploy_key"
        )
    return token


def _check_private_key(value: str) -> str:
    # Imported on first use: cryptography's key loaders take a while to load, and only adding
    # a deploy key needs them.
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import (
        load_pem_private_key,
        load_ssh_private_key,
    )

    key = value.strip().replace("\r\n", "\n") + "\n"
    if not _PRIVATE_KEY.search(key):
        raise InvalidRequest(
            "a deploy key must be an unencrypted ssh private key "
            "(-----BEGIN OPENSSH PRIVATE KEY----- ...)"
        )
    load = load_ssh_private_key if "OPENSSH PRIVATE KEY" in key else load_pem_private_key
    try:
        load(key.encode(), password=None)
    except TypeError as exc:  # cryptography's way of saying "needs a password"
        raise InvalidRequest(
            "this private key is protected by a passphrase, which a job cannot "
            "type: create a deploy key without one (ssh-keygen -N '')"
        ) from exc
    except UnsupportedAlgorithm:
        pass  # a key type ssh knows and cryptography does not: let ssh judge it
    except ValueError as exc:
        raise InvalidRequest(f"the deploy key is not a valid private key ({exc})") from exc
    return key


# --- credentials ------------------------------------------------------------------------------


def create_credential(
    conn: sqlite3.Connection,
    keys: MasterKeys,
    user_id: str,
    name: str,
    provider: str,
    credential_type: str,
    value: str,
) -> dict[str, Any]:
    stored = check_credential(name, provider, credential_type, value)
    row_id = str(uuid.uuid4())
    blob, version = seal(keys, stored, user_id=user_id, row_id=row_id, kind="credential")
    try:
        conn.execute(
            "INSERT INTO credentials (id, user_id, name, provider, credential_type, ciphertext,"
            " key_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (row_id, user_id, name, provider, credential_type, blob, version, iso(utcnow())),
        )
    except sqlite3.IntegrityError as exc:
        raise AlreadyExists(
            f"you already have a credential named {name!r}",
            hint=f"remove it first: ckrv cloud credentials remove {name}",
        ) from exc
    row = conn.execute("SELECT * FROM credentials WHERE id = ?", (row_id,)).fetchone()
    return credential_summary(row)


def list_credentials(conn: sqlite3.Connection, user_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT name, provider, credential_type, created_at, last_used_at"
        " FROM credentials WHERE user_id = ? ORDER BY name",
        (user_id,),
    )
    return [credential_summary(row) for row in rows]


def find_credential(conn: sqlite3.Connection, user_id: str, name: str) -> sqlite3.Row | None:
    """The row (id, provider, credential_type...) of the user's credential `name`, or None.
    POST /jobs uses it to resolve --credential NAME to the id stored on the job."""
    return conn.execute(  # type: ignore[no-any-return]
        "SELECT id, name, provider, credential_type FROM credentials WHERE user_id = ? AND name = ?",
        (user_id, name),
    ).fetchone()


def delete_credential(conn: sqlite3.Connection, user_id: str, name: str) -> None:
    cur = conn.execute("DELETE FROM credentials WHERE user_id = ? AND name = ?", (user_id, name))
    if cur.rowcount == 0:
        raise NotFound(f"no credential named {name!r}")


def load_credential(
    conn: sqlite3.Connection, keys: MasterKeys, user_id: str, credential_id: str
) -> Credential:
    row = conn.execute(
        "SELECT * FROM credentials WHERE id = ? AND user_id = ?", (credential_id, user_id)
    ).fetchone()
    if row is None:
        raise NotFound(
            "the job's git credential was removed before the job started",
            hint="add it again with `ckrv cloud credentials add` and rerun the job",
        )
    value = unseal(
        keys,
        row["ciphertext"],
        row["key_version"],
        user_id=user_id,
        row_id=row["id"],
        kind="credential",
    )
    return Credential(row["id"], row["name"], row["provider"], row["credential_type"], value)


def credential_kind(conn: sqlite3.Connection, credential_id: str) -> sqlite3.Row | None:
    """The credential's name, provider and credential_type (what a worker is told), or None."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT name, provider, credential_type FROM credentials WHERE id = ?", (credential_id,)
    ).fetchone()
    return row


def mark_credential_used(conn: sqlite3.Connection, credential_id: str) -> None:
    """Record that a job used the credential now (run it through the single writer)."""
    conn.execute(
        "UPDATE credentials SET last_used_at = ? WHERE id = ?", (iso(utcnow()), credential_id)
    )


# --- agent secrets ----------------------------------------------------------------------------


def check_secret(name: str, value: str) -> None:
    if not SECRET_NAME.match(name):
        raise InvalidRequest(
            f"secret name {name!r} must be an environment variable name: "
            "A-Z, 0-9 and _, not starting with a digit, at most 128 characters"
        )
    if name.startswith(("CKRV_", "GIT_")):
        raise InvalidRequest(
            f"secret names may not start with CKRV_ or GIT_ ({name!r}): ckrv and "
            "git use those variables themselves"
        )
    if not value:
        raise InvalidRequest("the secret value is empty")
    if len(value.encode()) > MAX_SECRET_BYTES:
        raise InvalidRequest(f"the secret value is larger than {MAX_SECRET_BYTES} bytes")
    if "\0" in value:
        raise InvalidRequest(
            "the secret value contains a NUL character, which an environment variable cannot hold"
        )


def secrets_fingerprint(
    conn: sqlite3.Connection, user_id: str, credential_id: str
) -> tuple[bytes, ...]:
    """What changes whenever the user's secrets or this credential change: the nonces of
    their sealed values (fresh at every write, rotation included), no value decrypted."""
    rows = conn.execute(
        "SELECT substr(ciphertext, 1, 12) FROM secrets WHERE user_id = ?"
        " UNION ALL SELECT substr(ciphertext, 1, 12) FROM credentials"
        " WHERE id = ? AND user_id = ? ORDER BY 1",
        (user_id, credential_id, user_id),
    )
    return tuple(bytes(row[0]) for row in rows)


def secrets_bytes(conn: sqlite3.Connection, user_id: str, leaving_out: str = "") -> int:
    """The bytes of the user's secrets, names and values (from the sealed values' lengths),
    without the secret named `leaving_out`."""
    row = conn.execute(
        "SELECT COALESCE(SUM(LENGTH(CAST(name AS BLOB)) + LENGTH(ciphertext) - ?), 0)"
        " FROM secrets WHERE user_id = ? AND name != ?",
        (_SEAL_OVERHEAD, user_id, leaving_out),
    ).fetchone()
    return int(row[0])


def check_secrets_total(
    conn: sqlite3.Connection, user_id: str, name: str, value: str, cap: int
) -> None:
    """Refuse (413, with the numbers) a secret that takes the user's total past `cap`: every
    agent secret is in the environment of the agent's `execve`, which the kernel bounds."""
    others = secrets_bytes(conn, user_id, leaving_out=name)
    adding = len(name.encode()) + len(value.encode())
    if others + adding > cap:
        raise PayloadTooLarge(
            f"your secrets would total {others + adding} bytes (names and values: "
            f"{others} in your other secrets, {adding} in {name}); this server allows "
            f"{cap} bytes in all (max_secrets_bytes): remove or shorten a secret first"
        )


def put_secret(
    conn: sqlite3.Connection,
    keys: MasterKeys,
    user_id: str,
    name: str,
    value: str,
    max_total: int | None = None,
) -> bool:
    """Create or replace the user's secret `name`; True when it was created. With
    `max_total`, the user's secrets may not total more bytes than that afterwards."""
    check_secret(name, value)
    if max_total is not None:
        check_secrets_total(conn, user_id, name, value, max_total)
    now = iso(utcnow())
    existing = conn.execute(
        "SELECT id FROM secrets WHERE user_id = ? AND name = ?", (user_id, name)
    ).fetchone()
    row_id = existing["id"] if existing else str(uuid.uuid4())
    blob, version = seal(keys, value, user_id=user_id, row_id=row_id, kind="secret")
    if existing:
        conn.execute(
            "UPDATE secrets SET ciphertext = ?, key_version = ?, updated_at = ? WHERE id = ?",
            (blob, version, now, row_id),
        )
    else:
        conn.execute(
            "INSERT INTO secrets (id, user_id, name, ciphertext, key_version, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row_id, user_id, name, blob, version, now, now),
        )
    return existing is None


def secret_summary(row: sqlite3.Row) -> dict[str, Any]:
    return {"name": row["name"], "created_at": row["created_at"], "updated_at": row["updated_at"]}


def list_secrets(conn: sqlite3.Connection, user_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT name, created_at, updated_at FROM secrets WHERE user_id = ? ORDER BY name",
        (user_id,),
    )
    return [secret_summary(row) for row in rows]


def get_secret_summary(conn: sqlite3.Connection, user_id: str, name: str) -> dict[str, Any]:
    row = conn.execute(
        "SELECT name, created_at, updated_at FROM secrets WHERE user_id = ? AND name = ?",
        (user_id, name),
    ).fetchone()
    if row is None:
        raise NotFound(f"no secret named {name!r}")
    return secret_summary(row)


def delete_secret(conn: sqlite3.Connection, user_id: str, name: str) -> None:
    cur = conn.execute("DELETE FROM secrets WHERE user_id = ? AND name = ?", (user_id, name))
    if cur.rowcount == 0:
        raise NotFound(f"no secret named {name!r}")


def load_secrets(conn: sqlite3.Connection, keys: MasterKeys, user_id: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT id, name, ciphertext, key_version FROM secrets WHERE user_id = ? ORDER BY name",
        (user_id,),
    )
    return {
        row["name"]: unseal(
            keys,
            row["ciphertext"],
            row["key_version"],
            user_id=user_id,
            row_id=row["id"],
            kind="secret",
        )
        for row in rows
    }


# --- master key rotation (rotation.py): rows of either table, re-sealed under a new version ---

SealedTable = Literal["credentials", "secrets"]


def sealed_under_other_versions(
    conn: sqlite3.Connection, table: SealedTable, version: int
) -> list[sqlite3.Row]:
    """(id, user_id, ciphertext, key_version) of the rows not sealed under `version`."""
    return conn.execute(
        f"SELECT id, user_id, ciphertext, key_version FROM {table} WHERE key_version != ?",
        (version,),
    ).fetchall()


def reseal(
    conn: sqlite3.Connection, table: SealedTable, row_id: str, ciphertext: bytes, version: int
) -> None:
    conn.execute(
        f"UPDATE {table} SET ciphertext = ?, key_version = ? WHERE id = ?",
        (ciphertext, version, row_id),
    )
