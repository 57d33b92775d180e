"""Reading Job and Pod status the way a person running `kubectl describe` would: has the Job
finished and why, is a Pod stuck before its container could start, how did a container end."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ckrv.limits import human_size
from ckrv.server.executors.k8s_client import KubeApi, KubeError, Obj
from ckrv.server.executors.k8s_manifest import CONTAINER, JOB_ID

STUCK_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"}
)


@dataclass(frozen=True)
class JobEnd:
    kind: str  # Complete | Failed
    reason: str
    message: str


def job_id_of(obj: Obj) -> str | None:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(JOB_ID)
    return str(value) if value else None


def job_end(job: Obj) -> JobEnd | None:
    """Complete or Failed (with the controller's reason), or None while it runs."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in {"Complete", "Failed"} and cond.get("status") == "True":
            return JobEnd(cond["type"], cond.get("reason") or "", cond.get("message") or "")
    return None


def stuck_reason(pod: Obj) -> str | None:
    """Why a Pending pod cannot start, for the reasons that do not fix themselves."""
    status = pod.get("status") or {}
    if status.get("phase") != "Pending" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return None
    for cond in status.get("conditions") or []:
        if (
            cond.get("type") == "PodScheduled"
            and cond.get("status") == "False"
            and cond.get("reason") == "Unschedulable"
        ):
            return _join("Unschedulable", cond.get("message"))
    for item in [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]:
        waiting = (item.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in STUCK_REASONS:
            return _join(waiting["reason"], waiting.get("message"))
    return None


def _join(reason: str, message: str | None) -> str:
    return f"{reason}: {message}" if message else reason


def worker_status(pod: Obj) -> Obj | None:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next(
        (s for s in statuses if s.get("name") == CONTAINER), statuses[0] if statuses else None
    )


def container_name(pod: Obj) -> str:
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    names = [c.get("name") for c in containers]
    return CONTAINER if CONTAINER in names else str(names[0] or CONTAINER)


def memory_limit(pod: Obj) -> str:
    """The worker container's memory limit as the pod states it ("2Gi"; bytes shown as GiB...)."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") == CONTAINER:
            limit = str(((container.get("resources") or {}).get("limits") or {}).get("memory", ""))
            return human_size(int(limit)) if limit.isdigit() else limit or "unknown"
    return "unknown"


def describe_end(pod: Obj | None) -> str:
    """How the worker's pod ended, in words: evicted, out of memory, exit code, deleted."""
    if pod is None:
        return "its pod was deleted before the worker reported a result"
    status = pod.get("status") or {}
    if status.get("reason") == "Evicted":
        return _join("the pod was evicted", status.get("message"))
    item = worker_status(pod) or {}
    terminated = (item.get("state") or {}).get("terminated") or (item.get("lastState") or {}).get(
        "terminated"
    )
    if (pod.get("metadata") or {}).get("deletionTimestamp") and not terminated:
        return "its pod was deleted before the worker reported a result"
    if not terminated:
        return f"its pod was {status.get('phase', 'gone').lower()} when the Job ended"
    code = terminated.get("exitCode")
    if terminated.get("reason") == "OOMKilled":
        return (
            f"the job ran out of memory (OOMKilled at the pod's {memory_limit(pod)} limit, exit "
            f"code {code}; raise `memory` for the agent or the job, or `[kubernetes] memory`)"
        )
    detail = f" ({terminated['reason']})" if terminated.get("reason") not in {None, "Error"} else ""
    return f"the worker exited with code {code}{detail} without reporting a result"


def newest(pods: list[Obj]) -> Obj | None:
    """The most recently created pod (a Job with backoffLimit 0 has one, but be sure)."""
    if not pods:
        return None
    return max(
        pods,
        key=lambda p: (
            (p.get("metadata") or {}).get("creationTimestamp") or "",
            int((p.get("metadata") or {}).get("resourceVersion") or 0),
        ),
    )


def log_tail(api: KubeApi, pod: Obj, lines: int) -> list[str]:
    """The end of the worker container's log: the previous instance first (a restarted
    container's last words), else the current one. Blocking."""
    name, container = pod["metadata"]["name"], container_name(pod)
    for previous in (True, False):
        try:
            text = api.read_log(name, container, previous, lines)
        except KubeError as exc:
            print(f"ckrv: {exc}", file=sys.stderr, flush=True)
            return []
        if text:
            return text.rstrip("\n").splitlines()
    return []
