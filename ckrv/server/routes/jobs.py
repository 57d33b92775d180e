"""The jobs API: create (quota spent atomically), list (cursor, status, id prefix), get,
cancel, and the diff artifact. Another user's job is a 404 on every route."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
from collections.abc import AsyncIterator
from typing import Any, BinaryIO

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ckrv.contracts.agents import available_agents
from ckrv.contracts.jobmodel import STATUSES, TERMINAL
from ckrv.errors import (
    ArtifactExpired,
    Conflict,
    CredentialNotFound,
    InvalidRequest,
    NoDiff,
    NotFinished,
    NotFound,
    Unconfined,
)
from ckrv.server.identity.users import count_users
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.limits import job_limits
from ckrv.server.jobs.network import job_layer, job_network
from ckrv.server.jobs.validation import MAX_SPEC_BYTES, check_branch, check_repo_url, check_spec
from ckrv.server.services import Services
from ckrv.server.vault.credential_rules import check_credential_fits
from ckrv.server.vault.store import find_credential, list_credentials
from ckrv.server.web.http import (
    FastJSONResponse,
    decode_cursor,
    encode_cursor,
    field,
    json_body,
    query_int,
)
from ckrv.server.web.request_auth import current_user_id, owned_job, services
from ckrv.settings import Settings

_MAX_SETUP = 16 * 1024
_ID_PREFIX = re.compile(r"^[0-9a-f-]{1,36}$")


def _credential(
    svc: Services, user_id: str, name: str | None, repo_url: str
) -> tuple[str | None, str | None]:
    if name is None:
        return None, None
    db = svc.db
    row = db.read_with(lambda c: find_credential(c, user_id, name))
    if row is None:
        names = [c["name"] for c in db.read_with(lambda c: list_credentials(c, user_id))]
        listing = (
            ", ".join(names) if names else "none yet; add one with `ckrv cloud credentials add`"
        )
        raise CredentialNotFound(
            f"no git credential named {name!r}; yours: {listing}", credentials=names
        )
    check_credential_fits(row["credential_type"], repo_url)
    return row["id"], name


def _timeout(settings: Settings, body: dict[str, Any]) -> float:
    raw = body.get("timeout_seconds")
    if raw is None:
        return settings.job_timeout
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise InvalidRequest("timeout_seconds must be a positive number")
    return float(min(raw, settings.max_job_timeout))


def parse_new_job(svc: Services, user_id: str, body: dict[str, Any]) -> jobs.NewJob:
    settings = svc.settings
    spec = field(body, "spec_content")
    check_spec(spec)
    repo = field(body, "git_repo_url")
    check_repo_url(repo, settings)
    branch = field(body, "git_base_branch", required=False, default="main")
    check_branch(branch)
    agent = field(body, "agent", required=False) or settings.default_agent
    known = available_agents(settings.agents)
    if agent not in known:
        raise InvalidRequest(
            f"unknown agent {agent!r}; this server knows: {', '.join(sorted(known))}",
        )
    setup = field(body, "setup", required=False)
    if setup is not None and (len(setup) > _MAX_SETUP or not setup.strip()):
        raise InvalidRequest(
            f"setup must be a non-empty command of at most {_MAX_SETUP} bytes",
        )
    push = field(body, "push", required=False, kind=bool, default=False)
    # A job's own network option is settled, and checked against the operator's, now; without
    # one the column stays NULL and the operator's policy is settled at dispatch, which keeps
    # a policy's JSON out of every job's row and its settling off the creation path.
    network = None
    if job_layer(body) is not None:
        network = json.dumps(job_network(settings, known[agent], repo, body).as_dict())
    limits = job_limits(settings, known[agent], body)
    credential_id, credential_name = _credential(
        svc, user_id, field(body, "git_credential_name", required=False), repo
    )
    return jobs.NewJob(
        user_id,
        spec,
        repo,
        branch,
        agent,
        _timeout(settings, body),
        setup,
        credential_id,
        credential_name,
        push,
        network,
        limits,
    )


def refuse_unconfined(svc: Services) -> None:
    """409 while jobs cannot be confined (not by the operator's choice) and the server has
    more than one user: one user's job could read another's secrets."""
    confinement = svc.confinement
    if confinement is None or not confinement.one_user_only:
        return
    refusal = confinement.refusal(svc.db.read_with(count_users))
    if refusal is not None:
        raise Unconfined(refusal)


async def create_job(request: Request) -> Response:
    user_id = current_user_id(request)
    body = await json_body(request, max_bytes=MAX_SPEC_BYTES * 6 + 65536)
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
    rows = services(request).db.read_with(
        lambda c: jobs.list_page(
            c, user_id, limit + 1, status=status, id_prefix=prefix, before=before
        )
    )
    eng = services(request).engine
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]["seq"]) if len(rows) > limit else None
    return FastJSONResponse({"jobs": [eng.public(r) for r in page], "next_cursor": next_cursor})


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
    row = owned_job(request, current_user_id(request))
    if row["status"] != "succeeded" or row["artifacts_expired"]:
        raise _no_diff_reason(row)
    try:  # open first: the sweeper may delete the file, but not from under an open handle
        handle = services(request).engine.artifacts.path(row["id"], "diff.patch").open("rb")
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
    Route("/jobs/{job_id}/artifacts/diff", get_diff, methods=["GET"]),
]
