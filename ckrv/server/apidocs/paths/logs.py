"""OpenAPI description of routes/logs.py."""

from __future__ import annotations

from ckrv.server.apidocs.paths.shared import AUTH_ERRORS, ERROR, S, path_param, ref

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


def _event(name: str, data: S, *, with_id: bool) -> S:
    return {
        "required": ["id"] if with_id else [],
        "properties": {"event": {"const": name}, "data": data},
    }


def _json_data(schema: S) -> S:
    return {"type": "string", "contentMediaType": "application/json", "contentSchema": schema}


# One event of the stream, as an SSE parser gives it: `event` (`message` when the stream names
# none), `data` (its lines joined) and `id`. Before OpenAPI 3.2 a `text/event-stream` `schema`
# describes each event (3.2 calls it `itemSchema`); `contentSchema` is what `data` holds once
# parsed as JSON, so a schema-aware client or fuzzer checks every event's payload.
SSE_EVENT: S = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["log", "status", "message"]},
        "data": {"type": "string"},
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "retry": {"type": "integer"},
    },
    "oneOf": [
        _event("log", _json_data(ref("LogEntry")), with_id=True),
        _event("status", _json_data(ref("Job")), with_id=False),
        _event("message", {"const": "[DONE]"}, with_id=False),
    ],
    "description": _SSE_DESCRIPTION,
}

openapi_paths: S = {
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
                        "text/event-stream": {"schema": SSE_EVENT},
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
# The Chakravarti CLI asks for `<API URL>/v1/jobs/{id}/logs` (it appends /v1 to a URL that ends
# in it): served as an alias, marked deprecated so new clients use the path above.
openapi_paths["/v1/jobs/{job_id}/logs"] = {
    "get": {
        **openapi_paths["/jobs/{job_id}/logs"]["get"],
        "deprecated": True,
        "summary": "Alias of GET /jobs/{job_id}/logs, for the Chakravarti CLI",
        "description": "The same log and stream as `/jobs/{job_id}/logs`: the original "
        "Chakravarti CLI asks for this path. Use the one above.",
    }
}
