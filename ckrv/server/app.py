"""The app factory: `create_app(settings)` builds a Starlette app with its own Services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ckrv.server.services import Services
from ckrv.server.web.errors import EXCEPTION_HANDLERS
from ckrv.server.web.routing import PrefixRoutes
from ckrv.settings import Settings


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def api_routes() -> list[BaseRoute]:
    from ckrv.server.routes import auth, credentials, jobs, logs, openapi, secrets, worker

    return [  # order matters only among routes of one shape (PrefixRoutes)
        *jobs.routes,
        *worker.routes,
        *logs.routes,
        *auth.routes,
        *credentials.routes,
        *secrets.routes,
        *openapi.routes,
    ]


def page_routes() -> list[BaseRoute]:
    from ckrv.server.routes import activate, docs

    return [*activate.routes, *docs.routes]


class CkrvApp(Starlette):
    """The server's app, carrying its Services as a plain attribute: every request looks them
    up, and `app.state` answers through a __getattr__ that costs seven times as much."""

    services: Services


def create_app(settings: Settings, services: Services | None = None) -> CkrvApp:
    svc = services or Services.build(settings)
    from ckrv.server.jobs.lifecycle import install_components

    install_components(svc)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    app = CkrvApp(
        # The API first: the Router tries routes in order, and it serves nearly every request.
        routes=[PrefixRoutes("/v1", api_routes()), Route("/healthz", healthz), *page_routes()],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.services = svc
    return app
