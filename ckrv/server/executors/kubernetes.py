"""The kubernetes executor: one batch/v1 Job per ckrv job, its credentials in a Secret the
Job owns, the outcome tracked by watching Jobs and Pods.

- launch: create the Job (referencing the Secret by name), then the Secret with an
  ownerReference to the Job; if the Secret cannot be made the Job is deleted. A 409 adopts
  the existing Job when it is this same launch, and replaces it when it is a stale one.
- tracking: list-then-watch threads (k8s_watch) keep caches of ckrv's Jobs and Pods; a Job that
  ended, vanished, or whose Pod is stuck Pending past the grace is reported to the engine
  through `lost` (a deadline as "timeout: ..."). When a pod ended abnormally the tail of its log
  (previous container first) goes to `log_sink`, stored with source `kubernetes`.
- reconcile: adopt running Jobs, report ended or vanished ones, delete orphaned Secrets.
- terminate: delete the Job with foreground propagation; the Secret goes by GC.

The kubernetes client blocks, so every call runs in a thread; this is the only module family
(k8s_*.py) that imports it."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ckrv.server.executors.base import Launch, RunningJob, WorkerLost
from ckrv.server.executors.k8s_client import KubeApi, KubeError, Obj
from ckrv.server.executors.k8s_manifest import (
    JOB_ID,
    LAUNCH_DIGEST,
    SELECTOR,
    job_name,
    load_template,
    render_job,
    render_secret,
)
from ckrv.server.executors.k8s_status import (
    JobEnd,
    describe_end,
    job_end,
    job_id_of,
    log_tail,
    newest,
    stuck_reason,
)
from ckrv.server.executors.k8s_watch import ResourceWatch, list_patiently
from ckrv.settings import Settings

LogSink = Callable[[str, list[str]], Awaitable[None]]
"""Called with (job_id, lines) with the tail of a pod's log when it ended without reporting."""

TAIL_LINES = 100
REASON_LINES = 8
REPLACE_WAIT = 60.0
RECONCILE_PATIENCE = 60.0


