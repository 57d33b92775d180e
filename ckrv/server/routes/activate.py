"""The device-flow activation page: sign in, enter or confirm the code, then approve or deny.
Every POST carries a CSRF token (double-submit cookie before sign-in, the session's token
after); `?user_code=` only pre-fills the form; wrong codes and passwords are throttled."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ckrv.errors import AccountDisabled
from ckrv.server.identity import device_flow as device
from ckrv.server.identity import sessions
from ckrv.server.identity.users import authenticate
from ckrv.server.pages.render import page
from ckrv.server.pages.session import SESSION_COOKIE, csrf_ok, signed_in
from ckrv.server.web.request_auth import client_address, services
from ckrv.timeutil import iso, utcnow

CSRF_COOKIE = "ckrv_csrf"
_SESSION_TTL = timedelta(hours=1)
DISABLED_MESSAGE = "This account is disabled. Ask an administrator of this server to enable it."


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    # The dashboard's templates and headers (its look, and its Content-Security-Policy).
    return page(name, status, action="/activate", **context)


def _cookie_args(request: Request) -> dict[str, Any]:
    secure = services(request).settings.base_url.startswith("https://")
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/activate"}


async def show(request: Request) -> Response:
    code = device.normalize_user_code(request.query_params.get("user_code", ""))[:9]
    session = signed_in(request)
    if session:
        return _render(
            request,
            "activate.html",
            user_email=session.user["email"],
            csrf_token=session.csrf_token,
            user_code=code,
        )
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = _render(request, "activate.html", csrf_token=csrf, user_code=code, email="")
    response.set_cookie(CSRF_COOKIE, csrf, **_cookie_args(request))
    return response


def _csrf_refused(request: Request) -> HTMLResponse:
    return _render(
        request,
        "done.html",
        403,
        heading="Request refused",
        approved=False,
        message="The form's security token is missing or stale. Reload the page and try again.",
    )


def _too_many(
    request: Request, wait: int, template: str, context: dict[str, Any] | None = None
) -> Response:
    when = f"{wait} seconds" if wait < 120 else f"{-(-wait // 60)} minutes"
    response = _render(
        request,
        template,
        429,
        error=f"Too many failed attempts. Wait {when} and try again.",
        heading="Too many attempts",
        approved=False,
        message=f"Too many failed attempts. Wait {when} and try again.",
        **(context or {}),
    )
    response.headers["Retry-After"] = str(wait)
    return response


async def submit(request: Request) -> Response:
    form = await request.form()
    svc = services(request)
    code = device.normalize_user_code(str(form.get("user_code", "")))
    session = signed_in(request)
    expected = session.csrf_token if session else request.cookies.get(CSRF_COOKIE)
    if not csrf_ok(str(form.get("csrf_token", "")), expected):
        return _csrf_refused(request)
    email = session.user["email"] if session else str(form.get("email", "")).strip()
    addr = client_address(request)
    keys = (f"ip:{addr}", f"acct:{email.lower()}", f"form:{expected}")
    retry = {
        "csrf_token": expected,
        "user_code": code,
        "email": email,
        "user_email": session.user["email"] if session else None,
    }
    wait = svc.code_throttle.retry_after(*keys)
    if session is None:
        wait = max(wait, svc.login_throttle.retry_after(email, addr))
    if wait:
        return _too_many(request, wait, "activate.html", retry)
    user = session.user if session else None
    new_session: str | None = None
    if user is None:
        password = str(form.get("password", ""))
        try:
            user = await authenticate(svc.db, email, password)
        except AccountDisabled:
            return _render(request, "activate.html", 403, error=DISABLED_MESSAGE, **retry)
        if user is None:
            svc.login_throttle.failed(email, addr)
            return _render(
                request, "activate.html", 401, error="Email or password is wrong.", **retry
            )
        svc.login_throttle.succeeded(email, addr)
        new_session = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        user_id = user["id"]
        await svc.db.write(
            lambda c: sessions.create_session(
                c, new_session, user_id, csrf, iso(utcnow() + _SESSION_TTL)
            )
        )
        retry.update(csrf_token=csrf, user_email=user["email"])
    grant = svc.db.read_with(lambda c: device.find_pending(c, code))
    if grant is None:
        svc.code_throttle.fail(*keys)
        response = _render(
            request,
            "activate.html",
            400,
            error="That code is not valid or has "
            "expired. Check the code in your terminal, or start the login again.",
            **retry,
        )
    else:
        session_cookie = new_session or request.cookies.get(SESSION_COOKIE, "")
        response = _render(
            request,
            "confirm.html",
            user_email=user["email"],
            grant=grant,
            csrf_token=retry["csrf_token"],
            action_decide="/activate/decide",
            confirmation=sessions.confirmation(svc.form_key, session_cookie, grant["user_code"]),
        )
    if new_session:
        response.set_cookie(
            SESSION_COOKIE,
            new_session,
            max_age=int(_SESSION_TTL.total_seconds()),
            **_cookie_args(request),
        )
    return response


def _done(
    request: Request, status: int, heading: str, message: str, approved: bool = False
) -> HTMLResponse:
    return _render(
        request, "done.html", status, heading=heading, approved=approved, message=message
    )


async def decide(request: Request) -> Response:
    """Approve or deny a code, only one this browser session confirmed through the throttled
    code form (a decision for any other code is a 403 that counts as a wrong guess)."""
    form = await request.form()
    session = signed_in(request)
    if session is None:
        return RedirectResponse("/activate", status_code=303)
    if not csrf_ok(str(form.get("csrf_token", "")), session.csrf_token):
        return _csrf_refused(request)
    svc = services(request)
    raw_session = request.cookies.get(SESSION_COOKIE, "")
    keys = (f"ip:{client_address(request)}", f"form:{session.csrf_token}")
    wait = svc.code_throttle.retry_after(*keys)
    if wait:
        return _too_many(request, wait, "done.html")
    code, user_id = str(form.get("user_code", "")), session.user["id"]
    proof = str(form.get("confirmation", ""))
    if not sessions.confirmed(svc.form_key, raw_session, code, proof):
        svc.code_throttle.fail(*keys)
        return _done(
            request,
            403,
            "Request refused",
            "This browser has not confirmed that code. Enter the code from your terminal first.",
        )
    approve = form.get("decision") == "approve"
    changed = await svc.db.write(lambda c: device.decide(c, code, user_id, approve))
    if not changed:
        return _done(
            request,
            400,
            "Code expired",
            "That code is no longer waiting for approval. Start the login again.",
        )
    if approve:
        return _done(
            request,
            200,
            "Device approved",
            "Your terminal is now signed in. Return to it to continue.",
            approved=True,
        )
    return _done(request, 200, "Request denied", "The device was not signed in.")


routes = [
    Route("/activate", show, methods=["GET"]),
    Route("/activate", submit, methods=["POST"]),
    Route("/activate/decide", decide, methods=["POST"]),
]
