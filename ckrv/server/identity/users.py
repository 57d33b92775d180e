"""Users, tiers and the monthly job quota. Functions take a connection so the server's writer
and the `ckrv admin` commands share them."""

from __future__ import annotations

import asyncio
import calendar
import functools
import logging
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ckrv.errors import (
    AccountDisabled,
    CkrvError,
    InvalidToken,
    NotFound,
    QuotaExceeded,
    UsageError,
)
from ckrv.server import serverlog
from ckrv.server.storage.database import Database
from ckrv.timeutil import iso, parse_iso, utcnow


@dataclass(frozen=True)
class Tier:
    name: str
    jobs_per_cycle: int
    overage_allowed: bool


TIERS = {
    "free": Tier("free", 10, False),
    "pro": Tier("pro", 100, True),
    "enterprise": Tier("enterprise", 1000, True),
}

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@functools.cache
def _hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's defaults; imported on first use (CLI paths never need it)."""
    from argon2 import PasswordHasher

    return PasswordHasher()


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def cycle_bounds(created_at: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The billing cycle containing `now`, renewing monthly from the user's start date. Every
    bound is counted from the start date, so one on the 31st renews on the last day of shorter
    months and is back on the 31st after them."""
    start, end, _end_text = _current_cycle(iso(created_at) or "", now)
    return start, end


def _cycle_number(created_at: datetime, now: datetime) -> int:
    return max((now.year - created_at.year) * 12 + now.month - created_at.month, 0)


@functools.lru_cache(maxsize=4096)
def _cycle(created_at: str, number: int) -> tuple[datetime, datetime, str]:
    """(start, end, end as ISO text) of cycle `number` (0 = the first). A pure function,
    memoized: /users/me asks on every call and the answer changes once a month."""
    created = parse_iso(created_at)
    assert created is not None
    number = max(number, 0)
    end = add_months(created, number + 1)
    return add_months(created, number), end, iso(end) or ""


def _current_cycle(created_at: str, now: datetime) -> tuple[datetime, datetime, str]:
    created = parse_iso(created_at)
    assert created is not None
    number = _cycle_number(created, now)
    bounds = _cycle(created_at, number)
    # Earlier in the month than the start date: still the previous cycle.
    return _cycle(created_at, number - 1) if bounds[0] > now else bounds


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(row: sqlite3.Row | None, password: str) -> tuple[bool, str | None]:
    """(matches, new hash when argon2's parameters changed). CPU-heavy: run it off the loop."""
    if row is None or not row["password_hash"]:
        _hasher().hash(password)  # same cost whether or not the account exists
        return False, None
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        _hasher().verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, hash_password(password) if _hasher().check_needs_rehash(
        row["password_hash"]
    ) else None


async def authenticate(db: Database, email: str, password: str) -> sqlite3.Row | None:
    """The user row when email and password match (argon2 runs in a thread, not in a write);
    AccountDisabled when they match a disabled account (said only to whoever knows the
    password, so it tells a guesser nothing)."""
    row = db.read_one("SELECT * FROM users WHERE email = ?", (email.strip(),))
    matches, new_hash = await asyncio.to_thread(verify_password, row, password)
    if not matches or row is None:
        serverlog.event(
            serverlog.auth,
            "login.failed",
            f"login failed for {email.strip()}",
            logging.WARNING,
            user=email.strip(),
            known_user=row is not None,
        )
        return None
    require_enabled(row)
    serverlog.event(
        serverlog.auth,
        "login.succeeded",
        f"login of {row['email']}",
        user=row["email"],
        user_id=row["id"],
    )
    if new_hash is not None:
        user_id = row["id"]
        await db.write(
            lambda c: c.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (new_hash, user_id)
            )
        )
    return row


def add_user(
    conn: sqlite3.Connection,
    email: str,
    name: str,
    tier: str,
    password_hash: str | None,
    admin: bool = False,
) -> str:
    if tier not in TIERS:
        raise UsageError(f"unknown tier {tier!r}: use one of {', '.join(TIERS)}")
    if "@" not in email or len(email) > 254 or email != email.strip():
        raise UsageError(f"{email!r} is not an email address")
    if conn.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone():
        raise UsageError(f"a user with email {email} already exists")
    user_id = str(uuid.uuid4())
    now = iso(utcnow())
    conn.execute(
        "INSERT INTO users (id, email, name, password_hash, tier, created_at, cycle_start)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (user_id, email, name, password_hash, tier, now, now),
    )
    if admin:
        conn.execute("UPDATE users SET admin = 1 WHERE id = ?", (user_id,))
    return user_id


def count_users(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM users").fetchone()[0])


def find_user(conn: sqlite3.Connection, user_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM users WHERE id = ?", (user_id,)
    ).fetchone()
    return row


def all_users(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every user, oldest first (`ckrv admin user list`)."""
    return conn.execute("SELECT * FROM users ORDER BY created_at").fetchall()


def get_user(conn: sqlite3.Connection, email: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()
    if row is None:
        raise NotFound(f"no user with email {email}", hint="list users with: ckrv admin user list")
    return row  # type: ignore[no-any-return]


def set_tier(conn: sqlite3.Connection, email: str, tier: str) -> None:
    if tier not in TIERS:
        raise UsageError(f"unknown tier {tier!r}: use one of {', '.join(TIERS)}")
    get_user(conn, email)
    conn.execute("UPDATE users SET tier = ? WHERE email = ?", (tier, email))


def set_admin(conn: sqlite3.Connection, email: str, admin: bool) -> None:
    get_user(conn, email)
    conn.execute("UPDATE users SET admin = ? WHERE email = ?", (int(admin), email))


def set_disabled(conn: sqlite3.Connection, email: str, disabled: bool) -> None:
    """Disable (or enable) an account: a disabled one cannot sign in, and every token and
    browser session it holds is refused while it stays disabled (`require_enabled`)."""
    get_user(conn, email)
    conn.execute(
        "UPDATE users SET disabled_at = ? WHERE email = ?",
        (iso(utcnow()) if disabled else None, email),
    )


def set_password(conn: sqlite3.Connection, email: str, password_hash: str) -> str:
    """Replace the password; the user's id."""
    user_id = str(get_user(conn, email)["id"])
    conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))
    return user_id


def delete_user(conn: sqlite3.Connection, user_id: str) -> None:
    """Delete the row; the schema's foreign keys delete the user's jobs, credentials, secrets,
    tokens, sessions and device codes with it (admin.remove_user does the rest)."""
    conn.execute("DELETE FROM users WHERE id = ?", (user_id,))


def account_state(conn: sqlite3.Connection, user_id: str) -> sqlite3.Row | None:
    """The user's `disabled_at` and `admin`, or None when the user no longer exists."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT disabled_at, admin FROM users WHERE id = ?", (user_id,)
    ).fetchone()
    return row


def require_enabled(row: sqlite3.Row | None) -> None:
    """Refuse a request on behalf of a removed (401) or disabled (403) account."""
    if row is None:
        raise InvalidToken("the user of this token no longer exists")
    if row["disabled_at"] is not None:
        raise AccountDisabled(f"this account is disabled (since {row['disabled_at'][:16]})")


def _current_usage(row: sqlite3.Row, now: datetime) -> tuple[int, datetime, datetime, str]:
    """Jobs used in the current cycle, and its bounds (a past cycle's usage counts as 0)."""
    start, end, end_text = _current_cycle(row["created_at"], now)
    stored_start = parse_iso(row["cycle_start"])
    used = row["jobs_used"] if stored_start is not None and stored_start >= start else 0
    return used, start, end, end_text


def profile(row: sqlite3.Row) -> dict[str, Any]:
    used, _start, _end, end_text = _current_usage(row, utcnow())
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"] or None,  # the contract's client shows "" as an empty name
        "subscription_tier": row["tier"],
        "job_quota_remaining": max(TIERS[row["tier"]].jobs_per_cycle - used, 0),
        "jobs_used": used,
        "billing_cycle_end": end_text,
    }


def spend_quota(
    conn: sqlite3.Connection,
    user_id: str,
    upgrade_url: str,
    wanted: int = 1,
    *,
    whole: bool = False,
) -> tuple[int, CkrvError | None]:
    """Count up to `wanted` jobs against the user's cycle in one read and one write: how many
    fit, and the refusal for the rest (a spent free tier; InvalidToken for a user who no
    longer exists, whose login token may outlive them). `whole`: all of them or none (a group
    of attempts), the refusal saying how many were needed and left. Called inside the job
    inserts' transaction so the check and the decrement are atomic."""
    row = conn.execute(
        "SELECT tier, created_at, cycle_start, jobs_used FROM users WHERE id = ?", (user_id,)
    ).fetchone()
    if row is None:
        return 0, InvalidToken("the user of this token no longer exists")
    used, start, end, _end_text = _current_usage(row, utcnow())
    tier = TIERS[row["tier"]]
    left = max(tier.jobs_per_cycle - used, 0)
    granted = wanted if tier.overage_allowed else min(wanted, left)
    if whole and granted < wanted:
        return 0, QuotaExceeded(
            f"this group needs {wanted} jobs, and {left} of the {tier.name} tier's"
            f" {tier.jobs_per_cycle} jobs per month are left; it resets at {iso(end)}."
            " No job was created",
            resets_at=iso(end),
            upgrade_url=upgrade_url or None,
            jobs_needed=wanted,
            jobs_left=left,
        )
    if granted:
        conn.execute(
            "UPDATE users SET jobs_used = ?, cycle_start = ? WHERE id = ?",
            (used + granted, iso(start), user_id),
        )
    if granted == wanted:
        return granted, None
    refusal = QuotaExceeded(
        f"job quota of the {tier.name} tier ({tier.jobs_per_cycle} jobs per month) is used up;"
        f" it resets at {iso(end)}",
        resets_at=iso(end),
        upgrade_url=upgrade_url,
    )
    return granted, refusal


def refund_quota(conn: sqlite3.Connection, user_id: str, job_created_at: str) -> None:
    """Give back one job of the user's current cycle (a job created in an earlier cycle was
    counted there, and that count is already gone). Called in the write that ends the job."""
    row = conn.execute(
        "SELECT created_at, cycle_start, jobs_used FROM users WHERE id = ?", (user_id,)
    ).fetchone()
    if row is None:
        return
    used, start, _end, _end_text = _current_usage(row, utcnow())
    created = parse_iso(job_created_at)
    if used > 0 and created is not None and created >= start:
        conn.execute("UPDATE users SET jobs_used = ? WHERE id = ?", (used - 1, user_id))
