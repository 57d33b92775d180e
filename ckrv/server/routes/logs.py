"""`GET /v1/jobs/{job_id}/logs`: the log as JSON, or with `follow=true` (or `Accept:
text/event-stream`) a Server-Sent Events stream that resumes exactly after `Last-Event-ID`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ckrv.server.routes.jobs import owned_job
from ckrv.server.web.http import HTTPError, query_int
from ckrv.server.web.request_auth import current_user_id, services

_MAX_POSITION = 2**62
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _owned_job_id(request: Request) -> str:
    return str(owned_job(request, current_user_id(request), "id")["id"])


def _wants_stream(request: Request) -> bool:
    follow = request.query_params.get("follow")
    if follow is None:
        return "text/event-stream" in request.headers.get("accept", "")
    if follow.lower() not in ("true", "false", "1", "0"):  # `?follow=` too: it is a boolean
        raise HTTPError(400, "invalid_request", "query parameter 'follow' must be true or false")
    return follow.lower() in ("true", "1")


def _after(request: Request) -> int:
    header = request.headers.get("last-event-id", "").strip()
    if header:
        if not header.isdigit() or int(header) > _MAX_POSITION:
            raise HTTPError(400, "invalid_request", "Last-Event-ID must be a log position")
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
        raise HTTPError(404, "not_found", f"no job {job_id}")
    if state.expired:
        raise HTTPError(
            410,
            "expired",
            "this job's log has expired (artifact retention) and was "
            "deleted; the job record is kept",
        )
    tail_or_none = tail if tail >= 0 else None
    if stream:
        return StreamingResponse(
            logs.follow(job_id, after, tail_or_none, services(request).extras["engine"].describe),
            media_type="text/event-stream",
            headers=_SSE_HEADERS,
        )
    body = logs.json_body(job_id, after, tail_or_none, limit if limit > 0 else None)
    return StreamingResponse(body, media_type="application/json")


routes = [Route("/jobs/{job_id}/logs", job_logs, methods=["GET"])]

# --- OpenAPI ---
from ckrv.server.apidocs.openapi import AUTH_ERRORS, ERROR, path_param, ref  # noqa: E402

_POSITION = {"type": "integer", "minimum": 0}
openapi_schemas = {
    "LogEntry": {
        "type": "object",
        "required": ["seq", "timestamp", "level", "source", "message"],
        "properties": {
            "seq": {
                "type": "integer",
                "minimum": 1,
                "description": "Position in the job's log (1, 2, 3...); the SSE event id",
            },
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "When the line was printed (ISO 8601, milliseconds)",
            },
            "level": {"type": "string", "enum": ["debug", "info", "warn", "error"]},
            "source": {
                "type": "string",
                "description": "worker, setup, the agent's name, verify, or server",
            },
            "message": {"type": "string"},
        },
    },
    "LogResponse": {
        "type": "object",
        "required": ["logs"],
        "properties": {"logs": {"type": "array", "items": ref("LogEntry")}},
    },
}

_SSE_DESCRIPTION = (
    "Server-Sent Events. `event: log` with `id: <seq>` and a LogEntry as data; `event: status` "
    "with the Job as data, first when the stream opens and then on every status or phase "
    "change; a `:` comment every 15 s; when the job ends, a final status event, `data: [DONE]` "
    "and the end of the stream. Reconnect with `Last-Event-ID` to resume without gap or "
    "duplicate."
)

openapi_paths = {
    "/jobs/{job_id}/logs": {
        "get": {
            "tags": ["Jobs"],
            "summary": "Get a job's log (JSON), or follow it live (SSE)",
            "parameters": [
                path_param("job_id", "Job id (UUID)"),
                {
                    "name": "follow",
                    "in": "query",
                    "schema": {"type": "boolean", "default": False},
                    "description": "Stream as Server-Sent Events (so does `Accept: text/event-stream`)",
                },
                {
                    "name": "after",
                    "in": "query",
                    "schema": _POSITION,
                    "description": "Only entries after this position (seq)",
                },
                {
                    "name": "tail",
                    "in": "query",
                    "schema": _POSITION,
                    "description": "Only the last N entries (then, when following, everything new)",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1},
                    "description": "At most this many entries (JSON only); page on with `after`",
                },
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "schema": {"type": "string"},
                    "description": "Resume after this position (SSE reconnects); wins over `after`",
                },
            ],
            "responses": {
                "200": {
                    "description": "The log, or the live stream",
                    "content": {
                        "application/json": {"schema": ref("LogResponse")},
                        "text/event-stream": {
                            "schema": {"type": "string", "description": _SSE_DESCRIPTION}
                        },
                    },
                },
                "400": ERROR,
                **AUTH_ERRORS,
                "404": {
                    "description": "No such job (or not yours)",
                    "content": {"application/json": {"schema": ref("Error")}},
                },
                "410": {
                    "description": "The log expired (artifact retention)",
                    "content": {"application/json": {"schema": ref("Error")}},
                },
            },
        }
    },
}
