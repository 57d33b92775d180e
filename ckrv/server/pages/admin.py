"""`/admin`, for administrators only (anyone else gets the 404 page, on every route): users
(add, disable and enable, set the tier, reset the password), the queue and running jobs of
every user with cancel, the server's health and its effective settings. Each form carries the
session's CSRF token and calls what `ckrv admin` and the API call (users.py, admin.py, the
job engine), never a second copy of the rules."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ckrv.errors import NotFound, UsageError
from ckrv.server import admin as admin_ops
from ckrv.server.identity import users
from ckrv.server.pages import adminview
from ckrv.server.pages.forms import Action, form_action
from ckrv.server.pages.render import not_found, page
from ckrv.server.pages.session import Browser, signed_in_page
from ckrv.server.web.request_auth import services

MIN_PASSWORD = 8


async def _context(request: Request, browser: Browser) -> dict[str, Any]:
    svc = services(request)
    listing = svc.db.read_with(
        lambda c: {
            "users": [admin_ops.user_summary(r) for r in users.all_users(c)],
            **adminview.queue(c),
        }
    )
    disk = await asyncio.to_thread(adminview.disk_use, svc.settings.data_dir)
    return {
        **listing,
        "browser": browser,
        "nav": "admin",
        "tiers": list(users.TIERS),
        "health": adminview.health(svc, len(listing["running"]), len(listing["queued"])),
        "disk": disk,
        "settings": adminview.effective_settings(svc.settings),
    }


async def _admin_page(
    request: Request, browser: Browser, status: int = 200, **extra: Any
) -> Response:
    return page("admin.html", status, **(await _context(request, browser)), **extra)


async def show(request: Request, browser: Browser) -> Response:
    if not browser.is_admin:
        return not_found(request, browser)
    return await _admin_page(request, browser)


def admin_action(action: Action) -> Callable[[Request], Awaitable[Response]]:
    """A POST of an admin form: a 404 for anyone but an administrator (pages/forms.py)."""
    return form_action(action, _admin_page, admins_only=True)


def _target_email(request: Request) -> str:
    """The email of the user in the path (by id), or NotFound."""
    user_id = request.path_params["user_id"]
    row = services(request).db.read_with(lambda c: users.find_user(c, user_id))
    if row is None:
        raise NotFound(f"no user {user_id}")
    return str(row["email"])


async def add_user(request: Request, browser: Browser, form: Any) -> str:
    email, name = str(form.get("email", "")).strip(), str(form.get("name", "")).strip()
    tier, password = str(form.get("tier", "free")), str(form.get("password", ""))
    make_admin = form.get("admin") == "on"
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password must be at least {MIN_PASSWORD} characters")
    hashed = await asyncio.to_thread(users.hash_password, password)  # not in the writer
    await services(request).db.write(
        lambda c: users.add_user(c, email, name, tier, hashed, make_admin)
    )
    return f"Created {email} ({tier}{', administrator' if make_admin else ''})."


async def set_tier(request: Request, browser: Browser, form: Any) -> str:
    email, tier = _target_email(request), str(form.get("tier", ""))
    await services(request).db.write(lambda c: users.set_tier(c, email, tier))
    return f"{email} is now on the {tier} tier."


async def disable(request: Request, browser: Browser, form: Any) -> str:
    email = _target_email(request)
    if email.lower() == str(browser.user["email"]).lower():
        raise UsageError("you cannot disable your own account here (use `ckrv admin user`)")
    await services(request).db.write(lambda c: users.set_disabled(c, email, True))
    return f"{email} is disabled: it cannot sign in, and its tokens and sessions are refused."


async def enable(request: Request, browser: Browser, form: Any) -> str:
    email = _target_email(request)
    await services(request).db.write(lambda c: users.set_disabled(c, email, False))
    return f"{email} is enabled again."


async def reset_password(request: Request, browser: Browser, form: Any) -> dict[str, Any]:
    email = _target_email(request)
    password = secrets.token_urlsafe(12)
    hashed = await asyncio.to_thread(users.hash_password, password)
    await services(request).db.write(lambda c: admin_ops.reset_password(c, email, hashed))
    return {"new_password": password, "new_password_for": email}


async def cancel_job(request: Request, browser: Browser, form: Any) -> str:
    job_id = request.path_params["job_id"]
    if not await services(request).engine.cancel(job_id, by="an administrator"):
        raise NotFound(f"no queued or running job {job_id}")
    return f"Job {job_id} cancelled."


routes: list[BaseRoute] = [
    Route("/admin", signed_in_page(show), methods=["GET"]),
    Route("/admin/users", admin_action(add_user), methods=["POST"]),
    Route("/admin/users/{user_id}/tier", admin_action(set_tier), methods=["POST"]),
    Route("/admin/users/{user_id}/disable", admin_action(disable), methods=["POST"]),
    Route("/admin/users/{user_id}/enable", admin_action(enable), methods=["POST"]),
    Route("/admin/users/{user_id}/reset-password", admin_action(reset_password), methods=["POST"]),
    Route("/admin/jobs/{job_id}/cancel", admin_action(cancel_job), methods=["POST"]),
]
