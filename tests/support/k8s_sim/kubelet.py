"""A process-based kubelet on one simulated node. It runs each Pod's container by really
starting its command as a local subprocess (own session, so the whole tree can be killed), with
the environment resolved from Secrets (`envFrom` and `secretKeyRef`) and the container's log
captured to a file that `pods/log` serves. It reports status the way the real kubelet does
(waiting reasons, terminated exit codes, OOMKilled, Evicted), enforces the memory limit by
watching the process's RSS, and stops containers gracefully when their Pod is deleted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.k8s_sim import podstatus
from tests.support.k8s_sim.clock import now_iso
from tests.support.k8s_sim.gc import Collector
from tests.support.k8s_sim.images import Image, ImageRegistry
from tests.support.k8s_sim.objects import condition
from tests.support.k8s_sim.podenv import ContainerConfigError, EnvResolver, in_sandbox
from tests.support.k8s_sim.quantity import parse_memory
from tests.support.k8s_sim.store import RESOURCES, Event, Obj, Store

PODS = RESOURCES["pods"]
SECRETS = RESOURCES["secrets"]


@dataclass
class Faults:
    """Switches the tests flip to make the node misbehave."""

    unschedulable: bool = False
    retry_interval: float = 0.2
    max_grace: float = 5.0
    memory_poll: float = 0.1  # how often the memory limit is checked


@dataclass
class Container:
    process: asyncio.subprocess.Process
    log: Path
    ended_by: str = ""  # "", "OOMKilled", "Evicted", "Deleted"
    eviction_message: str = ""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class Kubelet:
    def __init__(
        self, store: Store, collector: Collector, images: ImageRegistry, root: Path, faults: Faults
    ) -> None:
        self.store, self.collector, self.images = store, collector, images
        self.root, self.faults = root, faults
        self.containers: dict[tuple[str, str], Container] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.env = EnvResolver(store)
        store.listeners.append(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.res is PODS and event.type == "ADDED":
            meta = event.obj["metadata"]
            task = asyncio.get_running_loop().create_task(
                self._run(meta["namespace"], meta["name"])
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        """Node shutdown: kill every container and reap it, then stop what is left."""
        running = list(self.containers.values())
        for container in running:
            _kill(container.process, signal.SIGKILL)
        await asyncio.gather(*(c.process.wait() for c in running), return_exceptions=True)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # -- status helpers
    def _status(self, namespace: str, name: str, change: Callable[[Obj], None]) -> Obj | None:
        pod = self.store.find(PODS, namespace, name)
        if pod is None:
            return None
        change(pod)
        return self.store.update(PODS, pod)

    def _deleting(self, namespace: str, name: str) -> bool:
        pod = self.store.find(PODS, namespace, name)
        return pod is None or bool(pod["metadata"].get("deletionTimestamp"))

    def _wait_state(self, namespace: str, name: str, reason: str, message: str = "") -> None:
        def change(pod: Obj) -> None:
            spec = pod["spec"]["containers"][0]
            pod["status"]["containerStatuses"] = [
                {
                    "name": spec["name"],
                    "image": spec["image"],
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "lastState": {},
                    "state": {
                        "waiting": {"reason": reason, **({"message": message} if message else {})}
                    },
                }
            ]

        self._status(namespace, name, change)

    # -- the pod's life
    async def _run(self, namespace: str, name: str) -> None:
        pod = self.store.find(PODS, namespace, name)
        if pod is None:
            return
        if self.faults.unschedulable:
            self._status(namespace, name, podstatus.unschedulable)
            return
        self._status(namespace, name, podstatus.scheduled)
        self._wait_state(namespace, name, "ContainerCreating")
        if not await self._run_init_containers(namespace, name, pod):
            return
        spec = pod["spec"]["containers"][0]
        image = await self._pull(namespace, name, spec["image"])
        if image is None:
            return
        env = await self._resolve_env(namespace, name, pod, spec, image)
        if env is None:
            return
        await self._start(namespace, name, pod, spec, image, env)

    async def _run_init_containers(self, namespace: str, name: str, pod: Obj) -> bool:
        """Run each init container to its end, in order, like the real kubelet: a failed one
        fails the pod (restartPolicy Never) and the main container never starts."""
        for spec in pod["spec"].get("initContainers") or []:
            image = await self._pull(namespace, name, spec["image"])
            if image is None:
                return False
            env = await self._resolve_env(namespace, name, pod, spec, image)
            if env is None:
                return False
            sandbox = self._sandbox(namespace, name)
            log = sandbox / "logs" / f"{spec['name']}-0.log"
            with log.open("wb") as out:
                process = await asyncio.create_subprocess_exec(
                    *image.argv(spec.get("command"), spec.get("args")),
                    env=env,
                    cwd=sandbox / "work",
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    stdin=asyncio.subprocess.DEVNULL,
                    start_new_session=True,
                )
            code = await process.wait()
            if code != 0:
                message = f"init container {spec['name']} exited with code {code}"
                self._terminated(namespace, name, code, "Init:Error", message, now_iso())
                return False
        return True

    async def _pull(self, namespace: str, name: str, ref: str) -> Image | None:
        if not self.images.valid_name(ref):
            self._wait_state(
                namespace,
                name,
                "InvalidImageName",
                f'Failed to apply default image tag "{ref}": couldn\'t parse image '
                "name: invalid reference format",
            )
            return None
        attempt = 0
        while (image := self.images.pull(ref)) is None:
            if self._deleting(namespace, name):
                self.collector.finalize_pod(namespace, name)
                return None
            reason = "ErrImagePull" if attempt % 2 == 0 else "ImagePullBackOff"
            message = (
                f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}"'
                if reason == "ErrImagePull"
                else f'Back-off pulling image "{ref}"'
            )
            self._wait_state(namespace, name, reason, message)
            attempt += 1
            await asyncio.sleep(self.faults.retry_interval)
        return image

    async def _resolve_env(
        self, namespace: str, name: str, pod: Obj, spec: Obj, image: Image
    ) -> dict[str, str] | None:
        while True:
            if self._deleting(namespace, name):
                self.collector.finalize_pod(namespace, name)
                return None
            try:
                return self.env.environment(
                    namespace, pod, spec, image, self._sandbox(namespace, pod["metadata"]["name"])
                )
            except ContainerConfigError as exc:
                self._wait_state(namespace, name, "CreateContainerConfigError", str(exc))
            await asyncio.sleep(self.faults.retry_interval)

    def _sandbox(self, namespace: str, name: str) -> Path:
        path = self.root / namespace / name
        for sub in ("home", "tmp", "work", "logs"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        return path

    async def _start(
        self, namespace: str, name: str, pod: Obj, spec: Obj, image: Image, env: dict[str, str]
    ) -> None:
        sandbox = self._sandbox(namespace, name)
        argv = image.argv(spec.get("command"), spec.get("args"))
        workdir = Path(
            in_sandbox(spec.get("workingDir") or "", self.env.mounts(sandbox, spec))
            or sandbox / "work"
        )
        if not workdir.is_relative_to(sandbox):
            workdir = sandbox / "work"  # the image's own directories do not exist here
        log = sandbox / "logs" / f"{spec['name']}-0.log"
        with log.open("wb") as out:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    env=env,
                    cwd=workdir,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    stdin=asyncio.subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as exc:
                self._terminated(namespace, name, 128, "StartError", str(exc), now_iso())
                return
        container = Container(process, log)
        self.containers[(namespace, name)] = container
        if self._deleting(namespace, name):  # deleted while we were starting it
            container.ended_by = "Deleted"
            _kill(process, signal.SIGKILL)
        started = now_iso()
        self._status(namespace, name, lambda p: podstatus.running(p, started))
        limit = parse_memory(((spec.get("resources") or {}).get("limits") or {}).get("memory"))
        if limit:
            container.tasks.append(asyncio.create_task(self._watch_memory(container, limit)))
        code = await process.wait()
        for task in container.tasks:
            task.cancel()
        del self.containers[(namespace, name)]
        await self._finish(namespace, name, container, code, started)

    async def _finish(
        self, namespace: str, name: str, container: Container, code: int, started: str
    ) -> None:
        exit_code = 128 - code if code < 0 else code  # a signal shows as 128 + its number
        if container.ended_by == "Deleted" or self._deleting(namespace, name):
            self.collector.finalize_pod(namespace, name)
            shutil.rmtree(self.root / namespace / name, ignore_errors=True)
            return
        reason = {"OOMKilled": "OOMKilled"}.get(
            container.ended_by, "Completed" if exit_code == 0 else "Error"
        )
        self._terminated(namespace, name, exit_code, reason, "", started)
        if container.ended_by == "Evicted":
            self._status(
                namespace, name, lambda p: podstatus.evicted(p, container.eviction_message)
            )

    def _terminated(
        self, namespace: str, name: str, code: int, reason: str, message: str, started: str
    ) -> None:
        def change(pod: Obj) -> None:
            status = pod["status"]
            status["phase"] = "Succeeded" if code == 0 else "Failed"
            for item in status.get("containerStatuses", []):
                item.update(
                    ready=False,
                    started=False,
                    state={
                        "terminated": {
                            "exitCode": code,
                            "reason": reason,
                            "startedAt": started,
                            "finishedAt": now_iso(),
                            "containerID": item.get("containerID", ""),
                            **({"message": message} if message else {}),
                        }
                    },
                )
            status["conditions"] = [
                c
                if c["type"] != "Ready"
                else condition(
                    "Ready", "PodCompleted" if code == 0 else "PodFailed", status="False"
                )
                for c in status.get("conditions", [])
            ]

        self._status(namespace, name, change)

    async def _watch_memory(self, container: Container, limit: int) -> None:
        """The cgroup OOM killer, approximated: SIGKILL the container once the resident memory
        of its whole process tree passes the memory limit."""
        while container.process.returncode is None:
            if tree_rss(container.process.pid) > limit:
                container.ended_by = "OOMKilled"
                _kill(container.process, signal.SIGKILL)
                return
            await asyncio.sleep(self.faults.memory_poll)

    # -- what the API and the tests ask of the node
    def terminate(self, pod: Obj, grace: int | None) -> bool:
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        container = self.containers.get(key)
        if container is None:
            shutil.rmtree(self.root.joinpath(*key), ignore_errors=True)
            return False
        container.ended_by = container.ended_by or "Deleted"
        seconds = pod["metadata"].get("deletionGracePeriodSeconds", 30)
        _kill(container.process, signal.SIGTERM if seconds else signal.SIGKILL)
        if seconds:
            asyncio.get_running_loop().call_later(
                min(float(seconds), self.faults.max_grace), _kill, container.process, signal.SIGKILL
            )
        return True

    def evict(self, namespace: str, name: str, message: str) -> bool:
        container = self.containers.get((namespace, name))
        if container is None:
            return False
        container.ended_by, container.eviction_message = "Evicted", message
        _kill(container.process, signal.SIGKILL)
        return True

    def oom_kill(self, namespace: str, name: str) -> bool:
        container = self.containers.get((namespace, name))
        if container is None:
            return False
        container.ended_by = "OOMKilled"
        _kill(container.process, signal.SIGKILL)
        return True

    def log_path(self, namespace: str, name: str, container: str) -> Path:
        return self.root / namespace / name / "logs" / f"{container}-0.log"

    def is_running(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self.containers


def tree_rss(pid: int) -> int:
    """Bytes resident in `pid` and all its descendants (from /proc, children lists)."""
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        with contextlib.suppress(OSError, ValueError, IndexError):
            statm = Path(f"/proc/{current}/statm").read_text().split()
            total += int(statm[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return total


def _kill(process: asyncio.subprocess.Process, sig: int) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
