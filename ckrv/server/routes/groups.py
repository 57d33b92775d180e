"""The groups API: create a group of attempts at one spec (all its jobs in one transaction, the
quota of every attempt spent together or the group refused whole), get it compared and ranked,
cancel all its jobs. Another user's group is a 404 on every route, as a missing one."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ckrv.contracts.jobmodel import TERMINAL
from ckrv.errors import Conflict, NotFound
from ckrv.server.jobs.creation import MAX_CREATE_BODY, refuse_unconfined
from ckrv.server.jobs.groups import (
    GROUP_FIELDS,
    group_members,
    insert_group,
    parse_new_group,
    public_group,
)
from ckrv.server.jobs.lifecycle import log_queued
from ckrv.server.services import Services
from ckrv.server.web.http import FastJSONResponse, json_body
from ckrv.server.web.request_auth import current_user_id, services


async def create_group(request: Request) -> Response:
    user_id = current_user_id(request)
    body = await json_body(request, accepted=GROUP_FIELDS, max_bytes=MAX_CREATE_BODY)
    svc = services(request)
    new_jobs = parse_new_group(svc, user_id, body)
    refuse_unconfined(svc)
    eng = svc.engine
    rows = await svc.db.write(lambda c: insert_group(c, new_jobs, eng.upgrade_url))
    eng.wake()
    for row in rows:
        log_queued(row)
    group_id = rows[0]["group_id"]
    group = public_group(group_id, [eng.public(row) for row in rows])
    return FastJSONResponse(group, status_code=201, headers={"Location": f"/v1/groups/{group_id}"})


def _owned(svc: Services, request: Request) -> tuple[str, list[dict[str, Any]]]:
    group_id = request.path_params["group_id"]
    members = group_members(svc, group_id, current_user_id(request))
    if not members:
        raise NotFound(f"no group {group_id}")
    return group_id, members


async def get_group(request: Request) -> Response:
    group_id, members = _owned(services(request), request)
    return FastJSONResponse(public_group(group_id, members))


async def cancel_group(request: Request) -> Response:
    svc = services(request)
    group_id, members = _owned(svc, request)
    going = [job["id"] for job in members if job["status"] not in TERMINAL]
    if not going:
        raise Conflict(f"every attempt of group {group_id} already ended; nothing to cancel")
    for job_id in going:
        await svc.engine.cancel(job_id)
    _, fresh = _owned(svc, request)
    return FastJSONResponse(public_group(group_id, fresh))


routes = [
    Route("/groups", create_group, methods=["POST"]),
    Route("/groups/{group_id}", get_group, methods=["GET"]),
    Route("/groups/{group_id}/cancel", cancel_group, methods=["POST"]),
]
