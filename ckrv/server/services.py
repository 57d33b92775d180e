"""Everything a request handler needs, built once per app (no module-level state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ckrv.server.identity.signing_key import load_signing_key
from ckrv.server.identity.tokens import TokenIssuer
from ckrv.server.logs.service import LogService
from ckrv.server.storage.data_dir import prepare_data_dir
from ckrv.server.storage.database import Database, migrate
from ckrv.server.vault.master_keys import MasterKeys, load_master_keys
from ckrv.server.web.throttle import Throttle
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
    code_throttle: Throttle = field(default_factory=lambda: Throttle(5, 900))
    login_throttle: Throttle = field(default_factory=lambda: Throttle(5, 900))
    components: list[Component] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        prepare_data_dir(settings.data_dir)
        db = Database(settings.data_dir / "ckrv.db")
        migrate(db.path)  # here, not in the lifespan: a newer schema is refused before serving
        issuer = TokenIssuer(
            load_signing_key(settings.data_dir), settings.base_url, settings.access_token_ttl
        )
        logs = LogService(db, settings.data_dir, settings.max_log_bytes)
        return cls(settings, db, issuer, load_master_keys(settings.data_dir), logs)

    async def start(self) -> None:
        self.db.open()
        await self.logs.start()
        for component in self.components:
            await component.start()

    async def stop(self) -> None:
        for component in reversed(self.components):
            await component.stop()
        await self.logs.stop()
        self.db.close()
