"""The signed-in browser. A session is a random cookie (HttpOnly, SameSite=Lax, Secure over
https) whose hash is a `web_sessions` row holding the user and the CSRF token every form of
that session carries; the activation page reads the same sessions. Before sign-in, the sign-in
form is protected by a double-submit cookie."""

from __future__ import annotations

import hmac
import re
import secrets
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ckrv.server.identity import sessions
from ckrv.server.identity.users import find_user
from ckrv.server.web.request_auth import services
from ckrv.timeutil import iso, utcnow

SESSION_COOKIE = "ckrv_session"  # the activation page's name: one sign-in serves both
FORM_COOKIE = "ckrv_form_csrf"  # the sign-in form's double-submit token
SESSION_TTL = timedelta(hours=12)
_LOCAL_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/?#-]*")


@dataclass(frozen=True)
class Browser:
    """A signed-in browser: its user's row and the CSRF token its forms carry."""

    user: sqlite3.Row
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        try:  # a users table without the admin column yet: nobody is one
            return bool(self.user["admin"])
        except IndexError:
            return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_args(request: Request) -> dict[str, Any]:
    """Secure when the browser talks https to us, directly or through a proxy named in the
    configured base URL."""
    secure = request.url.scheme == "https" or services(request).settings.base_url.startswith(
        "https://"
    )
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}


def signed_in(request: Request) -> Browser | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    db = services(request).db
    row = db.read_with(lambda c: sessions.find_session(c, raw))
    if row is None:
        return None
    user = db.read_with(lambda c: find_user(c, row["user_id"]))
    return Browser(user, row["csrf_token"]) if user is not None else None


def csrf_ok(given: object, expected: str | None) -> bool:
    return bool(expected) and hmac.compare_digest(str(given).encode(), str(expected).encode())


Handler = Callable[[Request, Browser], Awaitable[Response]]


def signed_in_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page for signed-in browsers; anyone else is sent to /signin, and back after it."""

    async def endpoint(request: Request) -> Response:
        browser = signed_in(request)
        if browser is None:
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":
                back = "/"
            return RedirectResponse(f"/signin?next={quote(back, safe='/')}", status_code=303)
        return await handler(request, browser)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this server, never another host."""
    # Printable URL characters only: a browser drops tabs and newlines, so "/\t/host" would
    # become "//host", another site.
    if not _LOCAL_PATH.fullmatch(target) or target.startswith("//"):
        return "/"
    return target


async def start_session(request: Request, response: Response, user_id: str) -> None:
    raw, csrf = secrets.token_urlsafe(32), new_token()
    expires = sessions_expiry()
    await services(request).db.write(
        lambda c: sessions.create_session(c, raw, user_id, csrf, expires)
    )
    response.set_cookie(
        SESSION_COOKIE, raw, max_age=int(SESSION_TTL.total_seconds()), **cookie_args(request)
    )


def sessions_expiry() -> str | None:
    return iso(utcnow() + SESSION_TTL)


async def end_session(request: Request, response: Response) -> None:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        await services(request).db.write(lambda c: sessions.delete_session(c, raw))
    response.delete_cookie(SESSION_COOKIE, **_deletion_args(request))


def _deletion_args(request: Request) -> dict[str, Any]:
    args = cookie_args(request)
    return {k: args[k] for k in ("path", "secure", "httponly", "samesite")}
