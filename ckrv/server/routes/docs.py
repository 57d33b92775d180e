"""`GET /docs`: the API reference as one readable HTML page, rendered from the server's own
OpenAPI document (the same view docs/api.md is generated from). No scripts, no external assets:
it works offline and under a strict Content-Security-Policy."""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ckrv.server.apidocs.openapi import document
from ckrv.server.apidocs.reference import describe
from ckrv.server.web.request_auth import services

_CODE_SPAN = re.compile(r"`([^`]+)`")
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def code_spans(text: str) -> Markup:
    """Escape `text`, then show its `backticked` parts as code."""
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", str(escape(text))))


@lru_cache(maxsize=4)  # the page only changes with the code: rendered once per server URL
def render(server_url: str) -> str:
    """The page for a server whose API is at `server_url`."""
    env = Environment(
        loader=PackageLoader("ckrv.server", "templates"), autoescape=select_autoescape(default=True)
    )
    env.filters["code"] = code_spans
    doc = describe(document(server_url))
    return env.get_template("docs.html").render(doc=doc, openapi_url=f"{server_url}/openapi.json")


async def docs_page(request: Request) -> Response:
    return HTMLResponse(render(services(request).settings.api_url), headers=_HEADERS)


routes = [Route("/docs", docs_page, methods=["GET"])]
