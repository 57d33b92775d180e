"""A whole simulated cluster: API server (uvicorn on a loopback port, in its own thread and
event loop), the Job and TTL controllers, the garbage collector and a process-based kubelet.
Tests talk to it through a kubeconfig like any client, and reach inside only to inspect state
and inject faults (every such call runs on the cluster's loop, so nothing races)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from tests.support.k8s_sim.api import Parts, build_app
from tests.support.k8s_sim.controllers import JobController
from tests.support.k8s_sim.gc import Collector
from tests.support.k8s_sim.images import Image, ImageRegistry, fake_worker_image, worker_image
from tests.support.k8s_sim.kubelet import Faults, Kubelet
from tests.support.k8s_sim.rbac import Policy
from tests.support.k8s_sim.store import RESOURCES, Obj, Selector, Store, gone

T = TypeVar("T")
WORKER_IMAGE = "ckrv-worker:test"
FAKE_IMAGE = "ckrv-fake-worker:test"


class SimCluster:
    def __init__(
        self,
        root: Path,
        namespaces: tuple[str, ...] = ("ckrv-jobs",),
        policy: Policy | None = None,
        bookmark_interval: float = 1.0,
        history: int = 5000,
    ) -> None:
        self.root = root
        self.namespaces = namespaces
        self.policy = policy
        self.bookmark_interval = bookmark_interval
        self.history = history
        self.token = secrets.token_urlsafe(24)
        self.faults = Faults()
        self.images = ImageRegistry()
        self.images.push(WORKER_IMAGE, worker_image())
        self.images.push(FAKE_IMAGE, fake_worker_image())
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._server: Any = None
        self.parts: Parts | None = None

    # -- lifecycle
    def start(self) -> SimCluster:
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(512)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._thread = threading.Thread(
            target=self._main, args=(sock,), name="k8s-sim", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the simulated API server did not start")
        return self

    def _main(self, sock: socket.socket) -> None:
        asyncio.run(self._serve(sock))

    async def _serve(self, sock: socket.socket) -> None:
        import uvicorn

        self._loop = asyncio.get_running_loop()
        store = Store(set(self.namespaces), history=self.history)
        kubelet_ref: list[Kubelet] = []
        collector = Collector(store, lambda: kubelet_ref[0])
        kubelet = Kubelet(store, collector, self.images, self.root, self.faults)
        kubelet_ref.append(kubelet)
        controller = JobController(store, collector)
        self.parts = Parts(
            store, collector, kubelet, self.token, self.policy, self.bookmark_interval
        )
        config = uvicorn.Config(
            build_app(self.parts),
            log_level="critical",
            access_log=False,
            lifespan="off",
            http="h11",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._loop.call_soon(self._ready.set)
        try:
            await self._server.serve(sockets=[sock])
        finally:
            controller.close()
            await kubelet.close()
            sock.close()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self.call(lambda: self._store.end_watches())
        self._loop.call_soon_threadsafe(setattr, self._server, "should_exit", True)
        self._thread.join(15)
        self._loop = None

    # -- running things on the cluster's loop
    @property
    def _store(self) -> Store:
        assert self.parts is not None
        return self.parts.store

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the cluster's loop and return its result."""
        assert self._loop is not None
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=15)

    def kubeconfig(self, path: Path, namespace: str = "ckrv-jobs") -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: sim\n  cluster:\n    server: {self.url}\n"
            f"users:\n- name: ckrv-server\n  user:\n    token: {self.token}\n"
            f"contexts:\n- name: sim\n  context:\n    cluster: sim\n    user: ckrv-server\n"
            f"    namespace: {namespace}\n"
            "current-context: sim\n"
        )
        return path

    # -- inspection
    def objects(self, plural: str, selector: str = "", namespace: str = "ckrv-jobs") -> list[Obj]:
        return self.call(
            lambda: self._store.list(RESOURCES[plural], namespace, Selector(selector))[0]
        )

    def get(self, plural: str, name: str, namespace: str = "ckrv-jobs") -> Obj | None:
        return self.call(lambda: self._store.find(RESOURCES[plural], namespace, name))

    def pods_of(self, job_name: str, namespace: str = "ckrv-jobs") -> list[Obj]:
        return self.objects("pods", f"batch.kubernetes.io/job-name={job_name}", namespace)

    def pod_log(self, name: str, container: str = "worker", namespace: str = "ckrv-jobs") -> str:
        """What the container has printed so far (as `kubectl logs` would show)."""
        assert self.parts is not None
        path = self.parts.kubelet.log_path(namespace, name, container)
        return path.read_text(errors="replace") if path.exists() else ""

    def open_watches(self) -> int:
        return self.call(lambda: len(self._store.watchers))

    def changes(self, plural: str, name: str) -> list[tuple[int, str, dict[str, Any]]]:
        """Every stored change to one object, in order: (resourceVersion, ADDED | MODIFIED |
        DELETED, the object as stored), from the store's history (which watches resume from)."""
        return self.call(
            lambda: [
                (e.rv, e.type, e.obj)
                for e in self._store.history
                if e.res.plural == plural and e.obj["metadata"]["name"] == name
            ]
        )

    def delivered(self) -> dict[str, int] | None:
        """None while an open watch still has an event queued or being written; once every
        event is delivered, the last resourceVersion each resource's watches were sent."""

        def versions() -> dict[str, int] | None:
            watchers = self._store.watchers
            if any(w.sending or not w.queue.empty() for w in watchers):
                return None
            sent: dict[str, int] = {}
            for watcher in watchers:
                plural = watcher.res.plural
                sent[plural] = max(sent.get(plural, 0), watcher.delivered)
            return sent

        return self.call(versions)

    def push_image(self, ref: str, image: Image) -> None:
        self.images.push(ref, image)

    # -- faults
    def expire_watches(self) -> int:
        """Compact history and end every open watch with ERROR 410 (Expired): every client
        must re-list. Returns how many watches were open."""
        store = self._store

        def expire() -> int:
            store.compact()
            return store.end_watches(gone(0, store.rv))

        return self.call(expire)

    def compact(self) -> None:
        """Compact history only: the next watch that resumes from an older version gets 410."""
        self.call(self._store.compact)

    def drop_watches(self) -> int:
        """Abort every open watch connection mid-stream (no terminating chunk)."""
        return self.call(lambda: self._store.end_watches(drop=True))

    def unavailable(self, down: bool) -> None:
        """While on, every API request answers 503 (the API server restarting)."""
        assert self.parts is not None
        parts = self.parts
        self.call(lambda: setattr(parts, "unavailable", down))

    def refuse_watches(self, refuse: bool) -> None:
        """While on, new watch requests fail with 503 (an API server outage for watchers)."""
        assert self.parts is not None
        parts = self.parts
        self.call(lambda: setattr(parts, "refuse_watches", refuse))

    def delete(
        self, plural: str, name: str, policy: str | None = None, namespace: str = "ckrv-jobs"
    ) -> None:
        """What `kubectl delete` does (kubectl asks for Background propagation)."""
        assert self.parts is not None
        collector = self.parts.collector
        self.call(lambda: collector.delete(RESOURCES[plural], namespace, name, policy))

    def delete_pod(self, name: str, namespace: str = "ckrv-jobs") -> None:
        self.delete("pods", name, None, namespace)

    def evict_pod(self, name: str, namespace: str = "ckrv-jobs") -> bool:
        assert self.parts is not None
        kubelet = self.parts.kubelet
        message = (
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: "
            "87Mi. Container worker was using 1838Mi, request is 2Gi, has larger "
            "consumption of memory."
        )
        return self.call(lambda: kubelet.evict(namespace, name, message))

    def oom_kill(self, name: str, namespace: str = "ckrv-jobs") -> bool:
        assert self.parts is not None
        kubelet = self.parts.kubelet
        return self.call(lambda: kubelet.oom_kill(namespace, name))
