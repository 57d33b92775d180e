"""OpenAPI description of routes/jobs.py."""

from __future__ import annotations

from ckrv.server.apidocs.paths.shared import AUTH_ERRORS, ERROR, S, body, ok, path_param, ref

_STATUS = ["pending", "running", "succeeded", "failed", "timeout", "cancelled"]
_NSTR = {"type": ["string", "null"]}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_NNUM = {"type": ["number", "null"]}

# Any key not listed is refused (400 `unknown_fields`): a misspelt option is never run as its
# default. The contract's four keys come first.
JOB_CREATE: S = {
    "type": "object",
    "description": "Other keys are refused (400 `unknown_fields`, naming them).",
    "additionalProperties": False,
    "required": ["spec_content", "git_repo_url"],
    "properties": {
        "spec_content": {
            "type": "string",
            "description": "Full spec text (UTF-8, at most 1 MiB)",
        },
        "git_repo_url": {"type": "string", "description": "https:// or ssh:// repository URL"},
        # Optional fields: null is the same as leaving the field out.
        "git_base_branch": {"type": ["string", "null"], "default": "main"},
        "git_credential_name": {"type": ["string", "null"]},
        "agent": {
            "type": ["string", "null"],
            "description": "Agent preset or configured agent",
        },
        "timeout_seconds": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "setup": {
            "type": ["string", "null"],
            "description": "Shell command run before the agent",
        },
        "push": {
            "type": ["boolean", "null"],
            "description": "Push the feature branch on success",
        },
        "network": {
            "type": ["string", "null"],
            "enum": ["open", "allowlist", "none", None],
            "description": "What the job's commands may reach: `open`, `allowlist` (only "
            "the allowed hosts, through the worker's filtering proxy) or `none`. Default: "
            "the server's setting for the agent and repository. A job may only narrow it "
            "unless the server sets `jobs_may_widen_network`.",
        },
        "allowed_hosts": {
            "type": ["array", "null"],
            "items": {"type": "string"},
            "description": "Hosts added to the allowlist: `name`, `*.name`, `name:port` "
            "(ports 80 and 443 unless given) or an IP address. Without "
            "`jobs_may_widen_network`, each must be covered by the server's allowlist "
            "when that applies.",
        },
        "limits": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "memory": {"type": ["string", "integer", "null"], "examples": ["2G"]},
                "cpu_time": {"type": ["string", "integer", "null"], "examples": ["10m"]},
                "processes": {"type": ["integer", "null"], "minimum": 1, "examples": [256]},
                "disk": {"type": ["string", "integer", "null"], "examples": ["5G"]},
            },
            "description": "Resource limits of the job's commands, each optional: `memory` "
            "and `disk` as sizes (512M, 2G, or bytes), `cpu_time` as a duration (90s, 10m, "
            "or seconds) per process, `processes` a whole number. A job may only lower a "
            "limit below what the operator's settings give it (`[server]`, then the "
            "agent's table), never raise it: a higher value is a 400 naming the setting "
            "an operator would change. Left out: the operator's limit.",
        },
        "verify": {
            "type": ["array", "null"],
            "items": {"type": "string"},
            "maxItems": 20,
            "description": "Shell commands run in the job's sandbox after the agent, in "
            "order; the result is verified when each exits 0. Left out: the first "
            "matching `[repositories.\"URL-PATTERN\"]` table's `verify`, else the agent's.",
        },
        "fix_rounds": {
            "type": ["integer", "null"],
            "minimum": 0,
            "description": "After a failing verify, run the agent again with the failing "
            "output (in `CKRV_VERIFY_OUTPUT_FILE` and the history file), then verify "
            "again, up to this many times (at most the server's `max_fix_rounds`).",
        },
    },
}

