"""The worker's launch environment: what an executor puts in the environment of `ckrv worker`,
and the worker reads (then removes, before it runs anything) at its start.

The dispatcher builds a `WorkerEnvironment` and `encode()`s it; an executor adds `WORKSPACE`
(local) or replaces `API_URL` (the URL workers reach the server at from a cluster); the worker
`decode()`s its environment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ckrv.contracts.credentials import GitCredential

API_URL = "CKRV_API_URL"  # the server's API base, e.g. http://127.0.0.1:8420/v1
JOB_ID = "CKRV_JOB_ID"
JOB_TOKEN = "CKRV_JOB_TOKEN"  # a token for this one dispatch attempt of this one job
GIT_CREDENTIAL = "CKRV_GIT_CREDENTIAL"  # JSON: name, provider, credential_type, value, username
AGENT_SECRETS = "CKRV_AGENT_SECRETS"  # JSON object NAME -> value
WORKSPACE = "CKRV_WORKSPACE"  # the job's directory (local executor; else the current directory)
# The worker's own directory outside the workspace (local executor; else a temporary one).
PRIVATE_DIR = "CKRV_PRIVATE_DIR"
# Set by the worker for setup, the agent and verify: the file holding the job's spec.
SPEC_FILE = "CKRV_SPEC_FILE"
# Set by the worker for the agent: the file with what it is told beyond the spec (a follow-up's
# earlier steps, failing verify output of earlier fix rounds, then the current instruction), and
# in a fix round the file holding the failing verify run's transcript.
HISTORY_FILE = "CKRV_HISTORY_FILE"
VERIFY_OUTPUT_FILE = "CKRV_VERIFY_OUTPUT_FILE"
# Set by the worker for each run of the agent: a file (absent at the start) where the agent may
# write what the run cost (contracts/cost.py).
COST_FILE = "CKRV_COST_FILE"
# How the worker confines the job's commands (local executor): `bwrap`, else unconfined; and
# a JSON list of paths the sandbox never shows (the data dir first, then the server's home).
SANDBOX = "CKRV_SANDBOX"
SANDBOX_HIDE = "CKRV_SANDBOX_HIDE"

# What the worker takes out of its environment before it starts any command.
SECRET_NAMES = (JOB_TOKEN, GIT_CREDENTIAL, AGENT_SECRETS)


class LaunchEnvError(ValueError):
    """The environment is not one an executor set: a variable is missing or malformed."""


@dataclass(frozen=True)
class WorkerEnvironment:
    api_url: str
    job_id: str
    job_token: str
    git_credential: GitCredential | None = None
    agent_secrets: Mapping[str, str] = field(default_factory=dict)
    workspace: str | None = None
    private_dir: str | None = None

    def encode(self) -> dict[str, str]:
        env = {API_URL: self.api_url, JOB_ID: self.job_id, JOB_TOKEN: self.job_token}
        if self.git_credential is not None:
            env[GIT_CREDENTIAL] = json.dumps(self.git_credential.__dict__)
        if self.agent_secrets:
            env[AGENT_SECRETS] = json.dumps(dict(self.agent_secrets))
        if self.workspace is not None:
            env[WORKSPACE] = self.workspace
        if self.private_dir is not None:
            env[PRIVATE_DIR] = self.private_dir
        return env

    @classmethod
    def decode(cls, environ: Mapping[str, str]) -> WorkerEnvironment:
        """Raises LaunchEnvError naming the variable that is missing or not valid."""
        missing = [name for name in (API_URL, JOB_ID, JOB_TOKEN) if not environ.get(name)]
        if missing:
            raise LaunchEnvError(f"{missing[0]} is not set")
        credential = _json(environ, GIT_CREDENTIAL)
        secrets = _json(environ, AGENT_SECRETS) or {}
        try:
            git_credential = _credential(credential) if credential else None
        except (KeyError, TypeError, AttributeError) as exc:
            raise LaunchEnvError(f"{GIT_CREDENTIAL} lacks a field ({exc})") from None
        if not isinstance(secrets, dict):
            raise LaunchEnvError(f"{AGENT_SECRETS} is not a JSON object")
        return cls(
            api_url=environ[API_URL],
            job_id=environ[JOB_ID],
            job_token=environ[JOB_TOKEN],
            git_credential=git_credential,
            agent_secrets={str(k): str(v) for k, v in secrets.items()},
            workspace=environ.get(WORKSPACE) or None,
            private_dir=environ.get(PRIVATE_DIR) or None,
        )

    def secret_values(self) -> list[str]:
        """Every value the worker must mask: the token, the credential, the agent secrets."""
        values = [self.job_token, *self.agent_secrets.values()]
        if self.git_credential is not None and self.git_credential.value:
            values.append(self.git_credential.value)
        return values


def _json(environ: Mapping[str, str], name: str) -> Any:
    raw = environ.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise LaunchEnvError(f"{name} is not valid JSON") from None


def _credential(data: Mapping[str, Any]) -> GitCredential:
    return GitCredential(
        name=str(data.get("name") or ""),
        provider=str(data.get("provider") or "generic"),
        credential_type=str(data["credential_type"]),
        value=str(data["value"]),
        username=str(data.get("username") or ""),
    )
