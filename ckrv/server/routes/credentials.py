"""Git credentials: add (value write-only), list (names and metadata), delete. Every query is
scoped to the caller, so another user's credential is a 404 like a missing one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ckrv.errors import NotFound, UsageError
from ckrv.server.vault import store
from ckrv.server.web.http import HTTPError, field, json_body
from ckrv.server.web.request_auth import current_user_id, services

T = TypeVar("T")


async def store_call(call: Callable[[], Awaitable[T]]) -> T:
    """Run a store operation, its errors turned into HTTP answers."""
    try:
        return await call()
    except UsageError as exc:
        raise HTTPError(400, "invalid_request", exc.message) from exc
    except NotFound as exc:
        raise HTTPError(404, "not_found", exc.message) from exc
    except store.AlreadyExists as exc:
        raise HTTPError(409, "conflict", exc.message) from exc


async def add_credential(request: Request) -> Response:
    user_id = current_user_id(request)
    body = await json_body(request)
    name, provider = field(body, "name"), field(body, "provider")
    kind, value = field(body, "credential_type"), field(body, "value")
    svc = services(request)
    summary = await store_call(
        lambda: svc.db.write(
            lambda c: store.create_credential(
                c, svc.master_keys, user_id, name, provider, kind, value
            )
        )
    )
    return JSONResponse(summary, status_code=201)


async def list_credentials(request: Request) -> Response:
    user_id = current_user_id(request)
    listing = services(request).db.read_with(lambda c: store.list_credentials(c, user_id))
    return JSONResponse({"credentials": listing})


async def delete_credential(request: Request) -> Response:
    user_id = current_user_id(request)
    name = request.path_params["name"]
    db = services(request).db
    await store_call(lambda: db.write(lambda c: store.delete_credential(c, user_id, name)))
    return Response(status_code=204)


routes = [
    Route("/credentials", list_credentials, methods=["GET"]),
    Route("/credentials", add_credential, methods=["POST"]),
    Route("/credentials/{name}", delete_credential, methods=["DELETE"]),
]

# --- OpenAPI ---
from ckrv.server.apidocs.openapi import AUTH_ERRORS, ERROR, body, ok, path_param, ref  # noqa: E402

_NAME = {"type": "string", "pattern": store.CREDENTIAL_NAME.pattern, "example": "github-work"}
openapi_schemas = {
    "CredentialSummary": {
        "type": "object",
        "required": ["name", "provider", "credential_type", "created_at", "last_used_at"],
        "properties": {
            "name": {"type": "string"},
            "provider": {"type": "string", "enum": list(store.PROVIDERS)},
            "credential_type": {"type": "string", "enum": list(store.CREDENTIAL_TYPES)},
            "created_at": {"type": "string", "format": "date-time"},
            "last_used_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "CredentialCreate": {
        "type": "object",
        "required": ["name", "provider", "credential_type", "value"],
        "properties": {
            "name": _NAME,
            "provider": {"type": "string", "enum": list(store.PROVIDERS)},
            "credential_type": {"type": "string", "enum": list(store.CREDENTIAL_TYPES)},
            "value": {
                "type": "string",
                "minLength": 1,
                "writeOnly": True,
                "description": "The PAT, or the deploy key's private key (write-only, "
                "never returned)",
            },
        },
    },
}
openapi_paths = {
    "/credentials": {
        "get": {
            "tags": ["Credentials"],
            "summary": "List git credentials (names only, no values)",
            "responses": {
                "200": ok(
                    {
                        "type": "object",
                        "required": ["credentials"],
                        "properties": {
                            "credentials": {"type": "array", "items": ref("CredentialSummary")}
                        },
                    }
                ),
                **AUTH_ERRORS,
            },
        },
        "post": {
            "tags": ["Credentials"],
            "summary": "Add a git credential (PAT or deploy key)",
            "requestBody": body(ref("CredentialCreate")),
            "responses": {
                "201": ok(ref("CredentialSummary"), "Credential created"),
                "400": ERROR,
                **AUTH_ERRORS,
                "409": ok(ref("Error"), "A credential with this name exists"),
            },
        },
    },
    "/credentials/{name}": {
        "delete": {
            "tags": ["Credentials"],
            "summary": "Delete a git credential",
            "parameters": [path_param("name", "The credential's name")],
            "responses": {
                "204": {"description": "Credential deleted"},
                **AUTH_ERRORS,
                "404": ok(ref("Error"), "No credential of yours has this name"),
            },
        },
    },
}
