"""Everything a request handler needs, built once per app (no module-level state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ckrv.server.db import Database
from ckrv.server.keys import MasterKeys, load_master_keys, load_signing_key, prepare_data_dir
from ckrv.server.throttle import Throttle
from ckrv.server.tokens import TokenIssuer
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
    code_throttle: Throttle = field(default_factory=lambda: Throttle(5, 900))
    login_throttle: Throttle = field(default_factory=lambda: Throttle(5, 900))
    components: list[Component] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        prepare_data_dir(settings.data_dir)
        db = Database(settings.data_dir / "ckrv.db")
        issuer = TokenIssuer(
            load_signing_key(settings.data_dir), settings.base_url, settings.access_token_ttl
        )
        return cls(settings, db, issuer, load_master_keys(settings.data_dir))

    async def start(self) -> None:
        self.db.open()
        for component in self.components:
            await component.start()

    async def stop(self) -> None:
        for component in reversed(self.components):
            await component.stop()
        self.db.close()
