"""A POST of a dashboard form (settings, admin): the CSRF check, then the action; what it
returns (a message, or extra context) or the error it raises is shown on its page, and
NotFound is the 404 page. One place, so every form refuses the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ckrv.errors import CkrvError, NotFound
from ckrv.server.pages.render import csrf_refused, not_found
from ckrv.server.pages.session import Browser, csrf_ok, signed_in_page

Action = Callable[[Request, Browser, Any], Awaitable[str | dict[str, Any]]]
# The form's page, drawn with an outcome: (request, browser, status, **context).
PageRenderer = Callable[..., Awaitable[Response]]


def form_action(
    action: Action, render: PageRenderer, *, admins_only: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """The route endpoint of one form. `admins_only`: anyone else gets the 404 page, before
    the form is even read."""

    async def handler(request: Request, browser: Browser) -> Response:
        if admins_only and not browser.is_admin:
            return not_found(request, browser)
        form = await request.form()
        if not csrf_ok(form.get("csrf_token", ""), browser.csrf_token):
            return csrf_refused(browser)
        try:
            outcome = await action(request, browser, form)
        except NotFound:
            return not_found(request, browser)
        except CkrvError as exc:
            return await render(request, browser, exc.status, error=exc.message)
        extra = {"message": outcome} if isinstance(outcome, str) else outcome
        return await render(request, browser, **extra)

    handler.__name__ = action.__name__
    return signed_in_page(handler)
