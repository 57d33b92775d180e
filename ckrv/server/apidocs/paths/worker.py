"""OpenAPI description of routes/worker.py."""

from __future__ import annotations

from ckrv.contracts.jobmodel import PHASES
from ckrv.server.apidocs.paths.shared import ERROR, body, ok, path_param

_JOB_ID = path_param("job_id", "Job id (UUID)")
_WORKER = {"tags": ["Worker"], "security": [{"bearerAuth": []}], "parameters": [_JOB_ID]}
_ERRORS = {
    "400": ERROR,
    "401": ERROR,
    "404": ERROR,
    "409": ok({"$ref": "#/components/schemas/Error"}, "Attempt superseded or job ended"),
}
_OK = ok({"type": "object"})
_NSTR = {"type": ["string", "null"]}

openapi_paths = {
    "/worker/jobs/{job_id}": {
        "get": {
            **_WORKER,
            "summary": "The job as its worker needs it (spec, repository, agent)",
            "responses": {"200": _OK, **_ERRORS},
        }
    },
    "/worker/jobs/{job_id}/events": {
        "post": {
            **_WORKER,
            "summary": "Report running, a phase, the base commit or the feature branch",
            "requestBody": body(
                {
                    "type": "object",
                    "properties": {  # null is the same as leaving a field out
                        "status": {"type": ["string", "null"], "enum": ["running", None]},
                        "phase": {
                            "type": ["string", "null"],
                            "enum": [*PHASES, None],
                        },
                        "base_commit": _NSTR,
                        "feature_branch_name": _NSTR,
                    },
                }
            ),
            "responses": {"200": _OK, **_ERRORS},
        }
    },
    "/worker/jobs/{job_id}/logs": {
        "post": {
            **_WORKER,
            "summary": "Send a batch of log entries (idempotent by seq)",
            "requestBody": body(
                {
                    "type": "object",
                    "required": ["entries"],
                    "properties": {
                        "entries": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["seq", "timestamp", "level", "source", "message"],
                                "properties": {
                                    "seq": {"type": "integer", "minimum": 1},
                                    "timestamp": {"type": "string"},
                                    "level": {
                                        "type": "string",
                                        "enum": ["debug", "info", "warn", "error"],
                                    },
                                    "source": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        }
                    },
                }
            ),
            "responses": {"200": _OK, **_ERRORS},
        }
    },
    "/worker/jobs/{job_id}/diff": {
        "put": {
            **_WORKER,
            "summary": "Upload the job's diff (git diff --binary)",
            "requestBody": {
                "required": True,
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "responses": {"200": _OK, "413": ERROR, **_ERRORS},
        }
    },
    "/worker/jobs/{job_id}/verify/{run}": {
        "put": {
            **_WORKER,
            "parameters": [_JOB_ID, path_param("run", "Verify run, from 0")],
            "summary": "Upload one verify run's transcript (masked again by the server)",
            "requestBody": body(
                {
                    "type": "object",
                    "required": ["text"],
                    "properties": {"text": {"type": "string"}},
                }
            ),
            "responses": {"200": _OK, "413": ERROR, **_ERRORS},
        }
    },
    "/worker/jobs/{job_id}/delta": {
        "put": {
            **_WORKER,
            "summary": "Upload a follow-up's own step (git diff from its parent's result)",
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            },
            "responses": {"200": _OK, "413": ERROR, **_ERRORS},
        }
    },
    "/worker/jobs/{job_id}/bundle": {
        "put": {
            **_WORKER,
            "summary": "Upload the result's commits since the thread's base (a git bundle)",
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            },
            "responses": {"200": _OK, "413": ERROR, **_ERRORS},
        }
    },
    "/worker/jobs/{job_id}/parent/bundle": {
        "get": {
            **_WORKER,
            "summary": "The bundle of the job's parent's result (a follow-up's start)",
            "responses": {
                "200": {
                    "description": "A git bundle",
                    "content": {"application/octet-stream": {"schema": {"type": "string"}}},
                },
                "404": ERROR,
                **_ERRORS,
            },
        }
    },
    "/worker/jobs/{job_id}/result": {
        "post": {
            **_WORKER,
            "summary": "Report the job's result",
            "requestBody": body(
                {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"type": "string", "enum": ["succeeded", "failed"]},
                        "summary": _NSTR,  # null is the same as leaving a field out
                        "error_message": _NSTR,
                        "agent_exit_code": {"type": ["integer", "null"]},
                        "pushed_branch": _NSTR,
                        "verified": {"type": ["boolean", "null"]},
                        "rounds": {"type": ["integer", "null"], "minimum": 0},
                        "verify_runs": {"type": ["integer", "null"], "minimum": 0},
                        "result_commit": {**_NSTR, "pattern": "^[0-9a-f]{40}$"},
                        "cost_usd": {
                            "type": ["number", "null"],
                            "minimum": 0,
                            "description": "What the agent's runs reported they cost (US "
                            "dollars, summed; CKRV_COST_FILE); null or left out: unknown",
                        },
                        "diff_stats": {
                            "type": ["object", "null"],
                            "additionalProperties": {"type": "integer"},
                        },
                    },
                }
            ),
            "responses": {"200": _OK, **_ERRORS},
        }
    },
}
