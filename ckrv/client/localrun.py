"""`ckrv run` without `--cloud`: the worker pipeline on this machine, no server.

The pipeline is the very one the server's workers run (`run_job`): it clones the current
repository (a local, hard-linked clone standing in for a worktree, so the user's checkout, index
and branches are never touched while the agent works), runs setup, the agent and verify, and
produces the diff. The result is then written into the user's repository as one commit on the
job's feature branch `ckrv/<slug>-<id8>`, through a temporary index (repo.commit_patch).

Agents: the presets (ckrv/contracts/agents.py) plus `[agents.NAME]` tables, and `[server]
default_agent` / `job_timeout`, from `$CKRV_CONFIG_DIR/config.toml` (the server config format).
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ckrv.client import repo
from ckrv.contracts.agents import AgentConfig, available_agents
from ckrv.contracts.job_description import AgentDescription, JobDescription
from ckrv.contracts.jobmodel import TerminalStatus, feature_branch, spec_title
from ckrv.contracts.network import NetworkPolicy
from ckrv.errors import UsageError, WorkerError
from ckrv.paths import config_dir
from ckrv.settings import Settings
from ckrv.timeutil import iso, utcnow

LogSink = Callable[[dict[str, Any]], None]
LOCAL_MAX_DIFF_BYTES = 1024 * 1024 * 1024


def config_file() -> Path:
    return config_dir() / "config.toml"


def local_settings() -> Settings:
    from ckrv.settings import load_settings

    path = config_file()
    return load_settings(config_dir(), path if path.exists() else None)


def pick_agent(settings: Settings, name: str | None) -> AgentConfig:
    known = available_agents(settings.agents)
    chosen = name or settings.default_agent
    if chosen not in known:
        raise UsageError(
            f"unknown agent {chosen!r}; known here: {', '.join(sorted(known))}",
            hint=f'define it in {config_file()} as [agents.{chosen}] command = ["prog", "{{spec_file}}"]',
        )
    return known[chosen]


class ConsoleReporter:
    """The Reporter protocol for a run on this machine: log lines go to `on_log` as they come
    (from the stdout and stderr pumps at once, so serialized); events (phase, base commit) are
    kept in `fields`. `gone` turns true once the run's deadline has passed, which stops
    whatever command is running."""

    def __init__(self, on_log: LogSink, deadline: float | None) -> None:
        self._on_log = on_log
        self._deadline = deadline
        self._lock = threading.Lock()
        self.fields: dict[str, Any] = {}
        self.result: dict[str, Any] | None = None
        self._seq = 0

    @property
    def gone(self) -> bool:
        return self.timed_out

    @property
    def timed_out(self) -> bool:
        return self._deadline is not None and time.monotonic() > self._deadline

    def log(self, source: str, message: str, level: str = "info") -> None:
        with self._lock:
            self._seq += 1
            entry = {
                "seq": self._seq,
                "timestamp": iso(utcnow()),
                "level": level,
                "source": source,
                "message": message,
            }
            self._on_log(entry)

    def event(self, **fields: Any) -> None:
        with self._lock:
            self.fields.update(fields)

    def finish(self, result: dict[str, Any], diff: bytes | None) -> None:
        self.result = result

    def parent_bundle(self) -> bytes:
        raise WorkerError("a run on this machine continues no job")


@dataclass
class LocalRequest:
    spec_content: str
    base_branch: str | None = None
    agent: str | None = None
    setup: str | None = None
    timeout_seconds: float | None = None
    verify: tuple[str, ...] = ()  # shell commands run after the agent (none: the agent's)
    fix_rounds: int | None = None


@dataclass
class LocalResult:
    """The run, shaped like the API's Job object so `--json` reads the same."""

    job: dict[str, Any]
    diff: bytes = b""
    branch_created: bool = False

    @property
    def status(self) -> str:
        return str(self.job["status"])


