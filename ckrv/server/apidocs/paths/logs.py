"""OpenAPI description of routes/logs.py."""

from __future__ import annotations

from ckrv.server.apidocs.paths.shared import AUTH_ERRORS, ERROR, path_param, ref

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
