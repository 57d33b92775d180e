"""The app factory: `create_app(settings)` builds a Starlette app with its own Services."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route, compile_path
from starlette.types import Receive, Scope, Send

from ckrv.server.http import HTTPError, http_error_handler
from ckrv.server.services import Services
from ckrv.settings import Settings


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        {"error": code, "message": str(exc.detail)},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def api_routes() -> list[BaseRoute]:
    from ckrv.server.routes import auth, credentials, jobs, logs, openapi, secrets, worker

    return [  # order matters only among routes of one shape (PrefixRoutes)
        *jobs.routes,
        *worker.routes,
        *logs.routes,
        *auth.routes,
        *credentials.routes,
        *secrets.routes,
        *openapi.routes,
    ]


class PrefixRoutes(BaseRoute):
    """Routes under `prefix`, indexed by their first path segment after it and their number
    of segments, so a request is tried only against the routes of its own shape (usually one
    or two, not every route in turn, whose order would then matter) and without a Mount's
    second routing pass, which costs a fifth of a bare request. Starlette's Router sees one
    route; `routes` lists the prefixed ones. (A `{name:path}` parameter, which spans segments,
    would need another index: none of our routes has one, and the constructor refuses it.)"""

    def __init__(self, prefix: str, routes: list[BaseRoute]) -> None:
        self.prefix = prefix
        self.routes: list[Route] = []
        self._by_shape: dict[tuple[str, int], list[Route]] = {}
        for route in routes:
            if not isinstance(route, Route) or ":path}" in route.path:
                raise TypeError(f"only plain Routes can live under {prefix}, not {route!r}")
            prefixed = copy.copy(route)  # keeps the endpoint, methods and middleware
            prefixed.path = prefix + route.path
            prefixed.path_regex, prefixed.path_format, prefixed.param_convertors = compile_path(
                prefixed.path
            )
            self.routes.append(prefixed)
            self._by_shape.setdefault(self._shape(route.path), []).append(prefixed)

    @staticmethod
    def _shape(path: str) -> tuple[str, int]:
        return path[1:].partition("/")[0], path.count("/")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        if not path.startswith(self.prefix + "/"):
            return Match.NONE, {}
        partial: Scope | None = None
        allowed: set[str] = set()
        for route in self._by_shape.get(self._shape(path[len(self.prefix) :]), ()):
            match, child = route.matches(scope)
            if match is Match.FULL:
                return match, {**child, "ckrv.route": route}
            if match is Match.PARTIAL:  # right path, wrong method: a 405
                allowed |= route.methods or set()
                partial = partial or {**child, "ckrv.route": route}
        if partial is None:
            return Match.NONE, {}
        # One path may have a route per method: the 405's Allow names them all (RFC 9110).
        return Match.PARTIAL, {**partial, "ckrv.allow": ", ".join(sorted(allowed))}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        allow = scope.get("ckrv.allow")
        if allow is not None:
            raise HTTPException(status_code=405, headers={"Allow": allow})
        await scope["ckrv.route"].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)


def page_routes() -> list[BaseRoute]:
    from ckrv.server.routes import activate, docs

    return [*activate.routes, *docs.routes]


class CkrvApp(Starlette):
    """The server's app, carrying its Services as a plain attribute: every request looks them
    up, and `app.state` answers through a __getattr__ that costs seven times as much."""

    services: Services


def create_app(settings: Settings, services: Services | None = None) -> CkrvApp:
    svc = services or Services.build(settings)
    from ckrv.server.engine import install_components

    install_components(svc)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    app = CkrvApp(
        # The API first: the Router tries routes in order, and it serves nearly every request.
        routes=[PrefixRoutes("/v1", api_routes()), Route("/healthz", healthz), *page_routes()],
        exception_handlers={HTTPError: http_error_handler, HTTPException: _http_exception},
        lifespan=lifespan,
    )
    app.services = svc
    return app
