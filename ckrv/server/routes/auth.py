"""Device flow and token endpoints (RFC 8628, RFC 6749 §5.2 errors, RFC 7009 revoke)."""

from __future__ import annotations

import sqlite3

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ckrv.errors import (
    InvalidGrant,
    InvalidRequest,
    OAuthError,
    RateLimited,
    UnsupportedGrantType,
)
from ckrv.server.identity import device_flow as device
from ckrv.server.identity.tokens import (
    new_refresh_token,
    revoke_refresh_token,
    rotate_refresh_token,
)
from ckrv.server.identity.users import profile
from ckrv.server.web.http import FastJSONResponse, field, json_body
from ckrv.server.web.request_auth import client_address, current_user, services
from ckrv.server.web.throttle import Throttle

# Unknown keys are ignored here, not refused as on the other routes: these are OAuth endpoints,
# whose server "MUST ignore unrecognized request parameters" (RFC 6749 §3.2), and an OAuth
# client may send standard ones this server does not use (`scope` to the device endpoint of
# RFC 8628, `token_type_hint` to RFC 7009's revoke). A missing required key is still a 400.
OAUTH_OPEN = None


def _token_response(access: str, refresh: str, ttl: float) -> JSONResponse:
    return JSONResponse(
        {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": int(ttl),
        },
        headers={"Cache-Control": "no-store"},
    )


def _count_device_start(throttle: Throttle, addr: str) -> None:
    """Anyone may start a device login, and each start is a row: a few a minute per address."""
    if not throttle.limit:
        return
    key = f"ip:{addr}"
    if throttle.blocked(key):
        raise RateLimited(
            f"too many device logins started from {addr}; try again later",
            retry_after=throttle.retry_after(key),
        )
    throttle.fail(key)


async def start_device_flow(request: Request) -> Response:
    body = await json_body(request, accepted=OAUTH_OPEN)
    client_id = field(body, "client_id")
    if not 0 < len(client_id) <= 100:
        raise InvalidRequest("client_id must be 1 to 100 characters")
    svc = services(request)
    settings = svc.settings
    addr = client_address(request)
    _count_device_start(svc.device_start_throttle, addr)
    grant = await svc.db.write(
        lambda c: device.create(
            c, client_id, addr, settings.device_code_ttl, settings.device_poll_interval
        )
    )
    # Without --public-url, the address the CLI reached us at (a server on 0.0.0.0 would
    # otherwise send browsers to http://0.0.0.0:PORT).
    base = settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    activate = f"{base}/activate"
    grant["verification_uri"] = activate
    grant["verification_uri_complete"] = f"{activate}?user_code={grant['user_code']}"
    return JSONResponse(grant, headers={"Cache-Control": "no-store"})


async def exchange_device_code(request: Request) -> Response:
    body = await json_body(request, accepted=OAUTH_OPEN)
    if field(body, "grant_type") != device.DEVICE_GRANT:
        raise UnsupportedGrantType(f"grant_type must be {device.DEVICE_GRANT}")
    device_code, client_id = field(body, "device_code"), field(body, "client_id")
    svc = services(request)
    ttl = svc.settings.refresh_token_ttl

    def redeem(conn: sqlite3.Connection) -> tuple[str, str] | OAuthError:
        user_id = device.poll(conn, device_code, client_id, svc.clock.now())
        if isinstance(user_id, OAuthError):
            return user_id
        return user_id, new_refresh_token(conn, user_id, client_id, ttl)

    outcome = await svc.db.write(redeem)
    if isinstance(outcome, OAuthError):  # returned by the writer, so that it commits the poll
        raise outcome
    user_id, refresh = outcome
    return _token_response(svc.issuer.access_token(user_id), refresh, svc.settings.access_token_ttl)


async def refresh_tokens(request: Request) -> Response:
    body = await json_body(request, accepted=OAUTH_OPEN)
    if field(body, "grant_type") != "refresh_token":
        raise UnsupportedGrantType("grant_type must be refresh_token")
    token = field(body, "refresh_token")
    svc = services(request)
    outcome = await svc.db.write(
        lambda c: rotate_refresh_token(c, token, svc.settings.refresh_token_ttl)
    )
    if isinstance(outcome, InvalidGrant):  # returned: a replay's family revocation commits
        raise outcome
    user_id, refresh = outcome
    return _token_response(svc.issuer.access_token(user_id), refresh, svc.settings.access_token_ttl)


async def revoke_token(request: Request) -> Response:
    body = await json_body(request, accepted=OAUTH_OPEN)
    token = field(body, "token")
    await services(request).db.write(lambda c: revoke_refresh_token(c, token))
    return JSONResponse({"revoked": True})  # RFC 7009: same answer for unknown tokens


async def me(request: Request) -> Response:
    return FastJSONResponse(profile(current_user(request)))


routes = [
    Route("/auth/device", start_device_flow, methods=["POST"]),
    Route("/auth/token", exchange_device_code, methods=["POST"]),
    Route("/auth/refresh", refresh_tokens, methods=["POST"]),
    Route("/auth/revoke", revoke_token, methods=["POST"]),
    Route("/users/me", me, methods=["GET"]),
]
