"""The HTTP face of the simulated API server: the paths, verbs, status codes and bodies the
official client sees from kube-apiserver for batch/v1 Jobs, v1 Secrets, v1 Pods and pods/log.

Watches answer 200 and stream newline-delimited `{"type", "object"}` events; a
resourceVersion that is too old gets an ERROR event carrying a 410 Status (not an HTTP 410),
exactly as the real server does. Errors are Status objects with the real reasons."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.k8s_sim.gc import Collector
from tests.support.k8s_sim.kubelet import Kubelet
from tests.support.k8s_sim.logs import read_log
from tests.support.k8s_sim.objects import admit_job, admit_secret
from tests.support.k8s_sim.patch import apply_patch
from tests.support.k8s_sim.rbac import Policy
from tests.support.k8s_sim.store import RESOURCES, ApiError, Obj, Resource, Selector, Store, Watcher

GROUPS = {"": {"pods", "secrets"}, "batch": {"jobs"}}


class DropConnection(Exception):
    """Raised inside a streaming body to abort the connection without ending the stream."""


@dataclass
class Parts:
    store: Store
    collector: Collector
    kubelet: Kubelet
    token: str
    policy: Policy | None = None
    bookmark_interval: float = 1.0
    unavailable: bool = False
    """The API server is down (behind its load balancer): every request answers 503."""
    refuse_watches: bool = False
    """An outage of the watch cache: new watches answer 503 until it is lifted."""


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.status(), status_code=exc.code)


def _strip_type(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in {"apiVersion", "kind"}}


class Handlers:
    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    # -- plumbing
    def _resource(self, request: Request) -> Resource:
        group = "batch" if request.url.path.startswith("/apis/batch/") else ""
        plural = request.path_params["plural"]
        if plural not in GROUPS[group]:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return RESOURCES[plural]

    def _authorize(self, request: Request, res: Resource, verb: str, sub: str = "") -> None:
        if self.parts.unavailable:
            raise ApiError(503, "ServiceUnavailable", "the API server is shutting down")
        if request.headers.get("authorization") != f"Bearer {self.parts.token}":
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if self.parts.policy is not None:
            resource = f"{res.plural}/{sub}" if sub else res.plural
            self.parts.policy.check(request.path_params["ns"], res.group, resource, verb)

    async def _body(self, request: Request) -> Obj:
        try:
            body = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError as exc:
            raise ApiError(400, "BadRequest", f"invalid JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body must be a JSON object")
        return body

    # -- collections
    async def collection(self, request: Request) -> Response:
        try:
            res = self._resource(request)
            if request.method == "POST":
                self._authorize(request, res, "create")
                return await self._create(request, res)
            watching = request.query_params.get("watch") in {"true", "1"}
            self._authorize(request, res, "watch" if watching else "list")
            selector = Selector(request.query_params.get("labelSelector"))
            if watching:
                return self._watch(request, res, selector)
            items, rv = self.parts.store.list(res, request.path_params["ns"], selector)
            return JSONResponse(
                {
                    "kind": f"{res.kind}List",
                    "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(rv)},
                    "items": [_strip_type(i) for i in items],
                }
            )
        except ApiError as exc:
            return _error(exc)

    async def _create(self, request: Request, res: Resource) -> Response:
        namespace = request.path_params["ns"]
        body = await self._body(request)
        if body.get("metadata", {}).get("namespace", namespace) != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not "
                "match the namespace sent on the request",
            )
        if res.kind == "Pod":
            raise ApiError(405, "MethodNotAllowed", "creating pods directly is not simulated")
        uid = str(uuid.uuid4())
        admitted = admit_job(body, uid) if res.kind == "Job" else admit_secret(body)
        created = self.parts.store.create(res, namespace, admitted, uid)
        return JSONResponse(created, status_code=201)

    def _watch(self, request: Request, res: Resource, selector: Selector) -> Response:
        if self.parts.refuse_watches:
            raise ApiError(503, "ServiceUnavailable", "the watch cache is not ready")
        params = request.query_params
        since = params.get("resourceVersion") or None
        timeout = float(params.get("timeoutSeconds") or 1800)
        bookmarks = params.get("allowWatchBookmarks") in {"true", "1"}
        namespace = request.path_params["ns"]
        try:
            watcher = self.parts.store.watch(
                res, namespace, selector, None if since in {None, "0"} else int(since or 0)
            )
        except ApiError as exc:
            if exc.code != 410:
                raise
            line = json.dumps({"type": "ERROR", "object": exc.status()}) + "\n"
            return Response(line, media_type="application/json")
        stream = self._events(watcher, res, timeout, bookmarks)
        return StreamingResponse(stream, media_type="application/json")

    async def _events(
        self, watcher: Watcher, res: Resource, timeout: float, bookmarks: bool
    ) -> AsyncIterator[bytes]:
        store = self.parts.store
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while (remaining := deadline - loop.time()) > 0:
                try:
                    item = await asyncio.wait_for(
                        watcher.queue.get(), min(remaining, self.parts.bookmark_interval)
                    )
                    watcher.sending = True
                except TimeoutError:
                    if bookmarks:
                        mark = {
                            "kind": res.kind,
                            "apiVersion": res.api_version,
                            "metadata": {"resourceVersion": str(store.rv)},
                        }
                        yield _line("BOOKMARK", mark)
                    continue
                if item == "end":
                    return
                if item == "drop":
                    raise DropConnection
                if isinstance(item, ApiError):
                    yield _line("ERROR", item.status())
                elif not isinstance(item, str):
                    yield _line(item.type, item.obj)  # resumes once the chunk is sent
                    watcher.delivered = item.rv
                watcher.sending = False
        finally:
            store.watchers.discard(watcher)

    # -- single objects
    async def item(self, request: Request) -> Response:
        try:
            res = self._resource(request)
            namespace, name = request.path_params["ns"], request.path_params["name"]
            store = self.parts.store
            if request.method == "GET":
                self._authorize(request, res, "get")
                return JSONResponse(store.get(res, namespace, name))
            if request.method == "DELETE":
                self._authorize(request, res, "delete")
                return await self._delete(request, res, namespace, name)
            self._authorize(request, res, "patch")
            return await self._patch(request, res, namespace, name)
        except ApiError as exc:
            return _error(exc)

    async def _delete(self, request: Request, res: Resource, namespace: str, name: str) -> Response:
        options = await self._body(request)
        policy = request.query_params.get("propagationPolicy") or options.get("propagationPolicy")
        grace = request.query_params.get("gracePeriodSeconds") or options.get("gracePeriodSeconds")
        obj, code = self.parts.collector.delete(
            res, namespace, name, policy, None if grace is None else int(grace)
        )
        return JSONResponse(obj, status_code=code)

    async def _patch(self, request: Request, res: Resource, namespace: str, name: str) -> Response:
        if res.kind != "Secret":
            raise ApiError(405, "MethodNotAllowed", f"patching {res.plural} is not simulated")
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        current = self.parts.store.get(res, namespace, name)
        patched = apply_patch(current, await self._body(request), content_type)
        for key in ("name", "namespace", "uid", "creationTimestamp", "resourceVersion"):
            patched["metadata"][key] = current["metadata"][key]
        return JSONResponse(self.parts.store.update(res, admit_secret(patched)))

    async def log(self, request: Request) -> Response:
        try:
            res = RESOURCES["pods"]
            self._authorize(request, res, "get", "log")
            return await read_log(self.parts.store, self.parts.kubelet, request)
        except ApiError as exc:
            return _error(exc)

    async def version(self, request: Request) -> Response:
        return JSONResponse(
            {
                "major": "1",
                "minor": "33",
                "gitVersion": "v1.33.0-ckrv-sim",
                "platform": "linux/amd64",
            }
        )

    async def not_found(self, request: Request) -> Response:
        return _error(ApiError(404, "NotFound", "the server could not find the requested resource"))


def _line(kind: str, obj: Any) -> bytes:
    return (json.dumps({"type": kind, "object": obj}) + "\n").encode()


def build_app(parts: Parts) -> Starlette:
    h = Handlers(parts)
    item_methods = ["GET", "DELETE", "PATCH"]
    routes = [
        Route("/version", h.version),
        Route("/api/v1/namespaces/{ns}/pods/{name}/log", h.log),
        Route("/api/v1/namespaces/{ns}/{plural}", h.collection, methods=["GET", "POST"]),
        Route("/api/v1/namespaces/{ns}/{plural}/{name}", h.item, methods=item_methods),
        Route("/apis/batch/v1/namespaces/{ns}/{plural}", h.collection, methods=["GET", "POST"]),
        Route("/apis/batch/v1/namespaces/{ns}/{plural}/{name}", h.item, methods=item_methods),
    ]
    app = Starlette(routes=routes)
    app.add_route("/{path:path}", h.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    return app
