"""The Job controller and the TTL-after-finished controller, as kube-controller-manager runs
them: a Job gets a Pod; the Pod's end (or disappearance) is counted; `backoffLimit` failures
or `activeDeadlineSeconds` fail the Job (FailureTarget first, Failed once its pods are gone);
a finished Job is deleted (foreground) `ttlSecondsAfterFinished` after it finished."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.k8s_sim.clock import now_iso
from tests.support.k8s_sim.gc import Collector
from tests.support.k8s_sim.objects import condition, pod_for_job
from tests.support.k8s_sim.store import RESOURCES, Event, Obj, Selector, Store

JOBS, PODS = RESOURCES["jobs"], RESOURCES["pods"]
UID_LABEL = "batch.kubernetes.io/controller-uid"


def finished(job: Obj) -> str | None:
    for cond in job.get("status", {}).get("conditions", []):
        if cond["type"] in {"Complete", "Failed"} and cond["status"] == "True":
            return str(cond["type"])
    return None


def _has(job: Obj, kind: str) -> Obj | None:
    return next((c for c in job["status"].get("conditions", []) if c["type"] == kind), None)


class JobController:
    def __init__(self, store: Store, collector: Collector) -> None:
        self.store, self.collector = store, collector
        self.counted: set[str] = set()
        self.timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        store.listeners.append(self._on_event)

    def close(self) -> None:
        for timer in self.timers.values():
            timer.cancel()

    def _on_event(self, event: Event) -> None:
        loop = asyncio.get_running_loop()
        meta = event.obj["metadata"]
        if event.res is JOBS and event.type == "ADDED":
            loop.call_soon(self.sync, event.namespace, meta["name"])
        elif event.res is PODS and event.type in {"MODIFIED", "DELETED"}:
            owner = next(
                (r for r in meta.get("ownerReferences") or [] if r.get("controller")), None
            )
            if owner and owner.get("kind") == "Job":
                if event.type == "DELETED":
                    loop.call_soon(self._pod_gone, event.namespace, owner["name"], event.obj)
                loop.call_soon(self.sync, event.namespace, owner["name"])

    def _pods(self, job: Obj) -> list[Obj]:
        selector = Selector(f"{UID_LABEL}={job['metadata']['uid']}")
        return self.store.list(PODS, job["metadata"]["namespace"], selector)[0]

    def _pod_gone(self, namespace: str, name: str, pod: Obj) -> None:
        """A pod deleted before it ended counts as failed (podReplacementPolicy
        TerminatingOrFailed)."""
        uid = pod["metadata"]["uid"]
        job = self.store.find(JOBS, namespace, name)
        if uid in self.counted or job is None or finished(job):
            return
        self.counted.add(uid)
        if pod["status"].get("phase") != "Succeeded":
            job["status"]["failed"] = job["status"].get("failed", 0) + 1
            self.store.update(JOBS, job)

    def sync(self, namespace: str, name: str) -> None:
        job = self.store.find(JOBS, namespace, name)
        if job is None or job["metadata"].get("deletionTimestamp") or finished(job):
            return
        if job["spec"].get("suspend"):
            return  # a suspended Job gets no pods until it is resumed
        status = job["status"]
        pods = self._pods(job)
        changed = self._count(job, pods)
        live = [p for p in pods if p["status"].get("phase") not in {"Succeeded", "Failed"}]
        active = [p for p in live if not p["metadata"].get("deletionTimestamp")]
        spec = job["spec"]
        if _has(job, "FailureTarget") is None and _has(job, "SuccessCriteriaMet") is None:
            if status.get("succeeded", 0) >= spec.get("completions", 1):
                status["conditions"] = [
                    *status.get("conditions", []),
                    condition(
                        "SuccessCriteriaMet",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    ),
                ]
                changed = True
            elif status.get("failed", 0) > spec.get("backoffLimit", 6):
                self._fail(
                    job,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    active,
                )
                changed = True
            elif not active:
                self._start_pod(job)
                changed = True
        changed |= self._conclude(job, live)
        ready = sum(1 for p in active if p["status"].get("phase") == "Running")
        if (status.get("active"), status.get("ready")) != (len(active), ready):
            status.update(active=len(active), ready=ready, terminating=len(live) - len(active))
            changed = True
        if changed:
            job = self.store.update(JOBS, job)
            self._after_finish(job)

    def _count(self, job: Obj, pods: list[Obj]) -> bool:
        changed = False
        for pod in pods:
            phase, uid = pod["status"].get("phase"), pod["metadata"]["uid"]
            terminating = bool(pod["metadata"].get("deletionTimestamp"))
            if (phase in {"Succeeded", "Failed"} or terminating) and uid not in self.counted:
                # a terminating pod counts as failed at once (podReplacementPolicy
                # TerminatingOrFailed)
                self.counted.add(uid)
                key = "succeeded" if phase == "Succeeded" else "failed"
                job["status"][key] = job["status"].get(key, 0) + 1
                changed = True
        return changed

    def _start_pod(self, job: Obj) -> None:
        status = job["status"]
        if "startTime" not in status:
            status["startTime"] = now_iso()
            deadline = job["spec"].get("activeDeadlineSeconds")
            if deadline:
                meta = job["metadata"]
                self.timers[(meta["namespace"], meta["name"])] = (
                    asyncio.get_running_loop().call_later(
                        deadline, self._deadline, meta["namespace"], meta["name"], meta["uid"]
                    )
                )
        self.store.create(PODS, job["metadata"]["namespace"], pod_for_job(job))

    def _fail(self, job: Obj, reason: str, message: str, active: list[Obj]) -> None:
        job["status"]["conditions"] = [
            *job["status"].get("conditions", []),
            condition("FailureTarget", reason, message),
        ]
        for pod in active:
            self.collector.delete(
                PODS, job["metadata"]["namespace"], pod["metadata"]["name"], "Background"
            )

    def _conclude(self, job: Obj, live: list[Obj]) -> bool:
        """Complete / Failed once the job's pods have all terminated."""
        if live:
            return False
        status = job["status"]
        if (met := _has(job, "SuccessCriteriaMet")) is not None:
            status["conditions"].append(condition("Complete", met["reason"], met["message"]))
            status["completionTime"] = now_iso()
            return True
        if (target := _has(job, "FailureTarget")) is not None:
            status["conditions"].append(condition("Failed", target["reason"], target["message"]))
            return True
        return False

    def _deadline(self, namespace: str, name: str, uid: str) -> None:
        job = self.store.find(JOBS, namespace, name)
        if job is None or job["metadata"]["uid"] != uid or finished(job):
            return
        if _has(job, "FailureTarget") or _has(job, "SuccessCriteriaMet"):
            return
        active = [
            p for p in self._pods(job) if p["status"].get("phase") not in {"Succeeded", "Failed"}
        ]
        self._fail(job, "DeadlineExceeded", "Job was active longer than specified deadline", active)
        self.store.update(JOBS, job)
        self.sync(namespace, name)

    def _after_finish(self, job: Obj) -> None:
        if not finished(job):
            return
        meta = job["metadata"]
        key = (meta["namespace"], meta["name"])
        if timer := self.timers.pop(key, None):
            timer.cancel()
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is not None:
            self.timers[key] = asyncio.get_running_loop().call_later(
                ttl, self._expire, meta["namespace"], meta["name"], meta["uid"]
            )

    def _expire(self, namespace: str, name: str, uid: str) -> None:
        job = self.store.find(JOBS, namespace, name)
        if job is not None and job["metadata"]["uid"] == uid:
            self.collector.delete(JOBS, namespace, name, "Foreground")


def job_summary(job: Obj) -> dict[str, Any]:
    """What tests usually want from a Job: its name, counters and finishing condition."""
    status = job.get("status", {})
    return {
        "name": job["metadata"]["name"],
        "active": status.get("active", 0),
        "succeeded": status.get("succeeded", 0),
        "failed": status.get("failed", 0),
        "finished": finished(job),
    }
