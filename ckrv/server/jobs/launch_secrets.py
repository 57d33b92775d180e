"""What a job's worker is entitled to besides its token: the git credential and the user's
agent secrets, decrypted only at launch and handed over in the worker's launch environment
(ckrv/contracts/launch_env.py)."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field

from ckrv.contracts.credentials import GitCredential, git_username
from ckrv.errors import NotFound
from ckrv.server.vault.master_keys import MasterKeys
from ckrv.server.vault.store import load_credential, load_secrets

__all__ = ["JobSecrets", "job_secret_values", "job_secrets"]


@dataclass(frozen=True)
class JobSecrets:
    git_credential: GitCredential | None = None
    agent_secrets: dict[str, str] = field(default_factory=dict)

    def values(self) -> frozenset[str]:
        """The secret values among them, which the worker masks."""
        values = set(self.agent_secrets.values())
        if self.git_credential is not None:
            values.add(self.git_credential.value)
        return frozenset(values)


def job_secrets(conn: sqlite3.Connection, keys: MasterKeys, job: sqlite3.Row) -> JobSecrets:
    """The job's git credential (when it names one) and its owner's agent secrets.

    Raises NotFound when the job's credential was deleted after the job was created, and
    CkrvError when a stored value does not decrypt: either way the job should fail with the
    message. A read only: the caller records the use with `mark_credential_used(conn, id)`
    through the writer."""
    credential = None
    if job["credential_id"]:
        stored = load_credential(conn, keys, job["user_id"], job["credential_id"])
        credential = GitCredential(
            name=stored.name,
            provider=stored.provider,
            credential_type=stored.credential_type,
            value=stored.value,
            username=git_username(stored.provider, job["git_repo_url"]),
        )
    return JobSecrets(credential, load_secrets(conn, keys, job["user_id"]))


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
