"""Tokens. Access and worker tokens are short-lived EdDSA JWTs: the algorithm is pinned here and
never read from the header, and `iss`, `aud`, `exp` and `typ` are checked (RFC 8725). Refresh
and API tokens are opaque random strings stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from ckrv.errors import InvalidGrant, InvalidToken
from ckrv.server.identity.signing_key import SigningKey
from ckrv.timeutil import iso, parse_iso, utcnow

ALGORITHM = "EdDSA"
API_AUDIENCE = "ckrv-api"
WORKER_AUDIENCE = "ckrv-worker"
REFRESH_PREFIX = "ckrv_rt_"
API_TOKEN_PREFIX = "ckrv_pat_"
_CACHE_SIZE = 4096


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class TokenIssuer:
    key: SigningKey
    issuer: str
    access_ttl: float

    def __post_init__(self) -> None:
        # Verified tokens are remembered (until they expire) so a busy CLI does not pay an
        # Ed25519 verification on every request.
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def _sign(self, claims: dict[str, Any], ttl: float) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "iat": now, "exp": now + int(ttl), **claims}
        return jwt.encode(
            claims, self.key.private, algorithm=ALGORITHM, headers={"kid": self.key.kid}
        )

    def access_token(self, user_id: str) -> str:
        return self._sign(
            {"sub": user_id, "aud": API_AUDIENCE, "typ": "access", "jti": uuid.uuid4().hex},
            self.access_ttl,
        )

    def worker_token(self, job_id: str, ttl: float, attempt: str = "") -> str:
        """A token for one dispatch attempt of one job; a superseded attempt's token is refused."""
        return self._sign(
            {"sub": job_id, "aud": WORKER_AUDIENCE, "typ": "worker", "jti": attempt}, ttl
        )

    def verify(self, token: str, *, audience: str, typ: str) -> dict[str, Any]:
        cached = self._verified.get(token)
        if cached is not None and cached["exp"] > time.time():
            if cached["aud"] != audience or cached["typ"] != typ:
                raise InvalidToken("token is not valid for this use")
            return cached
        claims = self._decode(token, audience)
        if claims.get("typ") != typ:
            raise InvalidToken("token is not valid for this use")
        self._verified[token] = claims
        if len(self._verified) > _CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    def _decode(self, token: str, audience: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.key.kid:
                raise InvalidToken("token was signed by an unknown key")
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key.public,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token has expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken(f"token rejected: {exc}") from exc
        except jwt.DecodeError as exc:  # not a JWT at all: say so, not the parser's words
            raise InvalidToken("the token is malformed (not a ckrv access or API token)") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"token rejected: {exc}") from exc
        return claims


# --- refresh tokens: rotated on every use, a replayed one revokes its family (RFC 9700) ---


def new_refresh_token(
    conn: sqlite3.Connection,
    user_id: str,
    client_id: str,
    ttl: float,
    family: tuple[str, str] | None = None,
) -> str:
    token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    family_id, family_expires = family or (uuid.uuid4().hex, iso(utcnow() + timedelta(seconds=ttl)))
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, client_id, created_at,"
        " family_expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        (token_hash(token), user_id, family_id, client_id, iso(utcnow()), family_expires),
    )
    return token


def rotate_refresh_token(
    conn: sqlite3.Connection, token: str, ttl: float
) -> tuple[str, str] | InvalidGrant:
    """Spend `token` and return (user_id, new refresh token). Runs in the writer's transaction,
    so two concurrent refreshes of one token cannot both succeed. A refusal is returned, not
    raised: the writer rolls back a call that raises, and a replay's family revocation must be
    committed."""
    try:
        return _rotate(conn, token, ttl)
    except InvalidGrant as exc:
        return exc


def _rotate(conn: sqlite3.Connection, token: str, ttl: float) -> tuple[str, str]:
    row = conn.execute(
        "SELECT r.*, u.disabled_at FROM refresh_tokens r JOIN users u ON u.id = r.user_id"
        " WHERE r.token_hash = ?",
        (token_hash(token),),
    ).fetchone()
    if row is None:
        raise InvalidGrant("unknown refresh token")
    if row["revoked_at"] is not None:
        raise InvalidGrant("refresh token was revoked; log in again")
    if row["disabled_at"] is not None:  # left unspent: the login works again once enabled
        raise InvalidGrant("this account is disabled; ask an administrator of this server")
    if row["used_at"] is not None:
        revoke_family(conn, row["family_id"])
        raise InvalidGrant(
            "refresh token was already used; every token of this login is now revoked"
        )
    if parse_iso(row["family_expires_at"]) <= utcnow():  # type: ignore[operator]
        raise InvalidGrant("login has expired; log in again")
    conn.execute(
        "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?",
        (iso(utcnow()), row["token_hash"]),
    )
    new = new_refresh_token(
        conn,
        row["user_id"],
        row["client_id"],
        ttl,
        family=(row["family_id"], row["family_expires_at"]),
    )
    return row["user_id"], new


