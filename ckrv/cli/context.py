"""What the groups hand their commands: from `ckrv`, the streams to write to and the API URL
(put in place by `ckrv.cli.main.run_cli`); from `ckrv admin`, the data dir. A click command
reads these and its arguments into an options object, and calls its run function."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ckrv.cli.iostreams import IOStreams

if TYPE_CHECKING:
    from pathlib import Path

    from ckrv.client.api import Api


class Invocation:
    # Plain classes here and in iostreams: `ckrv --help` imports both (start-up time).
    def __init__(self, io: IOStreams, api_url: str = "") -> None:
        self.io, self.api_url = io, api_url


def invocation() -> Invocation:
    obj = click.get_current_context().find_object(Invocation)
    return obj if obj is not None else Invocation(IOStreams.system())


def streams() -> IOStreams:
    return invocation().io


def api_url() -> str:
    return invocation().api_url


def user_api(url: str) -> Api:
    """A client for `url`, authenticated as the logged-in user (or CKRV_TOKEN)."""
    from ckrv.client.session import Session  # httpx loads only for commands that talk HTTP

    return Session(url).api()


class AdminTarget:
    """The data dir `ckrv admin --data-dir` chose, for its subcommands."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir


def data_dir() -> Path:
    from ckrv.paths import default_data_dir

    target = click.get_current_context().find_object(AdminTarget)
    return target.data_dir if target is not None else default_data_dir()
