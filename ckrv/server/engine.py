"""Wires the job engine's long-running components into the server (dispatcher, sweeper...)."""

from __future__ import annotations

from ckrv.server.services import Services


def install_components(services: Services) -> None:
    """Attach the components the job engine needs; none yet in the foundation."""
