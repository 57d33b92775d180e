"""`GET /v1/jobs/{job_id}/logs`: the log as JSON, or with `follow=true` (or `Accept:
text/event-stream`) a Server-Sent Events stream that resumes exactly after `Last-Event-ID`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ckrv.errors import Expired, InvalidRequest, NotFound
from ckrv.server.web.http import query_int
from ckrv.server.web.request_auth import current_user_id, owned_job, services

_MAX_POSITION = 2**62
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _owned_job_id(request: Request) -> str:
    return str(owned_job(request, current_user_id(request), "id")["id"])


def _wants_stream(request: Request) -> bool:
    follow = request.query_params.get("follow")
    if follow is None:
        return "text/event-stream" in request.headers.get("accept", "")
    if follow.lower() not in ("true", "false", "1", "0"):  # `?follow=` too: it is a boolean
        raise InvalidRequest("query parameter 'follow' must be true or false")
    return follow.lower() in ("true", "1")


def _after(request: Request) -> int:
    header = request.headers.get("last-event-id", "").strip()
    if header:
        if not header.isdigit() or int(header) > _MAX_POSITION:
            raise InvalidRequest("Last-Event-ID must be a log position")
        return int(header)  # the client's own reconnect wins over the URL it reconnects to
    return query_int(request, "after", 0, 0, _MAX_POSITION)


async def job_logs(request: Request) -> Response:
    job_id = _owned_job_id(request)
    after = _after(request)
    tail = query_int(request, "tail", -1, 0, _MAX_POSITION)
    limit = query_int(request, "limit", -1, 1, _MAX_POSITION)
    stream = _wants_stream(request)
    logs = services(request).logs
    state = logs.state(job_id)
    if state is None:
        raise NotFound(f"no job {job_id}")
    if state.expired:
        raise Expired(
            "this job's log has expired (artifact retention) and was "
            "deleted; the job record is kept"
        )
    tail_or_none = tail if tail >= 0 else None
    if stream:
        return StreamingResponse(
            logs.follow(job_id, after, tail_or_none, services(request).engine.describe),
            media_type="text/event-stream",
            headers=_SSE_HEADERS,
        )
    body = logs.json_body(job_id, after, tail_or_none, limit if limit > 0 else None)
    return StreamingResponse(body, media_type="application/json")


routes = [
    Route("/jobs/{job_id}/logs", job_logs, methods=["GET"]),
    # The same, one /v1 deeper: the Chakravarti CLI appends /v1 to an API URL that already
    # ends in it, so this is the path its `logs` asks for (documented as a deprecated alias).
    Route("/v1/jobs/{job_id}/logs", job_logs, methods=["GET"]),
]
