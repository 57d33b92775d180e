"""Users, tiers and the monthly quota: the numbers /users/me reports, the billing cycle that
renews from the user's start date, and the free tier's hard stop."""

from __future__ import annotations

import calendar
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ckrv.errors import QuotaExceeded
from ckrv.server import admin
from ckrv.server.identity import users
from ckrv.server.storage.database import connect, run_in_transaction
from ckrv.timeutil import iso, parse_iso
from tests.support.helpers import add_user_direct, app_client

_moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)


@given(created=_moments, later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(3000)))
def test_cycle_contains_now_and_renews_on_the_start_day(
    created: datetime, later: timedelta
) -> None:
    created = created.replace(microsecond=created.microsecond // 1000 * 1000)  # stored precision
    now = created + later
    start, end = users.cycle_bounds(created, now)
    assert start <= now < end
    for bound in (start, end):
        last_day = calendar.monthrange(bound.year, bound.month)[1]
        assert bound.day == min(created.day, last_day)
        assert bound.time() == created.time()
    months = (end.year - start.year) * 12 + end.month - start.month
    assert months == 1


def test_a_start_on_the_31st_comes_back_after_short_months() -> None:
    created = datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert users.cycle_bounds(created, datetime(2026, 3, 29, tzinfo=UTC)) == (
        datetime(2026, 2, 28, 12, tzinfo=UTC),
        datetime(2026, 3, 31, 12, tzinfo=UTC),
    )


@pytest.mark.parametrize(("tier", "quota"), [("free", 10), ("pro", 100), ("enterprise", 1000)])
def test_users_me_reports_the_tier_quota(tmp_path: Path, tier: str, quota: int) -> None:
    data_dir = tmp_path / "data"
    with app_client(data_dir) as client:
        add_user_direct(data_dir, "ada@example.com", tier=tier)
        _token_id, token = admin.create_token(data_dir, "ada@example.com", None)
        me = client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["subscription_tier"] == tier
        assert me["job_quota_remaining"] == quota and me["jobs_used"] == 0
        assert me["email"] == "ada@example.com" and me["name"] == "ada"
        created = parse_iso(admin.list_users(data_dir)[0]["created_at"])
        assert created is not None
        assert me["billing_cycle_end"] == iso(users.add_months(created, 1))

        admin.set_tier(data_dir, "ada@example.com", "free" if tier != "free" else "pro")
        after = client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert after["job_quota_remaining"] == (10 if tier != "free" else 100)


def _spend(db: Path, user_id: str, times: int) -> None:
    conn = connect(db)
    try:
        for _ in range(times):
            _granted, refusal = run_in_transaction(
                conn, lambda c: users.spend_quota(c, user_id, "https://up.example")
            )
            if refusal is not None:
                raise refusal
    finally:
        conn.close()


def _user(db: Path, user_id: str) -> sqlite3.Row:
    conn = connect(db)
    try:
        return conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()  # type: ignore[no-any-return]
    finally:
        conn.close()


def test_free_tier_stops_at_ten_jobs(tmp_path: Path) -> None:
    user_id = add_user_direct(tmp_path, "free@example.com")
    db = tmp_path / "ckrv.db"
    _spend(db, user_id, 10)
    with pytest.raises(QuotaExceeded) as refused:
        _spend(db, user_id, 1)
    assert "10 jobs per month" in refused.value.message
    assert refused.value.upgrade_url == "https://up.example"
    assert users.profile(_user(db, user_id))["job_quota_remaining"] == 0
    assert users.profile(_user(db, user_id))["jobs_used"] == 10


def test_paid_tiers_allow_overage_and_count_it(tmp_path: Path) -> None:
    user_id = add_user_direct(tmp_path, "pro@example.com", tier="pro")
    db = tmp_path / "ckrv.db"
    _spend(db, user_id, 101)
    profile = users.profile(_user(db, user_id))
    assert profile["jobs_used"] == 101 and profile["job_quota_remaining"] == 0


def test_usage_resets_when_a_new_cycle_starts(tmp_path: Path) -> None:
    user_id = add_user_direct(tmp_path, "free@example.com")
    db = tmp_path / "ckrv.db"
    _spend(db, user_id, 10)
    # Move the account's start back 40 days: the jobs were counted in a cycle that has ended.
    started = iso(datetime.now(UTC) - timedelta(days=40))
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE users SET created_at = ?, cycle_start = ? WHERE id = ?",
            (started, started, user_id),
        )
    assert users.profile(_user(db, user_id))["job_quota_remaining"] == 10
    _spend(db, user_id, 1)
    assert users.profile(_user(db, user_id))["jobs_used"] == 1


def test_a_user_without_a_name_has_null_for_it_as_the_contract_says(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with app_client(data_dir) as client:
        admin.add_user(data_dir, "nameless@example.com", "", "free", None)
        _token_id, token = admin.create_token(data_dir, "nameless@example.com", None)
        me = client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["email"] == "nameless@example.com" and me["name"] is None
