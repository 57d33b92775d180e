"""DELETE with propagation policies, and the garbage collector that follows ownerReferences.

- Background: the owner goes now; its dependents are deleted afterwards.
- Foreground: the owner gets a deletionTimestamp and the `foregroundDeletion` finalizer, its
  dependents are deleted, and it goes once no dependent with `blockOwnerDeletion` is left.
- Orphan (the REST default for batch/v1 Jobs, kept for compatibility): the dependents lose
  their ownerReference and stay.
Pods are deleted gracefully: the kubelet stops the container, then removes the object.
An object whose owners (by uid) all no longer exist is collected too."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from tests.support.k8s_sim.clock import now_iso
from tests.support.k8s_sim.store import KINDS, RESOURCES, ApiError, Event, Obj, Resource, Store

FOREGROUND = "foregroundDeletion"


class PodTerminator(Protocol):
    def terminate(self, pod: Obj, grace: int | None) -> bool:
        """Begin stopping the pod's containers; True when the kubelet will remove it later."""


class Collector:
    def __init__(self, store: Store, kubelet: Callable[[], PodTerminator]) -> None:
        self.store = store
        self.kubelet = kubelet
        store.listeners.append(self._on_event)

    def delete(
        self, res: Resource, namespace: str, name: str, policy: str | None, grace: int | None = None
    ) -> tuple[Obj, int]:
        """The DELETE verb. Returns the object and the HTTP status (202 when it lingers)."""
        obj = self.store.get(res, namespace, name)
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return obj, 202
        policy = policy or ("Orphan" if res.kind == "Job" else "Background")
        if policy not in {"Orphan", "Background", "Foreground"}:
            raise ApiError(400, "BadRequest", f"unsupported propagationPolicy {policy!r}")
        if policy == "Orphan":
            self._orphan(namespace, meta["uid"])
        if policy == "Foreground":
            meta["finalizers"] = [*meta.get("finalizers", []), FOREGROUND]
        if res.kind == "Pod":
            return self._delete_pod(obj, grace)
        if meta.get("finalizers"):
            meta["deletionTimestamp"] = now_iso()
            obj = self.store.update(res, obj)
            if policy == "Foreground":
                self._delete_dependents(namespace, meta["uid"])
                self._finish_foreground(res, namespace, name)
            return obj, 202
        return self.store.remove(res, namespace, name), 200

    def _delete_pod(self, pod: Obj, grace: int | None) -> tuple[Obj, int]:
        meta = pod["metadata"]
        meta["deletionTimestamp"] = now_iso()
        meta["deletionGracePeriodSeconds"] = (
            grace if grace is not None else pod["spec"].get("terminationGracePeriodSeconds", 30)
        )
        pod = self.store.update(RESOURCES["pods"], pod)
        if FOREGROUND in meta.get("finalizers", []):
            self._delete_dependents(meta["namespace"], meta["uid"])
        if self.kubelet().terminate(pod, grace):
            return pod, 200
        return self.finalize_pod(meta["namespace"], meta["name"]) or pod, 200

    def finalize_pod(self, namespace: str, name: str) -> Obj | None:
        """The kubelet's last word on a deleted pod: drop our own finalizer, remove the object."""
        pod = self.store.find(RESOURCES["pods"], namespace, name)
        if pod is None:
            return None
        finalizers = [f for f in pod["metadata"].get("finalizers", []) if f != FOREGROUND]
        if finalizers:
            pod["metadata"]["finalizers"] = finalizers
            return self.store.update(RESOURCES["pods"], pod)
        return self.store.remove(RESOURCES["pods"], namespace, name)

    # -- ownerReferences
    def _dependents(self, namespace: str, uid: str) -> list[tuple[Resource, Obj]]:
        found = []
        for (plural, ns, _), obj in list(self.store.objects.items()):
            refs = obj["metadata"].get("ownerReferences") or []
            if ns == namespace and any(r.get("uid") == uid for r in refs):
                found.append((RESOURCES[plural], obj))
        return found

    def _orphan(self, namespace: str, uid: str) -> None:
        for res, obj in self._dependents(namespace, uid):
            updated = {**obj, "metadata": dict(obj["metadata"])}
            refs = [r for r in obj["metadata"]["ownerReferences"] if r.get("uid") != uid]
            updated["metadata"]["ownerReferences"] = refs
            self.store.update(res, updated)

    def _delete_dependents(self, namespace: str, uid: str) -> None:
        for res, obj in self._dependents(namespace, uid):
            if not obj["metadata"].get("deletionTimestamp"):
                self.delete(res, namespace, obj["metadata"]["name"], "Background")

    def _finish_foreground(self, res: Resource, namespace: str, name: str) -> None:
        owner = self.store.find(res, namespace, name)
        if owner is None or FOREGROUND not in owner["metadata"].get("finalizers", []):
            return
        blocking = [
            o
            for _, o in self._dependents(namespace, owner["metadata"]["uid"])
            if any(
                r.get("uid") == owner["metadata"]["uid"] and r.get("blockOwnerDeletion")
                for r in o["metadata"]["ownerReferences"]
            )
        ]
        if blocking:
            return
        owner["metadata"]["finalizers"] = [
            f for f in owner["metadata"]["finalizers"] if f != FOREGROUND
        ]
        if owner["metadata"]["finalizers"]:
            self.store.update(res, owner)
        elif res.kind == "Pod":
            self.finalize_pod(namespace, name)
        else:
            self.store.remove(res, namespace, name)

    def _owner_exists(self, namespace: str, ref: Obj) -> bool:
        res = KINDS.get(ref.get("kind", ""))
        if res is None:
            return True  # not a kind we simulate: leave it alone, as GC does for unknown kinds
        owner = self.store.objects.get((res.plural, namespace, ref.get("name", "")))
        return owner is not None and owner["metadata"]["uid"] == ref.get("uid")

    def _collect(self, res: Resource, namespace: str, name: str) -> None:
        obj = self.store.find(res, namespace, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        refs = obj["metadata"].get("ownerReferences") or []
        if refs and not any(self._owner_exists(namespace, r) for r in refs):
            self.delete(res, namespace, name, "Background")

    def _on_event(self, event: Event) -> None:
        """Work the real GC does asynchronously from its informers, scheduled the same way."""
        loop = asyncio.get_running_loop()
        meta = event.obj["metadata"]
        if event.type == "DELETED":
            for res, obj in self._dependents(event.namespace, meta["uid"]):
                loop.call_soon(self._collect, res, event.namespace, obj["metadata"]["name"])
            for ref in meta.get("ownerReferences") or []:
                owner_res = KINDS.get(ref.get("kind", ""))
                if owner_res is not None:
                    loop.call_soon(
                        self._finish_foreground, owner_res, event.namespace, ref.get("name", "")
                    )
        elif event.type == "ADDED" and meta.get("ownerReferences"):
            loop.call_soon(self._collect, event.res, event.namespace, meta["name"])
