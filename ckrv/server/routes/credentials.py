"""Git credentials: add (value write-only), list (names and metadata), delete. Every query is
scoped to the caller, so another user's credential is a 404 like a missing one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ckrv.server.vault import store
from ckrv.server.web.http import field, json_body
from ckrv.server.web.request_auth import current_user_id, services

# The cloud API contract's CredentialCreate; any other key is refused.
_CREDENTIAL_FIELDS = ("name", "provider", "credential_type", "value")


async def add_credential(request: Request) -> Response:
    user_id = current_user_id(request)
    body = await json_body(request, accepted=_CREDENTIAL_FIELDS)
    name, provider = field(body, "name"), field(body, "provider")
    kind, value = field(body, "credential_type"), field(body, "value")
    svc = services(request)
    summary = await svc.db.write(
        lambda c: store.create_credential(c, svc.master_keys, user_id, name, provider, kind, value)
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
    await db.write(lambda c: store.delete_credential(c, user_id, name))
    return Response(status_code=204)


routes = [
    Route("/credentials", list_credentials, methods=["GET"]),
    Route("/credentials", add_credential, methods=["POST"]),
    Route("/credentials/{name}", delete_credential, methods=["DELETE"]),
]
