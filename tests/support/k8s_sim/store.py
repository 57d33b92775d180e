"""The simulated API server's storage layer, shaped like etcd behind kube-apiserver: one global
resourceVersion counter, a bounded event history that watches resume from (older versions are
"compacted" and answer 410 Gone), label selectors, and Status errors with the real reasons.

Everything here runs on the simulator's one event loop, so there are no locks."""

from __future__ import annotations

import asyncio
import copy
import re
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.k8s_sim.clock import now_iso

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    plural: str
    kind: str
    api_version: str
    group: str

    @property
    def qualified(self) -> str:
        """How error messages name the resource: `jobs.batch`, `secrets`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES = {
    "jobs": Resource("jobs", "Job", "batch/v1", "batch"),
    "pods": Resource("pods", "Pod", "v1", ""),
    "secrets": Resource("secrets", "Secret", "v1", ""),
}
KINDS = {r.kind: r for r in RESOURCES.values()}


class ApiError(Exception):
    """An error the API answers with a Status object."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{res.qualified} "{name}" not found',
        {"name": name, "group": res.group, "kind": res.plural},
    )


def already_exists(res: Resource, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{res.qualified} "{name}" already exists',
        {"name": name, "group": res.group, "kind": res.plural},
    )


def invalid(res: Resource, name: str, causes: list[str]) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'{res.kind}.{res.group or "core"} "{name}" is invalid: ' + ", ".join(causes),
        {"name": name, "group": res.group, "kind": res.kind},
    )


