"""What a job's worker is entitled to besides its token: the git credential and the user's
agent secrets, decrypted only at launch and handed over in the worker's environment."""

from __future__ import annotations

import contextlib
import json
import sqlite3

from ckrv.errors import NotFound
from ckrv.server.vault.master_keys import MasterKeys
from ckrv.server.vault.store import load_credential, load_secrets
from ckrv.worker.gitauth import git_username

GIT_CREDENTIAL_ENV = "CKRV_GIT_CREDENTIAL"
AGENT_SECRETS_ENV = "CKRV_AGENT_SECRETS"

__all__ = [
    "AGENT_SECRETS_ENV",
    "GIT_CREDENTIAL_ENV",
    "job_environment",
    "job_secret_values",
]


def job_environment(
    conn: sqlite3.Connection, keys: MasterKeys, job: sqlite3.Row
) -> tuple[dict[str, str], frozenset[str]]:
    """(environment variables for the worker, the secret values among them to mask).

    Sets CKRV_GIT_CREDENTIAL (JSON: name, provider, credential_type, value, username) when the
    job names a credential, and CKRV_AGENT_SECRETS (JSON object NAME -> value) when the user has
    secrets. Raises NotFound when the job's credential was deleted after the job was created,
    and CkrvError when a stored value does not decrypt: either way the job should fail with the
    message. A read only: the caller records the use with `mark_credential_used(conn, id)`
    through the writer."""
    env: dict[str, str] = {}
    values: set[str] = set()
    if job["credential_id"]:
        credential = load_credential(conn, keys, job["user_id"], job["credential_id"])
        env[GIT_CREDENTIAL_ENV] = json.dumps(
            {
                "name": credential.name,
                "provider": credential.provider,
                "credential_type": credential.credential_type,
                "value": credential.value,
                "username": git_username(credential.provider, job["git_repo_url"]),
            }
        )
        values.add(credential.value)
    secrets = load_secrets(conn, keys, job["user_id"])
    if secrets:
        env[AGENT_SECRETS_ENV] = json.dumps(secrets)
        values.update(secrets.values())
    return env, frozenset(values)


def job_secret_values(
    conn: sqlite3.Connection, keys: MasterKeys, job: sqlite3.Row
) -> frozenset[str]:
    """The values the server masks again when it ingests the job's log lines (a credential
    removed while the job runs is simply no longer among them)."""
    values = set(load_secrets(conn, keys, job["user_id"]).values())
    if job["credential_id"]:
        with contextlib.suppress(NotFound):
            values.add(load_credential(conn, keys, job["user_id"], job["credential_id"]).value)
    return frozenset(values)
