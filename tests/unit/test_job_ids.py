"""Job ids carry their row number (ckrv/server/jobs/ids.py): valid version-8 UUIDs, short ids
that never collide, lookups that compare the whole id, and databases from before schema 3 whose
uuid4 job ids keep working after the upgrade."""

from __future__ import annotations

import itertools
import random
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from ckrv.server.identity import users
from ckrv.server.jobs import ids as job_ids
from ckrv.server.jobs import store as jobs
from ckrv.server.storage import database as db_module
from ckrv.server.storage import schema
from tests.support.helpers import Server
from tests.support.servers import write_config


def test_ids_are_version_8_uuids_that_give_back_their_row_number() -> None:
    rng = random.Random(7)
    edges = [1, 2, 3, 2**31, 2**32 - 1, 2**32, 2**32 + 1, job_ids.MAX_SEQ]
    for seq in edges + [rng.randrange(1, job_ids.MAX_SEQ) for _ in range(20_000)]:
        job_id = job_ids.new_id(seq)
        parsed = uuid.UUID(job_id)
        assert (parsed.version, parsed.variant) == (8, uuid.RFC_4122)
        assert str(parsed) == job_id  # lower-case, canonical form
        assert job_ids.seq_of(job_id) == seq


def test_short_ids_of_neighbouring_jobs_never_collide_and_look_unrelated() -> None:
    shorts = [job_ids.new_id(seq)[:8] for seq in range(1, 100_001)]
    assert len(set(shorts)) == len(shorts)  # any 8 leading digits name one job
    assert sum(a[0] == b[0] for a, b in itertools.pairwise(shorts)) < 100_000 / 8
    assert job_ids.new_id(5) != job_ids.new_id(5)  # the random part differs


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(str(uuid.uuid4()), id="version-4"),  # a fixed id: xdist's processes agree
        "not-a-job-id",
        "",
        "zzzzzzzz-zzzz-8zzz-8zzz-zzzzzzzzzzzz",
    ],
)
def test_strings_that_are_not_version_8_ids_carry_no_row_number(text: str) -> None:
    if text.startswith(tuple("0123456789abcdef")) and text[14:15] == "4":
        assert uuid.UUID(text).version == 4
    assert job_ids.seq_of(text) is None