openapi_schemas = {
    "Job": {
        "type": "object",
        "required": ["id", "status", "git_repo_url", "git_base_branch", "created_at"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": _STATUS},
            "phase": {
                "type": ["string", "null"],
                "enum": ["cloning", "setup", "executing", "verifying", "uploading", None],
            },
            "agent": {"type": "string"},
            "spec_title": {"type": "string"},
            "git_repo_url": {"type": "string"},
            "git_base_branch": {"type": "string"},
            "git_credential_name": _NSTR,
            "base_commit": _NSTR,
            "feature_branch_name": _NSTR,
            "pushed_branch": _NSTR,
            "setup": _NSTR,
            "push": {"type": "boolean"},
            "timeout_seconds": {"type": "number"},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": _NTIME,
            "completed_at": _NTIME,
            "result_status": {
                "type": ["string", "null"],
                "enum": ["succeeded", "failed", "timeout", "cancelled", None],
            },
            "result_summary": _NSTR,
            "error_message": _NSTR,
            "diff_stats": {
                "type": ["object", "null"],
                "properties": {
                    "files_changed": {"type": "integer"},
                    "insertions": {"type": "integer"},
                    "deletions": {"type": "integer"},
                },
            },
            "duration_seconds": _NNUM,
            "eta_seconds": _NNUM,
            "group": {
                **_NSTR,
                "description": "The group this job is an attempt of (POST /groups), or null.",
            },
            "attempt": {
                "type": ["integer", "null"],
                "description": "Its attempt number in the group, from 1; null outside one.",
            },
            "network": {
                "type": ["object", "null"],
                "properties": {
                    "mode": {"type": "string", "enum": ["open", "allowlist", "none"]},
                    "allowed_hosts": {"type": "array", "items": {"type": "string"}},
                    "source": {"type": "string"},
                },
                "description": "The policy the job's own `network` / `allowed_hosts` option "
                "settled when it was created (null: it gave none; the server's policy for its "
                "agent and repository applies)",
            },
            "limits": {
                "type": ["object", "null"],
                "additionalProperties": {"type": "integer"},
                "description": "The job's own resource limits (`memory` and `disk` in bytes, "
                "`cpu_time` in seconds, `processes`); null: the server's",
            },
            "verify": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "description": "The job's own verify commands (null: the repository's or "
                "the agent's, if any)",
            },
            "fix_rounds": {"type": "integer", "description": "Fix rounds the job may use"},
            "verified": {
                "type": ["boolean", "null"],
                "description": "Whether the result passed verify; null: no verify ran",
            },
            "rounds": {"type": ["integer", "null"], "description": "Fix rounds used"},
            "verify_transcripts": {
                "type": "array",
                "items": {"type": "string"},
                "description": "API paths of each verify run's transcript, in order",
            },
            "quota_refunded": {
                "type": "boolean",
                "description": "The job ended before its setup command or agent ran (queued,"
                " cloning, preparing its sandbox), so it does not count against the quota",
            },
            "parent": {**_NSTR, "description": "The job this follow-up continues, or null"},
            "thread": {
                "type": "string",
                "description": "The first job of this job's thread (its own id when it "
                "continues no job)",
            },
            "start_commit": {
                **_NSTR,
                "description": "A follow-up's start: its parent's result commit",
            },
            "result_commit": {
                **_NSTR,
                "description": "The commit of the job's result (kept by the server for "
                "follow-ups, pushed or not)",
            },
            "cost_usd": {
                **_NNUM,
                "description": "What the job's agent runs cost in US dollars, as the agent "
                "reported it (`CKRV_COST_FILE`, summed over its runs); null: unknown",
            },
        },
    },
    "JobCreate": JOB_CREATE,
    "JobListResponse": {
        "type": "object",
        "properties": {"jobs": {"type": "array", "items": ref("Job")}, "next_cursor": _NSTR},
    },
    "QuotaExceededError": {
        "type": "object",
        "properties": {
            "error": {"type": "string", "enum": ["quota_exceeded"]},
            "message": {"type": "string"},
            "quota_resets_at": {"type": "string", "format": "date-time"},
            "jobs_needed": {
                "type": "integer",
                "description": "A group refused whole: the jobs it needed.",
            },
            "jobs_left": {
                "type": "integer",
                "description": "A group refused whole: the jobs left in this cycle.",
            },
            "upgrade_url": {
                "type": "string",
                "format": "uri",
                "description": "The operator's upgrade_url, else this server's /account page",
            },
        },
    },
}

