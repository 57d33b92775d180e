"""The executor interface. An executor starts one worker per job and tells the engine when a
worker has gone without reporting; it never changes job rows itself. Both executors run the
same `ckrv worker` code, which talks to the server over HTTP with a token for its one job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

WorkerLost = Callable[[str, str], Awaitable[None]]
"""Called with (job_id, reason) when a job's worker ended or vanished. The engine fails the job
with that reason unless the worker already reported a terminal result."""


@dataclass(frozen=True)
class Launch:
    """Everything a worker is entitled to.

    `env` holds the encoded launch environment (ckrv/contracts/launch_env.py: the API URL, the
    job id and token, and when the job has them its git credential and agent secrets), plus
    the agent's pass-through variables. Its secrets never go in an environment: the local
    executor hands them over on an inherited socket, the kubernetes executor in a file of the
    job's Secret that only an init container mounts (ckrv/contracts/secret_channel.py).
    """

    job_id: str
    env: dict[str, str]
    timeout_seconds: float
    # The job's network mode (open, none, allowlist): the local worker enforces it itself;
    # the kubernetes executor labels the pod so the NetworkPolicies in k8s/ apply.
    network: str = "open"
    # The job's resource limits as settled at dispatch (ckrv/server/jobs/limits.py; 0 or absent:
    # none). The worker applies them to the job's commands on both executors; the kubernetes
    # executor also sizes the pod from them, so a job's memory and disk hold for the pod too.
    limits: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RunningJob:
    job_id: str
    executor_ref: str | None


class Executor(Protocol):
    name: str

    async def start(self, lost: WorkerLost) -> None:
        """Begin tracking workers; `lost` is called for each one that goes without a result."""

    async def launch(self, launch: Launch) -> str:
        """Start the worker; return a reference stored on the job (pid, Job name...)."""

    async def reconcile(self, running: list[RunningJob]) -> dict[str, str]:
        """After a server start: for each running job whose worker is gone, the reason.
        Jobs not in the answer carry on and stay tracked."""

    async def terminate(self, job_id: str, executor_ref: str | None) -> None:
        """Stop the worker now (cancel or timeout); its whole process tree / Job goes."""

    async def stop(self) -> None:
        """Server shutdown: stop tracking. Workers keep running (they outlive restarts)."""
