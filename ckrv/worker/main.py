"""`ckrv worker`: run one job, reading what it is entitled to from the environment the executor
set (ckrv/contracts/launch_env.py) and the secrets from the channel it named
(ckrv/contracts/secret_channel.py), then the job's description from the server."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ckrv.contracts import launch_env, secret_channel
from ckrv.contracts.job_description import JobDescription
from ckrv.contracts.launch_env import LaunchEnvError, WorkerEnvironment
from ckrv.contracts.masking import Masker
from ckrv.errors import CkrvError, UsageError
from ckrv.limits import Limits
from ckrv.sandbox import Sandbox
from ckrv.worker.confine import exit_on_sigterm, protect_self
from ckrv.worker.context import JobContext, Outcome
from ckrv.worker.pipeline import run_job
from ckrv.worker.reporter import HttpReporter, JobGone


def job_sandbox(workspace: Path, job: JobDescription) -> Sandbox | None:
    """The sandbox the executor asked for, or None for unconfined commands."""
    if os.environ.get(launch_env.SANDBOX) != "bwrap":
        return None
    hidden = tuple(Path(p) for p in json.loads(os.environ.get(launch_env.SANDBOX_HIDE) or "[]"))
    named = [*job.agent.command, *job.agent.verify]  # from the server's config
    return Sandbox(
        workspace=workspace,
        hidden=hidden,
        limits=Limits.from_description(job.limits),
        programs=tuple(Path(arg) for arg in named if arg.startswith("/")),
    )


def take_launch_environment() -> WorkerEnvironment:
    """Decode the launch environment and the secrets handed over beside it, then remove any
    secret from the environment: children (setup, the agent) must not inherit them."""
    try:
        secrets = secret_channel.take(os.environ)  # (it may add public variables to os.environ)
    except LaunchEnvError as exc:
        raise UsageError(str(exc)) from None
    try:
        launch = WorkerEnvironment.decode({**os.environ, **secrets})
    except LaunchEnvError as exc:
        raise UsageError(f"ckrv worker is started by the server; {exc}") from None
    for name in launch_env.SECRET_NAMES:
        os.environ.pop(name, None)
    return launch


def run_worker() -> int:
    confined = protect_self()  # before anything: then no one else reads what it receives
    exit_on_sigterm()
    launch = take_launch_environment()
    masker = Masker(launch.secret_values())
    reporter = HttpReporter(launch.api_url, launch.job_id, launch.job_token)
    try:
        if not confined:
            reporter.log(
                "worker",
                "this system cannot close the worker's memory to the agent (no Linux prctl):"
                " the agent could read the job token and git credential",
                "warn",
            )
        job = JobDescription.from_wire(reporter.describe())
        reporter.event(status="running")
        workspace = Path(launch.workspace or Path.cwd())
        ctx = JobContext(
            job, workspace, reporter, masker, launch.git_credential, dict(launch.agent_secrets)
        )
        ctx.private_dir = Path(launch.private_dir) if launch.private_dir else None
        ctx.sandbox = job_sandbox(workspace, job)
        try:
            outcome = run_job(ctx)
        except CkrvError as exc:
            outcome = Outcome(
                "failed", summary=exc.message[:300], error_message=masker.mask(exc.message)
            )
        reporter.upload_transcripts(outcome.transcripts)
        if outcome.status == "succeeded":
            reporter.upload_result_files(outcome.delta, outcome.bundle)
        reporter.finish(outcome.result(), outcome.diff if outcome.status == "succeeded" else None)
        return 0 if outcome.status == "succeeded" else 1
    except JobGone:
        print("ckrv worker: the job ended on the server; stopping", file=sys.stderr)
        return 0
    finally:
        reporter.close()