@pytest.mark.parametrize("seq", [0, -1, job_ids.MAX_SEQ + 1])
def test_row_numbers_outside_the_id_space_are_refused(seq: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        job_ids.new_id(seq)


def _schema_2_database(path: Path, email: str) -> list[str]:
    """A database as ckrv wrote it before schema 3: three uuid4-id jobs, the newest deleted
    (so the AUTOINCREMENT mark, 3, is above the highest row left)."""
    conn = db_module.connect(path)
    for migration in schema.MIGRATIONS[:2]:
        for statement in migration.split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    user_id = users.add_user(conn, email, "old", "pro", None)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for job_id in ids:
        conn.execute(
            "INSERT INTO jobs (id, user_id, agent, spec_content, git_repo_url, git_base_branch,"
            " spec_title, timeout_seconds, feature_branch_name, created_at) VALUES"
            " (?, ?, 'scripted', '# old\n', 'https://git.example/a.git', 'main', 'old', 60,"
            " ?, '2026-11-01T00:00:00.000000Z')",
            (job_id, user_id, f"ckrv/old-{job_id[:8]}"),
        )
    conn.execute("DELETE FROM jobs WHERE id = ?", (ids[2],))
    conn.close()
    return ids[:2]


def test_a_schema_2_database_upgrades_and_its_uuid4_jobs_keep_working(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (tmp_path / "config").mkdir()
    old_ids = _schema_2_database(data_dir / "ckrv.db", "old@example.com")
    srv = Server(data_dir, tmp_path / "config", write_config(tmp_path, capacity=0))
    token = srv.admin("token", "create", "old@example.com").strip()  # upgrades the database
    srv.start()
    try:
        with srv.client(token) as api:
            for job_id in old_ids:
                assert api.get(f"/jobs/{job_id}").json()["id"] == job_id
            found = api.get("/jobs", params={"id_prefix": old_ids[0][:8]}).json()["jobs"]
            assert [j["id"] for j in found] == [old_ids[0]]
            cancelled = api.post(f"/jobs/{old_ids[0]}/cancel")
            assert cancelled.status_code == 200, cancelled.text
            assert cancelled.json()["status"] == "cancelled"

            new = api.post(
                "/jobs",
                json={"spec_content": "# new\n", "git_repo_url": "https://git.example/a.git"},
            ).json()
            assert uuid.UUID(new["id"]).version == 8
            assert job_ids.seq_of(new["id"]) == 4  # above the deleted job's number, not reused
            assert api.get(f"/jobs/{new['id']}").json()["id"] == new["id"]
            listed = [j["id"] for j in api.get("/jobs").json()["jobs"]]
            assert listed == [new["id"], old_ids[1], old_ids[0]]

            # Same row number, different random part: not this job (the whole id is compared).
            forged = new["id"][:-1] + ("0" if new["id"][-1] != "0" else "1")
            assert api.get(f"/jobs/{forged}").status_code == 404
    finally:
        srv.shutdown()
    conn = sqlite3.connect(data_dir / "ckrv.db")
    unique = [
        r[0]
        for r in conn.execute("SELECT name FROM pragma_index_list('jobs') WHERE \"unique\" = 1")
    ]
    conn.close()
    assert unique == ["jobs_legacy_id"]  # the only id index left holds the old rows alone


def test_every_job_is_found_by_its_short_id_and_only_by_prefixes_of_its_own(live: Server) -> None:
    token = live.add_user("prefixes@example.com", tier="enterprise")
    with live.client(token) as api:
        body = {"spec_content": "# p\n", "git_repo_url": "https://git.example/a.git"}
        ids = [api.post("/jobs", json=body).json()["id"] for _ in range(40)]
        for job_id in ids:
            for length in (8, 13, 36):
                found = api.get("/jobs", params={"id_prefix": job_id[:length]}).json()["jobs"]
                assert [j["id"] for j in found] == [job_id]
            wrong = job_id[:9] + ("0" if job_id[9] != "0" else "1")  # right short id, wrong rest
            assert api.get("/jobs", params={"id_prefix": wrong}).json()["jobs"] == []
        upper = api.get("/jobs", params={"id_prefix": ids[0][:8].upper()}).json()["jobs"]
        assert [j["id"] for j in upper] == [ids[0]]
        # Shorter than a short id: every job of the user is looked at, and all that match come.
        one_digit = ids[0][0]
        expected = [i for i in reversed(ids) if i.startswith(one_digit)]
        listed = api.get("/jobs", params={"id_prefix": one_digit, "limit": 100}).json()["jobs"]
        assert [j["id"] for j in listed] == expected


def _database(path: Path, migrations: int | None = None) -> sqlite3.Connection:
    """A database with `migrations` applied (all when None) and a user."""
    conn = db_module.connect(path)
    for number, migration in enumerate(schema.MIGRATIONS[:migrations]):
        for statement in migration.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number + 1}")
    users.add_user(conn, "ada@example.com", "ada", "pro", None)
    return conn


def _insert(conn: sqlite3.Connection) -> dict[str, Any]:
    user_id = conn.execute("SELECT id FROM users").fetchone()[0]
    new = jobs.NewJob(user_id, "# Fix the login\n", "https://git.example/a.git", "main", "x", 60)
    row = jobs.insert_jobs(conn, [new], "")[0]
    assert not isinstance(row, Exception)
    return row


def _found(path: Path, job_id: str) -> bool:
    """Found by id and by short id, on a fresh connection (as after a restart)."""
    conn = db_module.connect(path)
    try:
        by_id = jobs.find(conn, job_id, "id")
        user_id = conn.execute("SELECT id FROM users").fetchone()[0]
        listed = jobs.list_page(conn, user_id, 10, id_prefix=job_id[:8])
        return by_id is not None and [r["id"] for r in listed] == [job_id]
    finally:
        conn.close()


def test_two_servers_give_their_first_jobs_different_ids_and_branch_names(
    tmp_path: Path,
) -> None:
    firsts = []
    for name in ("one", "two"):
        conn = _database(tmp_path / f"{name}.db")
        firsts.append(_insert(conn))
        conn.close()
    one, two = firsts
    assert job_ids.seq_of(one["id"], 0) is not None  # still version-8 ids with a row number
    assert one["id"][:8] != two["id"][:8]
    assert one["feature_branch_name"] != two["feature_branch_name"]
    for name, row in zip(("one", "two"), firsts, strict=True):
        assert _found(tmp_path / f"{name}.db", row["id"])  # the key outlives the connection
    assert not _found(tmp_path / "two.db", one["id"])


def test_a_server_keeps_its_key_so_ids_stay_valid_and_distinct(tmp_path: Path) -> None:
    path = tmp_path / "ckrv.db"
    conn = _database(path)
    ids = [_insert(conn)["id"] for _ in range(3)]
    conn.close()
    db_module.migrate(path)  # a restart: nothing changes the key
    conn = db_module.connect(path)
    ids += [_insert(conn)["id"] for _ in range(3)]
    conn.close()
    assert len({i[:8] for i in ids}) == 6
    assert all(_found(path, job_id) for job_id in ids)


def test_a_database_that_had_jobs_before_keys_keeps_their_ids(tmp_path: Path) -> None:
    path = tmp_path / "ckrv.db"
    before_keys = next(n for n, m in enumerate(schema.MIGRATIONS) if "server_keys" in m)
    conn = _database(path, migrations=before_keys)
    old = _insert(conn)
    conn.close()
    assert old["id"][:8] == job_ids.new_id(1)[:8]  # made as every server made job 1
    db_module.migrate(path)
    assert _found(path, old["id"])
    conn = db_module.connect(path)
    new = _insert(conn)
    conn.close()
    assert job_ids.seq_of(new["id"]) == 2  # the key stayed 0 here: ids as before
    assert _found(path, new["id"])