def describe_job(root: Path, request: LocalRequest, settings: Settings) -> JobDescription:
    """The job description a worker would get from the server, for this repository."""
    branch = request.base_branch or repo.current_branch(root)
    if branch is None:
        raise UsageError("HEAD is detached: name the branch to start from with --base-branch")
    if not repo.branch_exists(root, branch):
        raise UsageError(f"there is no local branch {branch!r} to start from")
    agent = pick_agent(settings, request.agent)
    timeout = request.timeout_seconds or settings.job_timeout
    # The run's timeout bounds the agent too, so the pipeline reports it as a timeout.
    description = replace(
        AgentDescription.of(agent),
        timeout=min(agent.timeout, timeout) if agent.timeout else timeout,
    )
    fix_rounds = _fix_rounds(request, settings)
    job_id = str(uuid.uuid4())
    title = spec_title(request.spec_content)
    return JobDescription(
        id=job_id,
        spec_content=request.spec_content,
        spec_title=title,
        git_repo_url=str(root),
        git_base_branch=branch,
        feature_branch_name=feature_branch(title, job_id),
        setup=request.setup,
        push=False,
        timeout_seconds=timeout,
        agent=description,
        credential=None,
        max_diff_bytes=LOCAL_MAX_DIFF_BYTES,
        allow_local_repositories=True,
        ssh_known_hosts=settings.ssh_known_hosts,
        network=NetworkPolicy("open", (), "a local run (this machine, your own user)"),
        verify=request.verify,
        fix_rounds=fix_rounds,
    )


def _fix_rounds(request: LocalRequest, settings: Settings) -> int:
    """The run's fix rounds, bounded by `max_fix_rounds` as on a server."""
    if any(not command.strip() for command in request.verify):
        raise UsageError("a --verify command is empty")
    rounds = request.fix_rounds or 0
    if rounds > settings.max_fix_rounds:
        raise UsageError(
            f"--fix-rounds {rounds} is over max_fix_rounds ({settings.max_fix_rounds})",
            hint=f"raise [server] max_fix_rounds in {config_file()} to allow more",
        )
    return rounds


def run_locally(root: Path, job: JobDescription, on_log: LogSink) -> LocalResult:
    """Run `job` (from describe_job) through the worker pipeline here; on success with changes
    the feature branch is created in `root`."""
    from ckrv.contracts.masking import Masker
    from ckrv.worker.context import JobContext  # git and process plumbing: only here
    from ckrv.worker.pipeline import run_job

    started = utcnow()
    reporter = ConsoleReporter(on_log, time.monotonic() + job.timeout_seconds)
    with tempfile.TemporaryDirectory(prefix="ckrv-run-") as workspace:
        ctx = JobContext(job, Path(workspace), reporter, Masker())
        outcome = run_job(ctx)
    status: TerminalStatus = outcome.status
    summary, error = outcome.summary, outcome.error_message
    if reporter.timed_out:  # like the server: a timed-out job keeps no partial result
        status = "timeout"
        summary = error = f"the run went past its timeout of {job.timeout_seconds:g} s"
        reporter.log("worker", error, "error")
    diff = outcome.diff or b""
    created = False
    if status == "succeeded" and diff.strip() and outcome.base_commit:
        commit = repo.commit_patch(root, outcome.base_commit, diff, _message(job, summary))
        repo.create_branch(root, job.feature_branch_name, commit)
        created = True
    completed = utcnow()
    public = {
        "id": job.id,
        "status": status,
        "phase": None,
        "agent": job.agent.name,
        "spec_title": job.spec_title,
        "git_repo_url": job.git_repo_url,
        "git_base_branch": job.git_base_branch,
        "git_credential_name": None,
        "base_commit": outcome.base_commit,
        "feature_branch_name": job.feature_branch_name if created else None,
        "pushed_branch": None,
        "setup": job.setup,
        "push": False,
        "timeout_seconds": job.timeout_seconds,
        "created_at": iso(started),
        "started_at": iso(started),
        "completed_at": iso(completed),
        "result_status": status,
        "result_summary": summary or None,
        "error_message": error,
        "diff_stats": outcome.diff_stats if status == "succeeded" else None,
        "verify": list(job.verify) or None,
        "fix_rounds": job.fix_rounds,
        "verified": outcome.verified,
        "rounds": outcome.rounds,
        "verify_transcripts": [],  # each verify run is in the log above
        "cost_usd": outcome.cost_usd,
        "duration_seconds": round((completed - started).total_seconds(), 3),
        "eta_seconds": None,
    }
    return LocalResult(public, diff, created)


def _message(job: JobDescription, summary: str) -> str:
    return f"{job.spec_title}\n\n{summary}\n\nckrv local run {job.id}\n"
