"""What a job's worker is entitled to besides its token: the git credential and the user's
agent secrets, decrypted only at launch and handed over in the worker's environment."""

from __future__ import annotations

import sqlite3

from ckrv.server.keys import MasterKeys


def job_environment(conn: sqlite3.Connection, keys: MasterKeys, job: sqlite3.Row) -> tuple[dict[str, str], frozenset[str]]:
    """(environment variables for the worker, the secret values among them to mask).

    Sets CKRV_GIT_CREDENTIAL (JSON: provider, credential_type, value, username) when the job
    names a credential, and CKRV_AGENT_SECRETS (JSON object NAME -> value) when the user has
    secrets. Foundation version: neither exists yet."""
    return {}, frozenset()