class _SecretNotWritten(Exception):
    def __init__(self, error: KubeError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class Tracked:
    job_id: str
    confirmed_at: float | None = None  # monotonic time the Job was known to exist
    stuck_since: float | None = None
    confirming: bool = False
    ending: bool = False


class KubernetesExecutor:
    name = "kubernetes"

    def __init__(
        self,
        settings: Settings,
        log_sink: LogSink | None = None,
        *,
        watch_timeout: int = 300,
        tick: float = 1.0,
    ) -> None:
        self.settings = settings
        self.template = load_template(settings.kubernetes_job_template)
        self.api = KubeApi(settings)
        self.log_sink = log_sink
        self.watch_timeout = watch_timeout
        self.tick = tick
        self.watches: list[ResourceWatch] = []
        self._lost: WorkerLost | None = None
        self._tracked: dict[str, Tracked] = {}
        self._jobs: dict[str, Obj] = {}  # job id -> latest Job seen (list or watch)
        self._pods: dict[str, Obj] = {}  # pod name -> latest Pod seen
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle
    async def start(self, lost: WorkerLost) -> None:
        self._lost = lost
        loop = asyncio.get_running_loop()
        for plural in ("jobs", "pods"):
            watch = ResourceWatch(
                self.api, plural, SELECTOR, loop, self._on_sync, self._on_event, self.watch_timeout
            )
            self.watches.append(watch)
            watch.start()
        self._spawn(self._check_stuck_pods())

    async def stop(self) -> None:
        for watch in self.watches:
            watch.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for watch in self.watches:
            await asyncio.to_thread(watch.join, 5.0)
        self.watches.clear()
        await asyncio.to_thread(self.api.close)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- launch
    async def launch(self, launch: Launch) -> str:
        """Job first (it names the Secret), then the Secret owned by the Job, in one trip to a
        thread; when the Secret cannot be written the Job is deleted again (untracked first,
        so its deletion is not reported)."""
        tracked = Tracked(launch.job_id)
        self._tracked[launch.job_id] = tracked
        try:
            job = await asyncio.to_thread(self._create, launch)
        except _SecretNotWritten as exc:
            self._tracked.pop(launch.job_id, None)
            await asyncio.to_thread(self._delete_quietly, launch.job_id)
            raise exc.error from None
        except BaseException:
            self._tracked.pop(launch.job_id, None)
            raise
        tracked.confirmed_at = time.monotonic()
        self._evaluate(job)
        return str(job["metadata"]["name"])

    def _create(self, launch: Launch) -> Obj:
        job = self._create_job(launch)
        try:
            self._write_secret(render_secret(self.settings, launch, job))
        except KubeError as exc:
            raise _SecretNotWritten(exc) from exc
        return job

    def _create_job(self, launch: Launch) -> Obj:
        body = render_job(self.template, self.settings, launch)
        try:
            return self.api.create_job(body)
        except KubeError as exc:
            if exc.status != 409:
                raise
            return self._adopt_or_replace(body)

    def _adopt_or_replace(self, body: Obj) -> Obj:
        """A Job of that name exists: the same launch retried is adopted; a stale launch's
        Job (its worker holds a superseded token) is deleted and created anew."""
        name = body["metadata"]["name"]
        digest = body["metadata"]["annotations"][LAUNCH_DIGEST]
        existing = self.api.read_job(name)
        if (
            existing is not None
            and not existing["metadata"].get("deletionTimestamp")
            and (existing["metadata"].get("annotations") or {}).get(LAUNCH_DIGEST) == digest
        ):
            return existing
        if existing is not None:
            self.api.delete_job(name)
        deadline = time.monotonic() + REPLACE_WAIT
        while self.api.read_job(name) is not None:
            if time.monotonic() > deadline:
                raise KubeError(f"kubernetes: the stale Job {name} is still being deleted", 409)
            time.sleep(0.2)
        return self.api.create_job(body)

    def _write_secret(self, secret: Obj) -> None:
        name = secret["metadata"]["name"]
        try:
            self.api.create_secret(secret)
            return
        except KubeError as exc:
            if exc.status != 409:
                raise
        # left by an earlier attempt: take it over with this launch's values and owner
        old = self.api.list("secrets", f"{JOB_ID}={secret['metadata']['labels'][JOB_ID]}")[0]
        stale = {
            k: None for item in old for k in (item.get("data") or {}) if k not in secret["data"]
        }
        self.api.patch_secret(
            name,
            {
                "metadata": {
                    "labels": secret["metadata"]["labels"],
                    "ownerReferences": secret["metadata"]["ownerReferences"],
                },
                "data": {**stale, **secret["data"]},
            },
        )

    # -- cancel / timeout
    async def terminate(self, job_id: str, executor_ref: str | None) -> None:
        """The Job's name follows from the job id (the reference may predate a launch, or come
        from another executor before the server was switched over)."""
        self._tracked.pop(job_id, None)
        await asyncio.to_thread(self.api.delete_job, job_name(job_id))

    # -- restart
    async def reconcile(self, running: list[RunningJob]) -> dict[str, str]:
        jobs = await list_patiently(self.api, "jobs", SELECTOR, RECONCILE_PATIENCE)
        listed = {job_id_of(j): j for j in jobs}
        gone: dict[str, str] = {}
        now = time.monotonic()
        for item in running:
            job = listed.get(item.job_id)
            if job is None:
                name = item.executor_ref or job_name(item.job_id)
                gone[item.job_id] = f"the Kubernetes Job {name} was gone when the server restarted"
            elif job_end(job) is None:
                self._tracked[item.job_id] = Tracked(item.job_id, confirmed_at=now)
            else:
                gone[item.job_id] = await self._end_reason(item.job_id, job)
        for job_id in list(self._tracked):
            cached = self._jobs.get(job_id)  # the watch may have seen it end since our list
            if cached is not None:
                self._evaluate(cached)
        await self._delete_orphan_secrets(set(listed))
        return gone

    async def _delete_orphan_secrets(self, jobs: set[str | None]) -> None:
        secrets = await list_patiently(self.api, "secrets", SELECTOR, RECONCILE_PATIENCE)
        for secret in secrets:
            job_id = job_id_of(secret)
            if job_id not in jobs and job_id not in self._tracked:
                await asyncio.to_thread(self.api.delete_secret, secret["metadata"]["name"])

    # -- watch callbacks (on the loop)
    def _on_sync(self, plural: str, items: list[Obj], listed_at: float) -> None:
        if plural == "pods":
            self._pods = {p["metadata"]["name"]: p for p in items}
            return
        self._jobs = {job_id: j for j in items if (job_id := job_id_of(j))}
        for job_id, tracked in list(self._tracked.items()):
            if job_id in self._jobs:
                self._evaluate(self._jobs[job_id])
            elif tracked.confirmed_at is not None and tracked.confirmed_at < listed_at:
                self._report(
                    job_id,
                    f"the Kubernetes Job {job_name(job_id)} vanished before "
                    "the worker reported a result",
                )

    def _on_event(self, plural: str, kind: str, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        if plural == "pods":
            if kind == "DELETED":
                self._pods.pop(name, None)
            else:
                self._pods[name] = obj
            return
        job_id = job_id_of(obj)
        if job_id is None:
            return
        if kind == "DELETED":
            self._jobs.pop(job_id, None)
            if job_id in self._tracked:
                self._report(
                    job_id,
                    f"the Kubernetes Job {name} was deleted before the worker reported a result",
                )
            return
        self._jobs[job_id] = obj
        self._evaluate(obj)

    def _evaluate(self, job: Obj) -> None:
        job_id = job_id_of(job)
        tracked = self._tracked.get(job_id or "")
        if job_id is None or tracked is None or tracked.ending:
            return
        tracked.confirmed_at = tracked.confirmed_at or time.monotonic()
        end = job_end(job)
        if end is None:
            return
        plain = _plain_end(job, end)
        if plain is not None:
            self._report(job_id, plain)
        else:
            tracked.ending = True
            self._spawn(self._report_failure(job_id, job))

    # -- reporting
    def _report(self, job_id: str, reason: str) -> None:
        tracked = self._tracked.get(job_id)
        if tracked is None or tracked.ending:
            return
        tracked.ending = True
        self._spawn(self._deliver(job_id, reason))

    async def _deliver(self, job_id: str, reason: str) -> None:
        self._tracked.pop(job_id, None)
        if self._lost is not None:
            await self._lost(job_id, reason)

    async def _report_failure(self, job_id: str, job: Obj) -> None:
        try:
            reason = await self._end_reason(job_id, job)
        except KubeError as exc:
            end = job_end(job)
            reason = f"the Kubernetes Job failed ({end.reason if end else 'unknown'}); {exc}"
        await self._deliver(job_id, reason)

    async def _end_reason(self, job_id: str, job: Obj) -> str:
        """Why a finished Job's worker did not report, with the tail of its log stored."""
        end = job_end(job)
        assert end is not None
        plain = _plain_end(job, end)
        if plain is not None:
            return plain
        pods, _ = await asyncio.to_thread(self.api.list, "pods", f"{JOB_ID}={job_id}")
        pod = newest(pods)
        reason = f"the Kubernetes Job failed ({end.reason}): {describe_end(pod)}"
        lines = await asyncio.to_thread(log_tail, self.api, pod, TAIL_LINES) if pod else []
        if lines and self.log_sink is not None:
            await self.log_sink(job_id, lines)
        if lines:
            reason += "; its last output:\n" + "\n".join(lines[-REASON_LINES:])
        return reason

    # -- pods that cannot start
    async def _check_stuck_pods(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            self._scan_stuck()

    def _scan_stuck(self) -> None:
        now = time.monotonic()
        stuck: set[str] = set()
        for pod in self._pods.values():
            job_id = job_id_of(pod)
            if job_id in self._tracked and stuck_reason(pod):
                stuck.add(str(job_id))
        grace = self.settings.kubernetes_pending_grace
        for job_id, tracked in list(self._tracked.items()):
            if job_id not in stuck or tracked.ending:
                tracked.stuck_since = None
                continue
            tracked.stuck_since = tracked.stuck_since or now
            if now - tracked.stuck_since >= grace and not tracked.confirming:
                tracked.confirming = True
                self._spawn(self._confirm_stuck(tracked))

    async def _confirm_stuck(self, tracked: Tracked) -> None:
        """Past the grace by our cache; ask the API (the cache may be stale while the watch
        is down) before failing the job and deleting its Job."""
        job_id = tracked.job_id
        try:
            pods, _ = await asyncio.to_thread(self.api.list, "pods", f"{JOB_ID}={job_id}")
        except KubeError as exc:
            print(f"ckrv: {exc}", file=sys.stderr, flush=True)
            tracked.confirming = False
            return
        tracked.confirming = False
        for pod in pods:
            self._pods[pod["metadata"]["name"]] = pod
        reason = next((r for p in pods if (r := stuck_reason(p))), None)
        if reason is None:
            tracked.stuck_since = None
            return
        grace = self.settings.kubernetes_pending_grace
        self._report(job_id, f"the worker's pod could not start within {grace:g} s: {reason}")
        await asyncio.to_thread(self._delete_quietly, job_id)

    def _delete_quietly(self, job_id: str) -> None:
        try:
            self.api.delete_job(job_name(job_id))
        except KubeError as exc:
            print(f"ckrv: {exc}", file=sys.stderr, flush=True)


def _plain_end(job: Obj, end: JobEnd) -> str | None:
    """Why a Job ended, when no pod needs reading: it completed without a result, or it ran
    past its deadline (the `timeout:` prefix makes the engine end the job `timeout`)."""
    if end.kind == "Complete":
        return "the worker exited without reporting a result"
    if end.reason == "DeadlineExceeded":
        limit = (job.get("spec") or {}).get("activeDeadlineSeconds")
        return (
            f"timeout: job exceeded its timeout of {limit} s and Kubernetes stopped "
            "it (DeadlineExceeded)"
        )
    return None


__all__ = ["KubernetesExecutor", "LogSink"]
