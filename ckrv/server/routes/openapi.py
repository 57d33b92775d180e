"""Serves `/v1/openapi.json`, assembled from every routes module's `openapi_paths`."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ckrv.server.apidocs.openapi import build_document
from ckrv.server.web.request_auth import services


def api_modules() -> list[ModuleType]:
    import importlib

    names = ["auth", "jobs", "logs", "worker", "credentials", "secrets"]
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(f"ckrv.server.routes.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"ckrv.server.routes.{name}":
                raise
    return modules


def document(server_url: str) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "tags": ["Meta"],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1 document",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        }
    }
    schemas: dict[str, Any] = {}
    for module in api_modules():
        for path, operations in getattr(module, "openapi_paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(getattr(module, "openapi_schemas", {}))
    return build_document(server_url, paths, schemas)


async def openapi_json(request: Request) -> Response:
    svc = services(request)
    doc = svc.extras.get("openapi")
    if doc is None:
        doc = svc.extras["openapi"] = document(svc.settings.api_url)
    return JSONResponse(doc)


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
