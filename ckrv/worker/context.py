"""What one job's worker carries through the pipeline (JobContext) and what it ends with
(Outcome), shared by the pipeline and the steps that run the job's commands."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ckrv.contracts import launch_env
from ckrv.contracts.credentials import GitCredential
from ckrv.contracts.job_description import JobDescription
from ckrv.contracts.jobmodel import WorkerResult
from ckrv.contracts.masking import Masker
from ckrv.limits import Limits
from ckrv.sandbox import Sandbox
from ckrv.worker.egress import Egress
from ckrv.worker.history import History
from ckrv.worker.reporter import Reporter


@dataclass
class Outcome:
    status: WorkerResult
    summary: str = ""
    error_message: str | None = None
    diff: bytes | None = None
    diff_stats: dict[str, int] | None = None
    agent_exit_code: int | None = None
    base_commit: str | None = None
    pushed_branch: str | None = None
    verified: bool | None = None  # None: no verify ran
    rounds: int | None = None  # fix rounds used (when verify ran)
    transcripts: list[str] = field(default_factory=list)  # one per verify run, masked
    result_commit: str | None = None
    delta: bytes | None = None  # a follow-up's own step (the diff is the thread's change)
    bundle: bytes | None = None  # the result's commits since the thread's base
    cost_usd: float | None = None  # the agent runs' reported cost (None: unknown)

    def result(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "summary": self.summary}
        if self.transcripts:
            body["verify_runs"] = len(self.transcripts)
        keys = ("error_message", "diff_stats", "agent_exit_code", "pushed_branch", "verified")
        for key in (*keys, "rounds", "result_commit", "cost_usd"):
            if getattr(self, key) is not None:
                body[key] = getattr(self, key)
        return body


@dataclass
class JobContext:
    job: JobDescription
    workspace: Path
    reporter: Reporter
    masker: Masker
    credential: GitCredential | None = None
    agent_secrets: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    # Where the worker keeps its own repository and the credential's files: outside the
    # workspace (the executor makes it; else a new temporary directory).
    private_dir: Path | None = None
    egress: Egress | None = None  # set once the commands are about to run
    sandbox: Sandbox | None = None  # None: commands run unconfined (sandbox = "none")
    history: History | None = None  # what the agent is told (set when the agent first runs)
    transcripts: list[str] = field(default_factory=list)  # each verify run's, masked
    agent_runs: int = 0  # the agent's runs so far (the first, then each fix round)
    cost_usd: float | None = None  # what they reported they cost (worker/cost.py)

    @property
    def limits(self) -> Limits:
        return Limits.from_description(self.job.limits)

    @property
    def checkout(self) -> Path:
        return self.workspace / "checkout"

    def say(self, message: str, level: str = "info") -> None:
        self.reporter.log("worker", self.masker.mask(message), level)

    def sink(self, source: str, message: str, level: str) -> None:
        self.reporter.log(source, self.masker.mask(message), level)

    def command_env(self) -> dict[str, str]:
        """Environment of setup, agent and verify: the worker's own, plus the agent secrets."""
        hidden = (*launch_env.SECRET_NAMES, "CKRV_GIT_")  # and git's askpass variables
        env = {k: v for k, v in os.environ.items() if not k.startswith(hidden)}
        env.update(self.extra_env)
        env.update(self.agent_secrets)
        return env


def failure(ctx: JobContext, message: str, **extra: Any) -> Outcome:
    message = ctx.masker.mask(message)
    ctx.say(message, "error")
    return Outcome(
        "failed",
        summary=message.splitlines()[0][:300],
        error_message=message,
        transcripts=ctx.transcripts,
        cost_usd=ctx.cost_usd,
        **extra,
    )
