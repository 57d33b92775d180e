"""Agent secrets: set (create or replace; the value is write-only), list names, delete. Every
job of the user gets them in the environment of its setup, agent and verify steps."""

from __future__ import annotations

import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ckrv.server.vault import store
from ckrv.server.web.http import field, json_body
from ckrv.server.web.request_auth import current_user_id, services


async def put_secret(request: Request) -> Response:
    user_id = current_user_id(request)
    name = request.path_params["name"]
    value = field(await json_body(request, accepted=("value",)), "value")
    svc = services(request)

    def put(conn: sqlite3.Connection) -> tuple[bool, dict[str, Any]]:
        cap = svc.settings.max_secrets_bytes
        created = store.put_secret(conn, svc.master_keys, user_id, name, value, cap)
        return created, store.get_secret_summary(conn, user_id, name)

    created, summary = await svc.db.write(put)
    return JSONResponse(summary, status_code=201 if created else 200)


async def list_secrets(request: Request) -> Response:
    user_id = current_user_id(request)
    listing = services(request).db.read_with(lambda c: store.list_secrets(c, user_id))
    return JSONResponse({"secrets": listing})


async def delete_secret(request: Request) -> Response:
    user_id = current_user_id(request)
    name = request.path_params["name"]
    db = services(request).db
    await db.write(lambda c: store.delete_secret(c, user_id, name))
    return Response(status_code=204)


routes = [
    Route("/secrets", list_secrets, methods=["GET"]),
    Route("/secrets/{name}", put_secret, methods=["PUT"]),
    Route("/secrets/{name}", delete_secret, methods=["DELETE"]),
]
