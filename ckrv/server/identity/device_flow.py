"""The device authorization grant (RFC 8628): codes, their states, and the polling rules."""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from datetime import datetime, timedelta
from typing import Any

from ckrv.errors import (
    AccessDenied,
    AuthorizationPending,
    ExpiredToken,
    InvalidGrant,
    OAuthError,
    SlowDown,
)
from ckrv.server.identity.tokens import token_hash
from ckrv.timeutil import iso, parse_iso, utcnow

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
SLOW_DOWN_STEP = 5


def new_user_code() -> str:
    letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def normalize_user_code(text: str) -> str:
    """`wdjb mjht`, `WDJBMJHT` and `WDJB-MJHT` all name the same code."""
    letters = "".join(ch for ch in text.upper() if ch.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


def create(
    conn: sqlite3.Connection, client_id: str, client_addr: str, ttl: float, interval: int
) -> dict[str, Any]:
    device_code = secrets.token_urlsafe(32)  # 256 bits; only its hash is stored
    now = utcnow()
    for _attempt in range(10):
        user_code = new_user_code()
        if not conn.execute(
            "SELECT 1 FROM device_codes WHERE user_code = ?", (user_code,)
        ).fetchone():
            break
    conn.execute(
        "INSERT INTO device_codes (id, device_code_hash, user_code, client_id, client_addr,"
        " created_at, expires_at, interval) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            uuid.uuid4().hex,
            token_hash(device_code),
            user_code,
            client_id,
            client_addr,
            iso(now),
            iso(now + timedelta(seconds=ttl)),
            interval,
        ),
    )
    return {
        "device_code": device_code,
        "user_code": user_code,
        "expires_in": int(ttl),
        "interval": interval,
    }


def poll(
    conn: sqlite3.Connection, device_code: str, client_id: str, now: datetime
) -> str | OAuthError:
    """The approving user's id (once), or the RFC 8628 error for a poll at `now`. The error is
    returned, not raised: the writer rolls back a call that raises, and a poll's bookkeeping (its
    time, a raised interval) must be committed whatever the poll answers."""
    try:
        return _poll(conn, device_code, client_id, now)
    except OAuthError as exc:
        return exc


def _poll(conn: sqlite3.Connection, device_code: str, client_id: str, now: datetime) -> str:
    row = conn.execute(
        "SELECT * FROM device_codes WHERE device_code_hash = ?", (token_hash(device_code),)
    ).fetchone()
    if row is None or row["client_id"] != client_id:
        raise InvalidGrant("unknown device code")
    if row["status"] == "consumed":
        raise InvalidGrant("this device code was already used")
    if parse_iso(row["expires_at"]) <= now:  # type: ignore[operator]
        raise ExpiredToken("the device code has expired; start the login again")
    if row["status"] == "denied":
        raise AccessDenied("the request was denied in the browser")
    last = parse_iso(row["last_poll_at"])
    if (
        row["status"] == "pending"
        and last is not None
        and (now - last).total_seconds() < row["interval"]
    ):
        conn.execute(
            "UPDATE device_codes SET interval = interval + ?, last_poll_at = ? WHERE id = ?",
            (SLOW_DOWN_STEP, iso(now), row["id"]),
        )
        raise SlowDown(f"polling too fast; wait {row['interval'] + SLOW_DOWN_STEP} s")
    conn.execute("UPDATE device_codes SET last_poll_at = ? WHERE id = ?", (iso(now), row["id"]))
    if row["status"] == "pending":
        raise AuthorizationPending("waiting for the user to approve in the browser")
    conn.execute("UPDATE device_codes SET status = 'consumed' WHERE id = ?", (row["id"],))
    return str(row["user_id"])


def find_pending(conn: sqlite3.Connection, user_code: str) -> sqlite3.Row | None:
    """The code's row while it waits for a decision (pending and unexpired), else None."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM device_codes WHERE user_code = ?", (normalize_user_code(user_code),)
    ).fetchone()
    if row is None or row["status"] != "pending":
        return None
    expires = parse_iso(row["expires_at"])
    return row if expires is not None and expires > utcnow() else None


def decide(conn: sqlite3.Connection, user_code: str, user_id: str, approve: bool) -> bool:
    row = find_pending(conn, user_code)
    if row is None:
        return False
    conn.execute(
        "UPDATE device_codes SET status = ?, user_id = ? WHERE id = ?",
        ("approved" if approve else "denied", user_id, row["id"]),
    )
    return True


def delete_expired(conn: sqlite3.Connection, now: str | None) -> None:
    conn.execute("DELETE FROM device_codes WHERE expires_at < ?", (now,))
