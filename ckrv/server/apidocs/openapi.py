"""The server's own OpenAPI document, assembled from apidocs/paths/ (one module per routes
module). tests/api/test_openapi.py checks that every route appears in it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ckrv import __version__
from ckrv.server.apidocs.paths import auth, credentials, groups, jobs, logs, secrets, worker
from ckrv.server.apidocs.paths.shared import SCHEMAS, S, ok

_META: S = {
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "tags": ["Meta"],
            "responses": {"200": ok({"type": "object"}, "OpenAPI 3.1 document")},
        }
    }
}


@lru_cache(maxsize=4)  # pure in its argument; the app serves one URL
def document(server_url: str) -> dict[str, Any]:
    paths: S = dict(_META)
    schemas: S = {}
    for module in (auth, jobs, groups, logs, worker, credentials, secrets):
        for path, operations in module.openapi_paths.items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(getattr(module, "openapi_schemas", {}))
    return build_document(server_url, paths, schemas)


def build_document(server_url: str, paths: S, extra_schemas: S) -> S:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ckrv API",
            "version": __version__,
            "description": "Self-hosted ckrv server: device-flow login, jobs, logs, "
            "credentials and secrets. Compatible with the Chakravarti "
            "Cloud API contract.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": {**SCHEMAS, **extra_schemas},
        },
    }
