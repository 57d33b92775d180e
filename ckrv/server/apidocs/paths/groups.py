"""OpenAPI description of routes/groups.py."""

from __future__ import annotations

from ckrv.server.apidocs.paths.jobs import JOB_CREATE
from ckrv.server.apidocs.paths.shared import AUTH_ERRORS, ERROR, body, ok, path_param, ref

_NINT = {"type": ["integer", "null"]}
_NUM = {"type": ["number", "null"]}

openapi_schemas = {
    "GroupCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": JOB_CREATE["required"],
        "properties": {
            **JOB_CREATE["properties"],
            "attempts": {
                "type": "integer",
                "minimum": 1,
                "default": 1,
                "description": "Attempts of each agent (of `agents`, or of `agent`).",
            },
            "agents": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "description": "Agents to run the spec with, each `attempts` times; instead "
                "of `agent`. At most 10 attempts in all.",
            },
        },
        "description": "A job's fields (JobCreate), run as several attempts: one job per "
        "attempt, each with its own log, diff, quota and sandbox. Other keys are refused "
        "(400 `unknown_fields`, naming them).",
    },
    "GroupAttempt": {
        "type": "object",
        "required": ["attempt", "job_id", "agent", "status", "job"],
        "properties": {
            "attempt": {"type": "integer", "minimum": 1},
            "job_id": {"type": "string", "format": "uuid"},
            "agent": {"type": "string"},
            "status": {"type": "string"},
            "verified": {
                "type": ["boolean", "null"],
                "description": "Whether the verify command passed; null without one.",
            },
            "files_changed": _NINT,
            "lines_changed": {**_NINT, "description": "Lines added plus lines removed."},
            "insertions": _NINT,
            "deletions": _NINT,
            "duration_seconds": _NUM,
            "cost_usd": {**_NUM, "description": "What the attempt cost, when known."},
            "job": ref("Job"),
        },
    },
    "Group": {
        "type": "object",
        "required": ["id", "attempts", "ranking", "pick", "ended"],
        "properties": {
            "id": {"type": "string", "pattern": "^g-[0-9a-z]{8}$", "examples": ["g-7kq3m2xa"]},
            "spec_title": {"type": "string"},
            "git_repo_url": {"type": "string"},
            "git_base_branch": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "ended": {"type": "boolean", "description": "Every attempt has ended."},
            "attempts": {"type": "array", "items": ref("GroupAttempt")},
            "ranking": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Attempt numbers, best first: succeeded with verify passed, "
                "then without a verify, then with verify failed, then still going, then "
                "unsuccessful; within each, a change before no change, then the smaller "
                "change (lines changed), then the faster.",
            },
            "pick": {
                **_NINT,
                "description": "The first of `ranking` once every attempt has ended, if it "
                "succeeded and its verify did not fail; else null.",
            },
        },
    },
}

_GROUP_ID = path_param("group_id", "Group id (g- and 8 letters or digits)")
_NOT_FOUND = {"404": ok(ref("Error"), "No such group (or not yours)")}

openapi_paths = {
    "/groups": {
        "post": {
            "tags": ["Groups"],
            "summary": "Run one spec as several attempts (best-of-N), all queued or none",
            "description": "Every attempt is a job and counts against the quota; a group the "
            "quota cannot hold whole is refused with 402 before any job is created, "
            "saying how many jobs it needed (`jobs_needed`) and how many are left "
            "(`jobs_left`).",
            "requestBody": body(ref("GroupCreate")),
            "responses": {
                "201": ok(ref("Group"), "Group created; its jobs are queued"),
                "400": ERROR,
                "402": ok(ref("QuotaExceededError"), "Quota exceeded: no job was created"),
                "422": ok(ref("Error"), "Unknown credential (`credential_not_found`)"),
                "413": ok(ref("Error"), "Spec too large"),
                **AUTH_ERRORS,
            },
        }
    },
    "/groups/{group_id}": {
        "get": {
            "tags": ["Groups"],
            "summary": "A group's attempts, compared and ranked, and its pick",
            "parameters": [_GROUP_ID],
            "responses": {"200": ok(ref("Group")), **_NOT_FOUND, **AUTH_ERRORS},
        }
    },
    "/groups/{group_id}/cancel": {
        "post": {
            "tags": ["Groups"],
            "summary": "Cancel every pending or running attempt of a group",
            "parameters": [_GROUP_ID],
            "responses": {
                "200": ok(ref("Group")),
                "409": ok(ref("Error"), "Every attempt already ended"),
                **_NOT_FOUND,
                **AUTH_ERRORS,
            },
        }
    },
}
