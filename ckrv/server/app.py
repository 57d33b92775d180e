"""The app factory: `create_app(settings)` builds a Starlette app with its own Services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from ckrv.server.http import HTTPError, http_error_handler
from ckrv.server.services import Services
from ckrv.settings import Settings


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        {"error": code, "message": str(exc.detail)},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def api_routes() -> list[BaseRoute]:
    from ckrv.server.routes import auth, credentials, jobs, logs, openapi, secrets, worker

    return [
        *auth.routes,
        *jobs.routes,
        *logs.routes,
        *worker.routes,
        *credentials.routes,
        *secrets.routes,
        *openapi.routes,
    ]


def page_routes() -> list[BaseRoute]:
    from ckrv.server.routes import activate, docs

    return [*activate.routes, *docs.routes]


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    svc = services or Services.build(settings)
    from ckrv.server.engine import install_components

    install_components(svc)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    app = Starlette(
        routes=[Route("/healthz", healthz), Mount("/v1", routes=api_routes()), *page_routes()],
        exception_handlers={HTTPError: http_error_handler, HTTPException: _http_exception},
        lifespan=lifespan,
    )
    app.state.services = svc
    return app
