"""/signin and /signout: the same accounts and passwords as the activation page, the same
throttle on wrong passwords, and a CSRF token on both forms."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ckrv.errors import AccountDisabled
from ckrv.server.identity.users import authenticate
from ckrv.server.pages.render import csrf_refused, page
from ckrv.server.pages.session import (
    FORM_COOKIE,
    cookie_args,
    csrf_ok,
    end_session,
    new_token,
    safe_next,
    signed_in,
    start_session,
)
from ckrv.server.web.request_auth import client_address, services

DISABLED_MESSAGE = "This account is disabled. Ask an administrator of this server to enable it."


def _form(
    request: Request, status: int = 200, *, email: str = "", error: str | None = None
) -> Response:
    csrf = request.cookies.get(FORM_COOKIE) or new_token()
    response = page(
        "signin.html",
        status,
        csrf_token=csrf,
        email=email,
        error=error,
        next=safe_next(request.query_params.get("next", "/")),
    )
    response.set_cookie(FORM_COOKIE, csrf, **cookie_args(request))
    return response


async def show(request: Request) -> Response:
    if signed_in(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next", "/")), 303)
    return _form(request)


async def submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(form.get("csrf_token", ""), request.cookies.get(FORM_COOKIE)):
        return csrf_refused()
    svc = services(request)
    email = str(form.get("email", "")).strip()
    address = client_address(request)
    wait = svc.login_throttle.retry_after(email, address)  # the activation page's lockout
    if wait:
        when = f"{wait} seconds" if wait < 120 else f"{-(-wait // 60)} minutes"
        error = f"Too many failed attempts. Wait {when} and try again."
        response = _form(request, 429, email=email, error=error)
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        user = await authenticate(svc.db, email, str(form.get("password", "")))
    except AccountDisabled:
        return _form(request, 403, email=email, error=DISABLED_MESSAGE)
    if user is None:
        svc.login_throttle.failed(email, address)
        return _form(request, 401, email=email, error="Email or password is wrong.")
    svc.login_throttle.succeeded(email, address)
    response = RedirectResponse(safe_next(str(form.get("next", "/"))), status_code=303)
    await start_session(request, response, user["id"])
    response.delete_cookie(FORM_COOKIE, path="/")
    return response


async def sign_out(request: Request) -> Response:
    form = await request.form()
    browser = signed_in(request)
    if browser is None:
        return RedirectResponse("/signin", status_code=303)
    if not csrf_ok(form.get("csrf_token", ""), browser.csrf_token):
        return csrf_refused(browser)
    response = RedirectResponse("/signin", status_code=303)
    await end_session(request, response)
    return response
