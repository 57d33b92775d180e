"""OpenAPI description of routes/secrets.py."""

from __future__ import annotations

from ckrv.server.apidocs.paths.shared import AUTH_ERRORS, ERROR, body, ok, ref
from ckrv.server.vault import store

_NAME_PARAM = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "An environment variable name, e.g. ANTHROPIC_API_KEY",
    "schema": {"type": "string", "pattern": store.SECRET_NAME.pattern},
}
openapi_schemas = {
    "SecretSummary": {
        "type": "object",
        "required": ["name", "created_at", "updated_at"],
        "properties": {
            "name": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
}
openapi_paths = {
    "/secrets": {
        "get": {
            "tags": ["Secrets"],
            "summary": "List agent secrets (names only, no values)",
            "responses": {
                "200": ok(
                    {
                        "type": "object",
                        "required": ["secrets"],
                        "properties": {"secrets": {"type": "array", "items": ref("SecretSummary")}},
                    }
                ),
                **AUTH_ERRORS,
            },
        },
    },
    "/secrets/{name}": {
        "put": {
            "tags": ["Secrets"],
            "summary": "Create or replace an agent secret",
            "parameters": [_NAME_PARAM],
            "requestBody": body(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["value"],
                    "properties": {"value": {"type": "string", "minLength": 1, "writeOnly": True}},
                }
            ),
            "responses": {
                "200": ok(ref("SecretSummary"), "Secret replaced"),
                "201": ok(ref("SecretSummary"), "Secret created"),
                "400": ERROR,
                **AUTH_ERRORS,
            },
        },
        "delete": {
            "tags": ["Secrets"],
            "summary": "Delete an agent secret",
            "parameters": [_NAME_PARAM],
            "responses": {
                "204": {"description": "Secret deleted"},
                **AUTH_ERRORS,
                "404": ok(ref("Error"), "No secret of yours has this name"),
            },
        },
    },
}
