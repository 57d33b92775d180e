"""The served OpenAPI document is valid and names every route of the app's /v1 API, and no
route it does not have. Generic over routes modules: a new module's routes are checked too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from starlette.routing import BaseRoute, Mount, Route

from tests.support.helpers import app_client

_CONVERTER = re.compile(r"\{(\w+):\w+\}")
_IGNORED_METHODS = {"HEAD", "OPTIONS"}


def http_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, Route]]:
    """(full path, route) of every HTTP route, through Mounts and other route groups."""
    for route in routes:
        if isinstance(route, Mount):
            yield from http_routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            yield prefix + route.path, route
        elif isinstance(getattr(route, "routes", None), list):  # a group of full-path routes
            yield from http_routes(route.routes, prefix)  # type: ignore[attr-defined]


def api_operations(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(path under /v1, method) of every HTTP route of the API."""
    found: set[tuple[str, str]] = set()
    for path, route in http_routes(routes):
        if path.startswith("/v1/"):
            for method in (route.methods or {"GET"}) - _IGNORED_METHODS:
                found.add((_CONVERTER.sub(r"{\1}", path.removeprefix("/v1")), method.lower()))
    return found


def v1_routes(app: Any) -> list[BaseRoute]:
    routes = list(app.routes)
    assert any(path.startswith("/v1/") for path, _ in http_routes(routes)), "no /v1 API routes"
    return routes


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    with app_client(tmp_path / "data") as client:
        response = client.get("/v1/openapi.json")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        yield client.app, response.json()


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch"}
    return {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in methods
    }


def test_every_api_route_is_documented(served: tuple[Any, dict[str, Any]]) -> None:
    app, document = served
    routes = api_operations(v1_routes(app))
    assert ("/auth/device", "post") in routes  # the walk found the API
    missing = routes - documented(document)
    assert not missing, f"routes missing from /v1/openapi.json: {sorted(missing)}"


def test_every_documented_operation_exists(served: tuple[Any, dict[str, Any]]) -> None:
    app, document = served
    phantom = documented(document) - api_operations(v1_routes(app))
    assert not phantom, f"/v1/openapi.json documents routes the app lacks: {sorted(phantom)}"


def test_document_is_valid_openapi_31(served: tuple[Any, dict[str, Any]]) -> None:
    _app, document = served
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert document["servers"] == [{"url": "http://127.0.0.1:8420/v1"}]


def test_every_operation_documents_its_responses(served: tuple[Any, dict[str, Any]]) -> None:
    _app, document = served
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "delete", "patch"}:
                continue
            assert operation["responses"], f"{method.upper()} {path} documents no responses"
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            if operation.get("security", document.get("security")):
                assert "401" in operation["responses"], f"{method.upper()} {path} lacks its 401"


def test_the_walk_catches_an_undocumented_route(served: tuple[Any, dict[str, Any]]) -> None:
    """The check itself works: a route added without documentation is reported."""
    app, document = served

    async def hidden(request: Any) -> Any:
        raise AssertionError("never called")

    extra = Mount("/v1/extra", routes=[Route("/{item_id:int}", hidden)])
    routes = [*v1_routes(app), extra]
    missing = api_operations(routes) - documented(document)
    assert missing == {("/extra/{item_id}", "get")}