def revoke_family(conn: sqlite3.Connection, family_id: str) -> None:
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
        (iso(utcnow()), family_id),
    )


def revoke_user_logins(conn: sqlite3.Connection, user_id: str) -> None:
    """Revoke every CLI login (refresh token family) of the user."""
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        (iso(utcnow()), user_id),
    )


def revoke_refresh_token(conn: sqlite3.Connection, token: str) -> bool:
    row = conn.execute(
        "SELECT family_id FROM refresh_tokens WHERE token_hash = ?", (token_hash(token),)
    ).fetchone()
    if row is None:
        return False
    revoke_family(conn, row["family_id"])
    return True


# --- API tokens: long-lived, for CI (`ckrv admin token create`) ---


def create_api_token(conn: sqlite3.Connection, user_id: str, ttl: float | None) -> tuple[str, str]:
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = uuid.uuid4().hex[:12]
    expires = iso(utcnow() + timedelta(seconds=ttl)) if ttl else None
    conn.execute(
        "INSERT INTO api_tokens (id, token_hash, user_id, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (token_id, token_hash(token), user_id, iso(utcnow()), expires),
    )
    return token_id, token


def find_api_token(conn: sqlite3.Connection, token: str) -> sqlite3.Row | None:
    """The token's user_id, revoked_at, expires_at (api_token_user judges them), token_id and
    last_used_at, with its user's disabled_at, or None."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT t.user_id, t.revoked_at, t.expires_at, t.id AS token_id, t.last_used_at,"
        " u.disabled_at FROM api_tokens t JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = ?",
        (token_hash(token),),
    ).fetchone()
    return row


def user_by_api_token(conn: sqlite3.Connection, token: str) -> sqlite3.Row | None:
    """The token's user row with the token's user_id, revoked_at, expires_at, token_id and
    last_used_at, in one read (the token's columns do not clash with the user's)."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT u.*, t.user_id, t.revoked_at, t.expires_at, t.id AS token_id, t.last_used_at"
        " FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
        (token_hash(token),),
    ).fetchone()
    return row


def list_api_tokens(conn: sqlite3.Connection, email: str | None) -> list[sqlite3.Row]:
    """Every API token (of the user with `email`, when given), oldest first, with its user's
    email; never the token itself (only its hash is stored)."""
    sql = (
        "SELECT t.id, u.email, t.created_at, t.expires_at, t.revoked_at, t.last_used_at"
        " FROM api_tokens t JOIN users u ON u.id = t.user_id"
    )
    return conn.execute(
        sql + (" WHERE u.email = ?" if email else "") + " ORDER BY t.created_at",
        (email,) if email else (),
    ).fetchall()


def revoke_api_token(conn: sqlite3.Connection, token_id: str, user_id: str | None = None) -> bool:
    """Revoke the token (only when `user_id` owns it, when given); False when no such active
    token exists."""
    cur = conn.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        " AND (? IS NULL OR user_id = ?)",
        (iso(utcnow()), token_id, user_id, user_id),
    )
    return cur.rowcount > 0


def touch_api_token(conn: sqlite3.Connection, token_id: str, now: str, before: str) -> None:
    """Record that the token was used at `now`, unless that was already recorded after
    `before` (a busy CI token costs one write a minute, not one per request)."""
    conn.execute(
        "UPDATE api_tokens SET last_used_at = ? WHERE id = ?"
        " AND (last_used_at IS NULL OR last_used_at < ?)",
        (now, token_id, before),
    )


def api_token_user(row: sqlite3.Row | None) -> str:
    if row is None or row["revoked_at"] is not None:
        raise InvalidToken("unknown or revoked API token")
    expires = parse_iso(row["expires_at"])
    if expires is not None and expires <= utcnow():
        raise InvalidToken("API token has expired")
    return str(row["user_id"])
