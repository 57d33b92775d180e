"""The composition root: `create_app(settings)` builds every component of the server once,
connects them, and hands them to a Starlette app as its Services. Components receive what they
use as constructor arguments; none looks another up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ckrv.server.executors.base import Executor
from ckrv.server.executors.confinement import Confinement, decide
from ckrv.server.executors.local import LocalExecutor
from ckrv.server.identity.signing_key import load_signing_key
from ckrv.server.identity.tokens import TokenIssuer
from ckrv.server.jobs.dispatcher import Dispatcher
from ckrv.server.jobs.lifecycle import Engine
from ckrv.server.jobs.retention import Sweeper
from ckrv.server.logs.masking import JobMaskers
from ckrv.server.logs.service import LogService
from ckrv.server.pages import routes as pages
from ckrv.server.routes import (
    activate,
    auth,
    credentials,
    docs,
    groups,
    jobs,
    logs,
    openapi,
    secrets,
    worker,
)
from ckrv.server.services import Services
from ckrv.server.storage.artifacts import ArtifactStore
from ckrv.server.storage.data_dir import prepare_data_dir
from ckrv.server.storage.database import Database, migrate
from ckrv.server.vault.master_keys import load_master_keys
from ckrv.server.web.access_log import AccessLog
from ckrv.server.web.errors import EXCEPTION_HANDLERS
from ckrv.server.web.routing import PrefixRoutes
from ckrv.server.web.throttle import Throttle
from ckrv.settings import Settings


async def healthz(request: Request) -> Response:
    """Up, and whether jobs are confined (what `ckrv serve` said at start)."""
    confinement = request.app.services.confinement
    body: dict[str, object] = {"status": "ok"}
    if confinement is not None:
        body["details"] = confinement.details()
    return JSONResponse(body)


def api_routes() -> list[BaseRoute]:
    return [  # order matters only among routes of one shape (PrefixRoutes)
        *jobs.routes,
        *groups.routes,
        *worker.routes,
        *logs.routes,
        *auth.routes,
        *credentials.routes,
        *secrets.routes,
        *openapi.routes,
    ]


def page_routes() -> list[BaseRoute]:
    return [*activate.routes, *docs.routes, *pages.routes]


def make_executor(
    settings: Settings, logs: LogService, confinement: Confinement, maskers: JobMaskers
) -> Executor:
    if settings.executor == "kubernetes":
        # Imported only when configured: the kubernetes client is heavy, and optional.
        from ckrv.server.executors.kubernetes import KubernetesExecutor

        async def pod_log(job_id: str, lines: list[str]) -> None:
            lines = await maskers.mask_for_job_id(job_id, lines)  # the worker's own output
            await logs.executor_lines(job_id, lines, "kubernetes")

        return KubernetesExecutor(settings, log_sink=pod_log)
    return LocalExecutor(
        settings.data_dir / "workspaces", sandbox=confinement.mode, data_dir=settings.data_dir
    )


def build_services(settings: Settings) -> Services:
    """Every component, built once: storage, identity, the vault's keys, logs, and the job
    engine with the dispatcher and the retention sweeper that drive it."""
    prepare_data_dir(settings.data_dir)
    db = Database(settings.data_dir / "ckrv.db")
    migrate(db.path)  # here, not in the lifespan: a newer schema is refused before serving
    issuer = TokenIssuer(
        load_signing_key(settings.data_dir), settings.base_url, settings.access_token_ttl
    )
    master_keys = load_master_keys(settings.data_dir)
    logs = LogService(db, settings.data_dir, settings.max_log_bytes)
    artifacts = ArtifactStore(settings.data_dir)
    wakeup = asyncio.Event()  # the engine sets it, the dispatcher waits on it
    confinement = decide(settings)  # can this machine sandbox the jobs' commands?
    maskers = JobMaskers(db, master_keys)
    executor = make_executor(settings, logs, confinement, maskers)
    engine = Engine(
        db,
        logs,
        artifacts,
        executor,
        upgrade_url=settings.quota_upgrade_url,
        wake=wakeup.set,
        mask_worker_text=maskers.mask_text_for_job_id,
    )
    dispatcher = Dispatcher(engine, wakeup, settings, master_keys, issuer)
    sweeper = Sweeper(db, artifacts, settings.artifact_retention)
    return Services(
        settings,
        db,
        issuer,
        master_keys,
        logs,
        engine,
        maskers,
        components=[dispatcher, sweeper],
        confinement=confinement,
        device_start_throttle=Throttle(settings.device_starts_per_minute, 60),
    )


class CkrvApp(Starlette):
    """The server's app, carrying its Services as a plain attribute: every request looks them
    up, and `app.state` answers through a __getattr__ that costs seven times as much."""

    services: Services


def create_app(settings: Settings) -> CkrvApp:
    svc = build_services(settings)

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
        middleware=[Middleware(AccessLog)],
        lifespan=lifespan,
    )
    app.services = svc
    return app
