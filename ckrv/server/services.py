"""Everything a request handler reaches, built once per app by the composition root
(`create_app` in app.py; no module-level state)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Protocol

from ckrv.clock import Clock, SystemClock
from ckrv.server.executors.confinement import Confinement
from ckrv.server.identity.tokens import TokenIssuer
from ckrv.server.jobs.lifecycle import Engine
from ckrv.server.logs.masking import JobMaskers
from ckrv.server.logs.service import LogService
from ckrv.server.storage.database import Database
from ckrv.server.vault.master_keys import MasterKeys
from ckrv.server.web.throttle import LoginThrottle, Throttle
from ckrv.settings import Settings


class Component(Protocol):
    """A long-running part of the server (dispatcher, sweeper...) started from the lifespan."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Services:
    settings: Settings
    db: Database
    issuer: TokenIssuer
    master_keys: MasterKeys
    logs: LogService
    engine: Engine
    maskers: JobMaskers  # the server's own mask over everything workers write
    components: list[Component] = field(default_factory=list)  # started in this order
    code_throttle: Throttle = field(default_factory=lambda: Throttle(5, 900))
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    # Unauthenticated device-login starts per address per minute (sized from the settings).
    device_start_throttle: Throttle = field(default_factory=lambda: Throttle(20, 60))
    # Signs which user code a browser session confirmed on the activation page (per process:
    # a restart only asks for the code again).
    form_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    clock: Clock = field(default_factory=SystemClock)  # the device flow's polling rules read it
    confinement: Confinement | None = None  # how jobs' commands are sandboxed (local executor)

    async def start(self) -> None:
        self.db.open()
        await self.logs.start()
        for component in self.components:
            await component.start()

    async def stop(self) -> None:
        for component in reversed(self.components):
            await component.stop()
        await self.logs.stop()
        self.maskers.close()
        self.db.close()
