"""Who is calling: bearer tokens for users (JWT access tokens or API tokens) and workers."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

from starlette.requests import Request

from ckrv.errors import NotAuthenticated, NotFound
from ckrv.server.identity.tokens import (
    API_AUDIENCE,
    API_TOKEN_PREFIX,
    WORKER_AUDIENCE,
    api_token_user,
    find_api_token,
    touch_api_token,
    user_by_api_token,
)
from ckrv.server.identity.users import account_state, find_user, require_enabled
from ckrv.server.jobs import store as jobs
from ckrv.server.services import Services
from ckrv.server.web.http import header as http_header
from ckrv.timeutil import iso, parse_iso, utcnow

# How precisely an API token's `last_used_at` is kept.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def services(request: Request) -> Services:
    return request.app.services  # type: ignore[no-any-return]


def bearer_token(request: Request) -> str:
    header = http_header(request, b"authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("missing bearer token; log in with `ckrv cloud login`")
    return token.strip()


def current_user_id(request: Request) -> str:
    """The calling user's id; 401 for a bad token or a removed user, 403 for a disabled one
    (one indexed read: an access token stops working as soon as its user is disabled)."""
    token = bearer_token(request)
    svc = services(request)
    if token.startswith(API_TOKEN_PREFIX):
        row = svc.db.read_with(lambda c: find_api_token(c, token))
        user_id = api_token_user(row)
        require_enabled(row)
        assert row is not None
        _note_use(svc, row)
        return user_id
    user_id = str(svc.issuer.verify(token, audience=API_AUDIENCE, typ="access")["sub"])
    require_enabled(svc.db.read_with(lambda c: account_state(c, user_id)))
    return user_id


def current_user(request: Request) -> sqlite3.Row:
    """The calling user's row, in one read whichever kind of token it is (for routes that need
    the row itself, such as /users/me)."""
    token = bearer_token(request)
    svc = services(request)
    if token.startswith(API_TOKEN_PREFIX):
        row = svc.db.read_with(lambda c: user_by_api_token(c, token))
        api_token_user(row)
        require_enabled(row)
        assert row is not None
        _note_use(svc, row)
        return row
    user_id = svc.issuer.verify(token, audience=API_AUDIENCE, typ="access")["sub"]
    row = svc.db.read_with(lambda c: find_user(c, user_id))
    require_enabled(row)
    assert row is not None
    return row


def _note_use(svc: Services, row: sqlite3.Row) -> None:
    """Record the API token's use as `last_used_at`, at most once per TOKEN_USE_RESOLUTION
    (the one writer is not spent on a busy token's every request)."""
    now = utcnow()
    last = parse_iso(row["last_used_at"])
    if last is not None and now - last < TOKEN_USE_RESOLUTION:
        return
    token_id, stamp, before = row["token_id"], iso(now), iso(now - TOKEN_USE_RESOLUTION)
    svc.db.write_soon(lambda c: touch_api_token(c, token_id, stamp or "", before or ""))


def worker_claims(request: Request) -> dict[str, Any]:
    """The claims of a worker token (one job, one dispatch attempt); 401 when invalid."""
    return services(request).issuer.verify(
        bearer_token(request), audience=WORKER_AUDIENCE, typ="worker"
    )


def owned_job(request: Request, user_id: str, columns: str = jobs.COLUMNS) -> sqlite3.Row:
    """The job of the path's `job_id`, when `user_id` owns it; another user's job is a 404
    like a missing one."""
    job_id = request.path_params["job_id"]
    row = services(request).db.read_with(lambda c: jobs.find(c, job_id, columns, user_id))
    if row is None:
        raise NotFound(f"no job {job_id}")
    return row


def client_address(request: Request) -> str:
    # The socket's peer; uvicorn puts the X-Forwarded-For address here only for a request from
    # a proxy named in `trusted_proxies` (anyone else can forge that header).
    return request.client.host if request.client else "unknown"
