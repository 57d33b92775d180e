"""`ckrv worker`: run one job, reading what it is entitled to from the environment the executor
set (CKRV_API_URL, CKRV_JOB_ID, CKRV_JOB_TOKEN, CKRV_GIT_CREDENTIAL, CKRV_AGENT_SECRETS)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ckrv.errors import CkrvError, UsageError
from ckrv.worker.confine import exit_on_sigterm, protect_self
from ckrv.worker.masking import Masker
from ckrv.worker.pipeline import JobContext, Outcome, run_job
from ckrv.worker.reporter import HttpReporter, JobGone


def _json_env(name: str) -> Any:
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"{name} is not valid JSON") from exc


def secret_values(credential: dict[str, Any] | None, agent_secrets: dict[str, str]) -> list[str]:
    values = list(agent_secrets.values())
    if credential and credential.get("value"):
        values.append(str(credential["value"]))
    return values


def run_worker() -> int:
    confined = protect_self()  # before anything: the environment holds the job's secrets
    exit_on_sigterm()
    try:
        api_url, job_id, token = (
            os.environ[k] for k in ("CKRV_API_URL", "CKRV_JOB_ID", "CKRV_JOB_TOKEN")
        )
    except KeyError as exc:
        raise UsageError(
            f"ckrv worker is started by the server; {exc.args[0]} is not set"
        ) from None
    credential = _json_env("CKRV_GIT_CREDENTIAL")
    agent_secrets = {str(k): str(v) for k, v in (_json_env("CKRV_AGENT_SECRETS") or {}).items()}
    for name in ("CKRV_JOB_TOKEN", "CKRV_GIT_CREDENTIAL", "CKRV_AGENT_SECRETS"):
        os.environ.pop(name, None)  # children (setup, agent) must not inherit these
    masker = Masker([token, *secret_values(credential, agent_secrets)])
    reporter = HttpReporter(api_url, job_id, token)
    try:
        if not confined:
            reporter.log(
                "worker",
                "this system cannot close the worker's memory to the agent (no Linux prctl):"
                " the agent could read the job token and git credential",
                "warn",
            )
        job = reporter.describe()
        reporter.event(status="running")
        workspace = Path(os.environ.get("CKRV_WORKSPACE") or Path.cwd())
        ctx = JobContext(job, workspace, reporter, masker, credential, agent_secrets)
        try:
            outcome = run_job(ctx)
        except CkrvError as exc:
            outcome = Outcome(
                "failed", summary=exc.message[:300], error_message=masker.mask(exc.message)
            )
        reporter.finish(outcome.result(), outcome.diff if outcome.status == "succeeded" else None)
        return 0 if outcome.status == "succeeded" else 1
    except JobGone:
        print("ckrv worker: the job ended on the server; stopping", file=sys.stderr)
        return 0
    finally:
        reporter.close()
