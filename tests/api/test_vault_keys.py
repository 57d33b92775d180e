"""Encryption at rest: each ciphertext is bound to its owner and row, and `ckrv admin rotate-key`
re-encrypts everything under a new key, also while a server is running."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ckrv.errors import CkrvError
from ckrv.server.admin import open_db
from ckrv.server.storage.database import run_in_transaction
from ckrv.server.vault import store
from ckrv.server.vault.master_keys import load_master_keys
from tests.support.helpers import PYTHON, ROOT, Server, add_user_direct, base_env

VALUES = {"ada": "ada-token-0123456789", "bob": "bob-token-9876543210"}


def _users(data_dir: Path) -> dict[str, str]:
    return {name: add_user_direct(data_dir, f"{name}@example.com") for name in VALUES}


def _fill(data_dir: Path, users: dict[str, str]) -> None:
    keys = load_master_keys(data_dir)
    with open_db(data_dir) as conn:
        for name, user_id in users.items():

            def add(c: sqlite3.Connection, user_id: str = user_id, name: str = name) -> None:
                store.create_credential(c, keys, user_id, "git", "github", "pat", VALUES[name])
                store.put_secret(c, keys, user_id, "API_KEY", VALUES[name] + "-secret")

            run_in_transaction(conn, add)


def _decrypt_all(data_dir: Path, users: dict[str, str]) -> dict[str, tuple[str, dict[str, str]]]:
    keys = load_master_keys(data_dir)
    with open_db(data_dir) as conn:
        result = {}
        for name, user_id in users.items():
            cred_id = store.find_credential(conn, user_id, "git")["id"]
            result[name] = (
                store.load_credential(conn, keys, user_id, cred_id).value,
                store.load_secrets(conn, keys, user_id),
            )
        return result


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    users = _users(data_dir)
    _fill(data_dir, users)
    keys = load_master_keys(data_dir)
    with open_db(data_dir) as conn:
        for table in ("credentials", "secrets"):
            conn.execute(
                f"UPDATE {table} SET ciphertext = (SELECT ciphertext FROM {table}"
                " WHERE user_id = ?) WHERE user_id = ?",
                (users["ada"], users["bob"]),
            )
        bob_cred = store.find_credential(conn, users["bob"], "git")["id"]
        with pytest.raises(CkrvError, match="does not decrypt"):
            store.load_credential(conn, keys, users["bob"], bob_cred)
        with pytest.raises(CkrvError, match="does not decrypt"):
            store.load_secrets(conn, keys, users["bob"])
        # ada's own rows still decrypt, and a ciphertext is never the value in clear
        ada_cred = store.find_credential(conn, users["ada"], "git")["id"]
        assert store.load_credential(conn, keys, users["ada"], ada_cred).value == VALUES["ada"]
        blobs = b"".join(r[0] for r in conn.execute("SELECT ciphertext FROM credentials"))
        assert VALUES["ada"].encode() not in blobs


def _rotate(data_dir: Path) -> str:
    import subprocess

    result = subprocess.run(
        [PYTHON, "-m", "ckrv", "admin", "--data-dir", str(data_dir), "rotate-key"],
        capture_output=True,
        text=True,
        env=base_env(data_dir),
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _versions(data_dir: Path) -> set[int]:
    return set(load_master_keys(data_dir).keys)


def test_rotation_keeps_every_value_readable_and_drops_the_old_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    users = _users(data_dir)
    _fill(data_dir, users)
    before = _decrypt_all(data_dir, users)
    old_key = (data_dir / "keys" / "master.keys").read_text()
    assert "re-encrypted 2 credentials and 2 secrets under master key version 2" in _rotate(
        data_dir
    )
    assert _versions(data_dir) == {2}
    assert _decrypt_all(data_dir, users) == before
    with open_db(data_dir) as conn:
        assert {
            r[0]
            for r in conn.execute(
                "SELECT key_version FROM credentials UNION SELECT key_version FROM secrets"
            )
        } == {2}
    # the old key alone no longer opens anything
    (data_dir / "keys" / "master.keys").write_text(old_key)
    with pytest.raises(CkrvError, match="version 2 is missing"):
        _decrypt_all(data_dir, users)


def test_a_running_server_follows_a_rotation(tmp_path: Path, server: Server) -> None:
    token = server.add_user("ada@example.com")
    with server.client(token) as api:
        assert (
            api.put("/secrets/BEFORE_ROTATION", json={"value": "value-before-rotation"}).status_code
            == 201
        )
        _rotate(server.data_dir)
        # sealed by the server after the rotation: under the new key, not the dropped one
        assert (
            api.put("/secrets/AFTER_ROTATION", json={"value": "value-after-rotation"}).status_code
            == 201
        )
        assert (
            api.post(
                "/credentials",
                json={
                    "name": "gh",
                    "provider": "github",
                    "credential_type": "pat",
                    "value": "tok-after-rotation",
                },
            ).status_code
            == 201
        )
        _rotate(server.data_dir)
        assert (
            api.put("/secrets/AFTER_SECOND", json={"value": "value-after-second"}).status_code
            == 201
        )
    assert _versions(server.data_dir) == {3}
    keys = load_master_keys(server.data_dir)
    with open_db(server.data_dir) as conn:
        user_id = conn.execute("SELECT id FROM users").fetchone()[0]
        assert store.load_secrets(conn, keys, user_id) == {
            "AFTER_ROTATION": "value-after-rotation",
            "AFTER_SECOND": "value-after-second",
            "BEFORE_ROTATION": "value-before-rotation",
        }
        cred = store.find_credential(conn, user_id, "gh")["id"]
        assert store.load_credential(conn, keys, user_id, cred).value == "tok-after-rotation"


def test_keys_loaded_before_a_rotation_still_read_and_seal_under_the_new_key(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    users = _users(data_dir)
    _fill(data_dir, users)
    keys = load_master_keys(data_dir)  # what a running server holds
    _rotate(data_dir)
    assert keys.current_version == 2
    with open_db(data_dir) as conn:
        assert store.load_secrets(conn, keys, users["ada"]) == {
            "API_KEY": VALUES["ada"] + "-secret"
        }


def test_a_key_from_the_environment_is_not_rotated_by_ckrv(tmp_path: Path) -> None:
    import base64
    import os
    import subprocess

    env = {**base_env(tmp_path), "CKRV_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    result = subprocess.run(
        [PYTHON, "-m", "ckrv", "admin", "--data-dir", str(tmp_path / "d"), "rotate-key"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2 and "CKRV_MASTER_KEY" in result.stderr


def test_a_jobs_environment_carries_its_credential_and_its_owners_secrets(tmp_path: Path) -> None:
    import json

    from ckrv.contracts.launch_env import WorkerEnvironment
    from ckrv.errors import NotFound
    from ckrv.server.jobs.launch_secrets import job_secret_values, job_secrets

    data_dir = tmp_path / "data"
    users = _users(data_dir)
    _fill(data_dir, users)
    keys = load_master_keys(data_dir)
    with open_db(data_dir) as conn:
        cred_id = store.find_credential(conn, users["ada"], "git")["id"]
        job = {
            "user_id": users["ada"],
            "credential_id": cred_id,
            "git_repo_url": "https://github.com/ada/app.git",
        }
        secrets = job_secrets(conn, keys, job)  # type: ignore[arg-type]
        launch = WorkerEnvironment(
            "url", "id", "token", secrets.git_credential, secrets.agent_secrets
        )
        env, values = launch.encode(), secrets.values()
        assert json.loads(env["CKRV_GIT_CREDENTIAL"]) == {
            "name": "git",
            "provider": "github",
            "credential_type": "pat",
            "value": VALUES["ada"],
            "username": "x-access-token",
        }
        assert json.loads(env["CKRV_AGENT_SECRETS"]) == {"API_KEY": VALUES["ada"] + "-secret"}
        assert values == {VALUES["ada"], VALUES["ada"] + "-secret"}
        run_in_transaction(conn, lambda c: store.mark_credential_used(c, cred_id))
        assert store.list_credentials(conn, users["ada"])[0]["last_used_at"]
        # removed between the job's creation and its launch: the job fails with the reason
        run_in_transaction(conn, lambda c: store.delete_credential(c, users["ada"], "git"))
        with pytest.raises(NotFound, match="removed before the job started"):
            job_secrets(conn, keys, job)  # type: ignore[arg-type]
        assert job_secret_values(conn, keys, job) == {VALUES["ada"] + "-secret"}  # type: ignore[arg-type]
