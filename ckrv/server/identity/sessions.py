"""Browser sessions of the device-flow activation page (the `web_sessions` table): a signed-in
browser holds a random session cookie; only its hash is stored, with the form's CSRF token.
A user code the browser confirmed (through the throttled code form) is bound to the session by
a signature over both, which the approve/deny form carries back."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3

from ckrv.server.identity.tokens import token_hash
from ckrv.timeutil import iso, utcnow


def create_session(
    conn: sqlite3.Connection, session: str, user_id: str, csrf_token: str, expires_at: str | None
) -> None:
    conn.execute(
        "INSERT INTO web_sessions (session_hash, user_id, csrf_token, expires_at)"
        " VALUES (?, ?, ?, ?)",
        (token_hash(session), user_id, csrf_token, expires_at),
    )


def find_session(conn: sqlite3.Connection, session: str) -> sqlite3.Row | None:
    """The unexpired session (user_id, csrf_token...) of the cookie `session`, or None; None
    too while its user is disabled."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT s.* FROM web_sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.session_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL",
        (token_hash(session), iso(utcnow())),
    ).fetchone()
    return row


def end_user_sessions(conn: sqlite3.Connection, user_id: str) -> None:
    """Sign the user out of every browser."""
    conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))


def delete_expired(conn: sqlite3.Connection, now: str | None) -> None:
    conn.execute("DELETE FROM web_sessions WHERE expires_at < ?", (now,))


def confirmation(key: bytes, session: str, user_code: str) -> str:
    """The proof that the browser holding `session` confirmed `user_code` on the code form."""
    message = f"confirmed\0{session}\0{user_code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def confirmed(key: bytes, session: str, user_code: str, proof: str) -> bool:
    return hmac.compare_digest(confirmation(key, session, user_code).encode(), proof.encode())


def delete_session(conn: sqlite3.Connection, session: str) -> None:
    """Sign the browser holding the cookie `session` out."""
    conn.execute("DELETE FROM web_sessions WHERE session_hash = ?", (token_hash(session),))


# A session's public id (the settings page lists and ends sessions by it): the start of its
# hash, which tells nothing about the cookie.
_ID_LENGTH = 16


def public_id(session: str) -> str:
    return token_hash(session)[:_ID_LENGTH] if session else ""


def user_sessions(conn: sqlite3.Connection, user_id: str) -> list[dict[str, str]]:
    """The user's unexpired browser sessions (public id and expiry), latest expiry first."""
    rows = conn.execute(
        "SELECT session_hash, expires_at FROM web_sessions WHERE user_id = ? AND expires_at > ?"
        " ORDER BY expires_at DESC",
        (user_id, iso(utcnow())),
    ).fetchall()
    return [{"id": r["session_hash"][:_ID_LENGTH], "expires_at": r["expires_at"]} for r in rows]


def end_session_by_id(conn: sqlite3.Connection, user_id: str, session_id: str) -> bool:
    """Sign out the user's browser whose session has this public id; False if none has."""
    if len(session_id) != _ID_LENGTH:
        return False
    cur = conn.execute(
        "DELETE FROM web_sessions WHERE user_id = ? AND substr(session_hash, 1, ?) = ?",
        (user_id, _ID_LENGTH, session_id),
    )
    return cur.rowcount > 0
