"""The one error handler: any CkrvError a route lets through becomes its HTTP answer,
`{"error": code, "message": ..., **fields}` with the error's status. Starlette's own 404 and
405 get the same shape. A client gone before its body arrived gets nothing (nobody reads it):
its access log line says 408 when the server cut it off for a slow body, else 499."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ckrv.errors import CkrvError, RateLimited

# Error codes of RFC 6749 §5.2 / RFC 8628 §3.5: bodies carrying them also get error_description.
OAUTH_CODES = (
    "authorization_pending",
    "slow_down",
    "access_denied",
    "expired_token",
    "invalid_grant",
    "invalid_request",
    "unsupported_grant_type",
    "invalid_client",
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ckrv"'}
# The scope extension connections.py sets on a request whose body it timed out and answered 408.
BODY_TIMED_OUT = "ckrv.body_timeout"


def error_response(exc: CkrvError) -> Response:
    body = {"error": exc.code, "message": exc.message, **exc.fields()}
    if exc.code in OAUTH_CODES:
        body["error_description"] = exc.message  # RFC 6749 §5.2 names it so
    headers = _CHALLENGE if exc.status == 401 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def ckrv_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CkrvError)
    if exc.status >= 500:
        # A failure, not an answer (a key that does not decrypt, a bad config): raised on, so
        # the server logs it and answers a plain 500 without the message.
        raise exc
    return error_response(exc)


async def starlette_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own answers (no such route, method not allowed) in the same JSON shape."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        {"error": code, "message": str(exc.detail)},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up while its body was being read, or connections.py cut off a slow
    body (and answered 408 itself): not a server failure. The answer is never sent; its status
    is what the access log records (499: nginx's "client closed request")."""
    timed_out = BODY_TIMED_OUT in request.scope.get("extensions", {})
    return Response(status_code=408 if timed_out else 499)


EXCEPTION_HANDLERS = {
    CkrvError: ckrv_error,
    HTTPException: starlette_http_exception,
    ClientDisconnect: client_gone,
}
