"""Secrets at rest: AES-256-GCM, a fresh 12-byte nonce each time, the owner and row id bound as
associated data so a ciphertext copied to another row does not decrypt (docs/security.md item 14)."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ckrv.errors import CkrvError
from ckrv.server.vault.master_keys import MasterKeys


def _aad(user_id: str, row_id: str, kind: str) -> bytes:
    return f"ckrv:{kind}:{user_id}:{row_id}".encode()


def seal(
    keys: MasterKeys, plaintext: str, *, user_id: str, row_id: str, kind: str
) -> tuple[bytes, int]:
    version = keys.current_version
    nonce = os.urandom(12)
    sealed = AESGCM(keys.get(version)).encrypt(
        nonce, plaintext.encode(), _aad(user_id, row_id, kind)
    )
    return nonce + sealed, version


def unseal(
    keys: MasterKeys, blob: bytes, version: int, *, user_id: str, row_id: str, kind: str
) -> str:
    try:
        plain = AESGCM(keys.get(version)).decrypt(blob[:12], blob[12:], _aad(user_id, row_id, kind))
    except InvalidTag as exc:
        raise CkrvError(f"stored {kind} {row_id} does not decrypt (tampered, or moved)") from exc
    return plain.decode()
