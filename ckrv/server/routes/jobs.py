"""The jobs API: create (quota spent atomically), list (cursor, status, id prefix), get,
cancel, and the diff artifact. Another user's job is a 404 on every route."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import AsyncIterator
from typing import BinaryIO

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ckrv.contracts.jobmodel import STATUSES, TERMINAL
from ckrv.errors import (
    ArtifactExpired,
    Conflict,
    InvalidRequest,
    NoDiff,
    NotFinished,
    NotFound,
)
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.creation import (
    JOB_FIELDS,
    MAX_CREATE_BODY,
    parse_new_job,
    refuse_unconfined,
)
from ckrv.server.jobs.followups import DELTA, FOLLOW_UP_FIELDS, follow_up
from ckrv.server.web.http import (
    FastJSONResponse,
    decode_cursor,
    encode_cursor,
    json_body,
    query_int,
)
from ckrv.server.web.request_auth import current_user_id, owned_job, services

_ID_PREFIX = re.compile(r"^[0-9a-f-]{1,36}$")


async def create_job(request: Request) -> Response:
    user_id = current_user_id(request)
    body = await json_body(request, accepted=JOB_FIELDS, max_bytes=MAX_CREATE_BODY)
    svc = services(request)
    new_job = parse_new_job(svc, user_id, body)
    refuse_unconfined(svc)
    eng = svc.engine
    row = await eng.create(new_job)  # QuotaExceeded, or InvalidToken for a deleted user
    return FastJSONResponse(
        eng.public(row), status_code=201, headers={"Location": f"/v1/jobs/{row['id']}"}
    )


async def list_jobs(request: Request) -> Response:
    user_id = current_user_id(request)
    limit = query_int(request, "limit", 20, 1, 100)
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
    prefix = request.query_params.get("id_prefix")
    if prefix is not None:
        if not _ID_PREFIX.match(prefix.lower()):
            raise InvalidRequest("id_prefix must be hexadecimal digits and dashes")
        prefix = prefix.lower()
    cursor = request.query_params.get("cursor")
    before = decode_cursor(cursor) if cursor else None
    thread = request.query_params.get("thread")
    if thread is not None and not (len(thread) == 36 and _ID_PREFIX.match(thread.lower())):
        raise InvalidRequest("thread must be a job id")
    thread = thread.lower() if thread else None
    rows = services(request).db.read_with(
        lambda c: jobs.list_page(
            c, user_id, limit + 1, status=status, id_prefix=prefix, before=before, thread=thread
        )
    )
    eng = services(request).engine
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]["seq"]) if len(rows) > limit else None
    return FastJSONResponse({"jobs": [eng.public(r) for r in page], "next_cursor": next_cursor})


async def continue_job(request: Request) -> Response:
    """A follow-up of the job: it starts from the job's result (followups.py)."""
    user_id = current_user_id(request)
    parent = owned_job(request, user_id)
    body = await json_body(request, accepted=FOLLOW_UP_FIELDS, max_bytes=MAX_CREATE_BODY)
    svc = services(request)
    new_job, notices = follow_up(svc, user_id, parent, body)
    refuse_unconfined(svc)
    eng = svc.engine
    row = await eng.create(new_job)
    for notice in notices:  # in its log too, for whoever reads it later
        await svc.logs.server_line(row["id"], notice, "warn")
    return FastJSONResponse(
        {**eng.public(row), "notices": notices},
        status_code=201,
        headers={"Location": f"/v1/jobs/{row['id']}"},
    )


async def get_job(request: Request) -> Response:
    row = owned_job(request, current_user_id(request), jobs.PUBLIC_COLUMNS)
    return FastJSONResponse(services(request).engine.public(row))


async def cancel_job(request: Request) -> Response:
    row = owned_job(request, current_user_id(request))
    eng = services(request).engine
    if row["status"] in TERMINAL:
        raise Conflict(f"job {row['id']} already ended ({row['status']}); nothing to cancel")
    await eng.cancel(row["id"])
    fresh = eng.row(row["id"])
    assert fresh is not None
    return JSONResponse(eng.public(fresh))


def _no_diff_reason(row: sqlite3.Row) -> NotFound:
    status = row["status"]
    if row["artifacts_expired"]:
        return ArtifactExpired("the diff has expired and was deleted (artifact retention)")
    if status in ("pending", "running"):
        return NotFinished(f"job is {status}; its diff exists once it succeeds")
    detail = f": {row['error_message']}" if row["error_message"] else ""
    return NoDiff(f"job ended {status}{detail}; it has no diff")


async def get_diff(request: Request) -> Response:
    return _diff_response(request, "diff.patch")


async def get_delta(request: Request) -> Response:
    """A follow-up's own step (its parent's result to its own); any other job's diff."""
    return _diff_response(request, DELTA)


def _diff_response(request: Request, name: str) -> Response:
    row = owned_job(request, current_user_id(request))
    if row["status"] != "succeeded" or row["artifacts_expired"]:
        raise _no_diff_reason(row)
    if row["parent_id"] is None:
        name = "diff.patch"
    try:  # open first: the sweeper may delete the file, but not from under an open handle
        handle = services(request).engine.artifacts.path(row["id"], name).open("rb")
    except FileNotFoundError:
        fresh = services(request).engine.row(row["id"])
        if fresh is not None and fresh["artifacts_expired"]:
            raise _no_diff_reason(fresh) from None
        raise NoDiff("the diff artifact is missing on the server") from None
    return StreamingResponse(
        _chunks(handle),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Length": str(os.fstat(handle.fileno()).st_size)},
    )


async def get_verify_transcript(request: Request) -> Response:
    """Verify run N's transcript (from 0), as the worker ran it: commands, output, exit codes."""
    row = owned_job(request, current_user_id(request))
    raw = request.path_params["run"]
    if not raw.isdigit() or int(raw) >= (row["verify_runs"] or 0):
        raise NotFound(f"job {row['id']} has no verify transcript {raw}")
    if row["artifacts_expired"]:
        raise ArtifactExpired("the verify transcripts have expired (artifact retention)")
    path = services(request).engine.artifacts.path(row["id"], f"verify-{int(raw)}.log")
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise NotFound("the verify transcript is missing on the server") from None
    return Response(data, media_type="text/plain; charset=utf-8")


async def _chunks(handle: BinaryIO, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(handle.read, size):
            yield chunk
    finally:
        handle.close()


routes = [
    Route("/jobs", create_job, methods=["POST"]),
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
    Route("/jobs/{job_id}/continue", continue_job, methods=["POST"]),
    Route("/jobs/{job_id}/artifacts/diff", get_diff, methods=["GET"]),
    Route("/jobs/{job_id}/artifacts/delta", get_delta, methods=["GET"]),
    Route("/jobs/{job_id}/artifacts/verify/{run}", get_verify_transcript, methods=["GET"]),
]
