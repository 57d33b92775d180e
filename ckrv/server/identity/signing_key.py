"""The Ed25519 key that signs access and worker tokens: `data_dir/keys/jwt-ed25519.pem`, 0600,
created on first start and never stored in the database."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ckrv.errors import ConfigError
from ckrv.fileutil import check_private, write_private


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    public: Ed25519PublicKey
    kid: str


def signing_key_path(data_dir: Path) -> Path:
    return data_dir / "keys" / "jwt-ed25519.pem"


def create_signing_key(data_dir: Path) -> None:
    """Write a new signing key unless one exists (never replaces one: tokens would break)."""
    path = signing_key_path(data_dir)
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(path, pem, exclusive=True)
    check_private(path)


def load_signing_key(data_dir: Path) -> SigningKey:
    path = signing_key_path(data_dir)
    check_private(path)
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 private key")
    public = private.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(private, public, hashlib.sha256(raw).hexdigest()[:16])
