"""Routing the API by path shape: one Starlette route that indexes the API's routes by their
first segment and depth, so a request is matched against one or two routes, not all."""

from __future__ import annotations

import copy
from typing import Any

from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, NoMatchFound, Route, compile_path
from starlette.types import Receive, Scope, Send


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
