"""Rendering a page: one jinja2 environment (autoescape on), the headers every page carries
(a strict Content-Security-Policy: our own scripts and styles only, nothing inline, no other
host), and the HTML answers for refusals (404, 403)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ckrv.server.pages.static import asset_version

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CSP,
}


@cache  # the templates only change with the code: loaded once per process
def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("ckrv.server", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["asset_version"] = asset_version  # /static/x.css?v=<hash>: cached until it changes
    return env


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The template `name` rendered as a page, with the security headers."""
    html = templates().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def not_found(request: Request, browser: Any = None) -> HTMLResponse:
    """What a missing job and another user's job both look like."""
    return page(
        "message.html",
        404,
        browser=browser,
        heading="Not found",
        message="There is nothing here, or it is not yours to see.",
    )


def csrf_refused(browser: Any = None) -> HTMLResponse:
    return page(
        "message.html",
        403,
        browser=browser,
        heading="Request refused",
        message="The form's security token is missing or stale. Reload the page and try again.",
    )