# The options a follow-up may override, described once (JobCreate's).
_JOB_ID = path_param("job_id", "Job id (UUID)")
# A follow-up takes a new job's keys but the repository (its parent's); null or left out: the
# parent's value.
_FOLLOW_UP: S = {
    "type": "object",
    "additionalProperties": False,
    "required": ["spec_content"],
    "properties": {
        **{k: v for k, v in JOB_CREATE["properties"].items() if k != "git_repo_url"},
        "spec_content": {"type": "string", "description": "The next instruction"},
        "git_base_branch": _NSTR,
    },
}
_FOLLOW_UP_JOB: S = {
    "allOf": [ref("Job")],
    "properties": {"notices": {"type": "array", "items": {"type": "string"}}},
}
_NOT_FOUND = {
    "404": {
        "description": "No such job (or not yours)",
        "content": {"application/json": {"schema": ref("Error")}},
    }
}
# The diff and the delta answer alike: the diff as text, or why there is none.
_DIFF_RESPONSES = {
    "200": {
        "description": "git diff --binary",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    **_NOT_FOUND,
    "410": ok(ref("Error"), "Expired"),
    **AUTH_ERRORS,
}

# Why creating a job (POST /jobs, a follow-up) is refused, besides authentication.
_CREATE_REFUSALS = {
    "400": ERROR,
    "402": ok(ref("QuotaExceededError"), "Quota exceeded"),
    "413": ok(ref("Error"), "Spec too large"),
    "422": ok(
        ref("Error"),
        "An unknown credential (`credential_not_found`), an agent whose program is "
        "not installed where jobs run, or a timeout over the server's maximum",
    ),
}

openapi_paths = {
    "/jobs": {
        "get": {
            "tags": ["Jobs"],
            "summary": "List your jobs, newest first",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": _STATUS}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "default": 20, "minimum": 1, "maximum": 100},
                },
                {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "id_prefix",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "Only jobs whose id starts with this",
                },
                {
                    "name": "thread",
                    "in": "query",
                    "schema": {"type": "string", "format": "uuid"},
                    "description": "Only the jobs of this thread: the job with this id (its "
                    "first job) and its follow-ups",
                },
            ],
            "responses": {"200": ok(ref("JobListResponse")), "400": ERROR, **AUTH_ERRORS},
        },
        "post": {
            "tags": ["Jobs"],
            "summary": "Dispatch a new job",
            "requestBody": body(ref("JobCreate")),
            "responses": {
                "201": ok(ref("Job"), "Job created and queued"),
                **_CREATE_REFUSALS,
                **AUTH_ERRORS,
            },
        },
    },
    "/jobs/{job_id}": {
        "get": {
            "tags": ["Jobs"],
            "summary": "A job's status and details",
            "parameters": [_JOB_ID],
            "responses": {"200": ok(ref("Job")), **_NOT_FOUND, **AUTH_ERRORS},
        }
    },
    "/jobs/{job_id}/continue": {
        "post": {
            "tags": ["Jobs"],
            "summary": "Follow up on a succeeded job: a new job starting from its result",
            "description": "The new job inherits every option that shaped the job's run: "
            "its repository (`git_repo_url` cannot change), `git_base_branch`, "
            "`git_credential_name`, `agent`, `setup`, `push`, `timeout_seconds`, `network` and "
            "`allowed_hosts`, `limits`, `verify` and `fix_rounds`. A field of the body "
            "overrides the inherited one (null or left out: inherited), checked as POST /jobs "
            'checks it (the same errors); an empty value (`""` for `setup` and `network`, '
            "`[]` for `verify` and `allowed_hosts`) drops the inherited one for the server's "
            "default; `limits` replaces the inherited limits one at a time (a limit set to null "
            "drops the inherited one). An inherited value the server now allows less of (a "
            "timeout over `max_job_timeout`, fix rounds over `max_fix_rounds`, a limit over its "
            "ceiling, a network option the policy refuses) is lowered to it (dropped, for the "
            "network), and the answer's `notices` (also in the job's log) say so. It "
            "starts from the job's result commit (kept by the server as a git bundle "
            "within artifact retention, so the job need not have pushed), keeps the thread's "
            "base commit and feature branch (its diff is the thread's whole change; "
            "`/artifacts/delta` is its own step; with `push` it fast-forwards the branch) and "
            "its agent is told the earlier specs and summaries. A route of its own rather "
            "than a `parent` field on POST /jobs: what is inherited is the server's to settle, "
            "the parent is found like any job of the caller (another user's is a 404), and "
            "POST /jobs keeps the cloud API contract's shape.",
            "parameters": [_JOB_ID],
            "requestBody": body(_FOLLOW_UP),
            "responses": {
                "201": ok(_FOLLOW_UP_JOB, "Follow-up created and queued"),
                **_CREATE_REFUSALS,
                "409": ok(ref("Error"), "The job has not succeeded or kept no result"),
                "410": ok(ref("Error"), "The job's result has expired"),
                **_NOT_FOUND,
                **AUTH_ERRORS,
            },
        }
    },
    "/jobs/{job_id}/cancel": {
        "post": {
            "tags": ["Jobs"],
            "summary": "Cancel a pending or running job",
            "parameters": [_JOB_ID],
            "responses": {
                "200": ok(ref("Job")),
                "409": ok(ref("Error"), "Job already ended"),
                **_NOT_FOUND,
                **AUTH_ERRORS,
            },
        }
    },
    "/jobs/{job_id}/artifacts/diff": {
        "get": {
            "tags": ["Jobs"],
            "summary": "The job's diff (empty when it changed nothing)",
            "parameters": [_JOB_ID],
            "responses": _DIFF_RESPONSES,
        }
    },
    "/jobs/{job_id}/artifacts/delta": {
        "get": {
            "tags": ["Jobs"],
            "summary": "A follow-up's own step: the diff from its parent's result (any other "
            "job's diff)",
            "parameters": [_JOB_ID],
            "responses": _DIFF_RESPONSES,
        }
    },
    "/jobs/{job_id}/artifacts/verify/{run}": {
        "get": {
            "tags": ["Jobs"],
            "summary": "The transcript of the job's verify run RUN (from 0)",
            "parameters": [_JOB_ID, path_param("run", "Verify run, from 0")],
            "responses": {
                "200": {
                    "description": "Each command, its output (masked) and exit code",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **_NOT_FOUND,
                "410": ok(ref("Error"), "Expired"),
                **AUTH_ERRORS,
            },
        }
    },
}
_ = ERROR