def gone(requested: int, current: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({current})")


class Selector:
    """Equality- and set-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`,
    `a in (x,y)`, `a notin (x)`."""

    _SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")

    def __init__(self, text: str | None) -> None:
        self.requirements: list[tuple[str, str, frozenset[str]]] = []
        for part in self._split(text or ""):
            self.requirements.append(self._parse(part))

    @staticmethod
    def _split(text: str) -> list[str]:
        parts, depth, current = [], 0, ""
        for char in text:
            depth += {"(": 1, ")": -1}.get(char, 0)
            if char == "," and depth == 0:
                parts.append(current)
                current = ""
            else:
                current += char
        return [p.strip() for p in [*parts, current] if p.strip()]

    def _parse(self, part: str) -> tuple[str, str, frozenset[str]]:
        if match := self._SET.match(part):
            values = frozenset(v.strip() for v in match.group(3).split(",") if v.strip())
            return match.group(1), match.group(2), values
        for op in ("!=", "==", "="):
            if op in part:
                key, value = (s.strip() for s in part.split(op, 1))
                return key, "!=" if op == "!=" else "=", frozenset([value])
        if part.startswith("!"):
            return part[1:].strip(), "!exists", frozenset()
        return part, "exists", frozenset()

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        for key, op, values in self.requirements:
            present, value = key in labels, labels.get(key)
            ok = {
                "=": present and value in values,
                "in": present and value in values,
                "!=": not present or value not in values,
                "notin": not present or value not in values,
                "exists": present,
                "!exists": not present,
            }[op]
            if not ok:
                return False
        return True


@dataclass
class Event:
    rv: int
    type: str
    res: Resource
    namespace: str
    obj: Obj


@dataclass(eq=False)
class Watcher:
    res: Resource
    namespace: str
    selector: Selector
    queue: asyncio.Queue[Event | ApiError | str] = field(default_factory=asyncio.Queue)
    """Events, then an ApiError to send as an ERROR event, or "end" / "drop" to close the
    stream cleanly or abort the connection."""
    sending: bool = False
    """An item is taken from the queue and not yet written to the connection."""
    delivered: int = 0
    """The resourceVersion of the last event written to the connection."""

    def wants(self, event: Event) -> bool:
        labels = event.obj.get("metadata", {}).get("labels")
        return (
            event.res == self.res
            and event.namespace == self.namespace
            and self.selector.matches(labels)
        )


def with_type(res: Resource, obj: Obj) -> Obj:
    return {"apiVersion": res.api_version, "kind": res.kind, **obj}


class Store:
    """Objects by (plural, namespace, name), a global resourceVersion, history for watches."""

    def __init__(self, namespaces: set[str], history: int = 5000) -> None:
        self.namespaces = namespaces
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.rv = 1000
        self.history: deque[Event] = deque(maxlen=history)
        self.compacted = self.rv
        self.watchers: set[Watcher] = set()
        self.listeners: list[Callable[[Event], None]] = []

    # -- reads
    def get(self, res: Resource, namespace: str, name: str) -> Obj:
        obj = self.objects.get((res.plural, namespace, name))
        if obj is None:
            raise not_found(res, name)
        return copy.deepcopy(obj)

    def find(self, res: Resource, namespace: str, name: str) -> Obj | None:
        obj = self.objects.get((res.plural, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, res: Resource, namespace: str, selector: Selector) -> tuple[list[Obj], int]:
        self.check_namespace(namespace)
        items = [
            copy.deepcopy(o)
            for (plural, ns, _), o in sorted(self.objects.items())
            if plural == res.plural
            and ns == namespace
            and selector.matches(o["metadata"].get("labels"))
        ]
        return items, self.rv

    def check_namespace(self, namespace: str) -> None:
        if namespace not in self.namespaces:
            raise ApiError(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )

    # -- writes
    def create(self, res: Resource, namespace: str, obj: Obj, uid: str | None = None) -> Obj:
        self.check_namespace(namespace)
        meta = obj.setdefault("metadata", {})
        name = meta.get("name", "")
        if (res.plural, namespace, name) in self.objects:
            raise already_exists(res, name)
        meta.update(namespace=namespace, uid=uid or str(uuid.uuid4()), creationTimestamp=now_iso())
        if res.kind == "Job":
            meta["generation"] = 1
        for key in ("deletionTimestamp", "resourceVersion"):
            meta.pop(key, None)
        return self._commit("ADDED", res, namespace, with_type(res, obj))

    def update(self, res: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        key = (res.plural, meta["namespace"], meta["name"])
        if key not in self.objects:
            raise not_found(res, meta["name"])
        return self._commit("MODIFIED", res, meta["namespace"], obj)

    def remove(self, res: Resource, namespace: str, name: str) -> Obj:
        obj = self.objects.get((res.plural, namespace, name))
        if obj is None:
            raise not_found(res, name)
        return self._commit("DELETED", res, namespace, copy.deepcopy(obj))

    def _commit(self, kind: str, res: Resource, namespace: str, obj: Obj) -> Obj:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        key = (res.plural, namespace, obj["metadata"]["name"])
        if kind == "DELETED":
            del self.objects[key]
        else:
            self.objects[key] = obj
        event = Event(self.rv, kind, res, namespace, copy.deepcopy(obj))
        if len(self.history) == self.history.maxlen:
            self.compacted = self.history[0].rv
        self.history.append(event)
        for watcher in list(self.watchers):
            if watcher.wants(event):
                watcher.queue.put_nowait(event)
        for listener in list(self.listeners):
            listener(event)
        return copy.deepcopy(obj)

    # -- watches
    def watch(
        self, res: Resource, namespace: str, selector: Selector, since: int | None
    ) -> Watcher:
        """A watcher primed with the events after `since` (or synthetic ADDED events for the
        current state when `since` is None), then fed live. Too old a `since` is 410 Gone."""
        self.check_namespace(namespace)
        watcher = Watcher(res, namespace, selector)
        if since is None:
            items, rv = self.list(res, namespace, selector)
            for item in items:
                watcher.queue.put_nowait(Event(rv, "ADDED", res, namespace, with_type(res, item)))
        elif since < self.compacted:
            raise gone(since, self.rv)
        else:
            for event in self.history:
                if event.rv > since and watcher.wants(event):
                    watcher.queue.put_nowait(event)
        self.watchers.add(watcher)
        return watcher

    def compact(self) -> None:
        """Forget all history, as etcd compaction does: every watch from an older version 410s."""
        self.history.clear()
        self.compacted = self.rv

    def end_watches(self, error: ApiError | None = None, drop: bool = False) -> int:
        """End every open watch: after an ERROR event when `error` is given; `drop` aborts the
        connection mid-stream instead of ending it. Returns how many watches there were."""
        for watcher in list(self.watchers):
            if error is not None:
                watcher.queue.put_nowait(error)
            watcher.queue.put_nowait("drop" if drop else "end")
        return len(self.watchers)
