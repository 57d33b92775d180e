"""What every command needs from the `ckrv` group: the API URL, and a logged-in client for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ckrv.client.api import Api


def api_url() -> str:
    return str(click.get_current_context().obj["api_url"])


def user_api() -> Api:
    """A client for the API URL, authenticated as the logged-in user (or CKRV_TOKEN)."""
    from ckrv.client.session import Session  # httpx loads only for commands that talk HTTP

    return Session(api_url()).api()
