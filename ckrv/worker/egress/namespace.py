"""A network namespace of its own for a job's command, until the sandbox gives one: bubblewrap
with the whole file system as it is (`--dev-bind / /`) and only `--unshare-net`, so the command
sees loopback and nothing else. The proxy's directory is reachable because nothing is hidden."""

from __future__ import annotations

import shutil

from ckrv.errors import WorkerError


def isolated(argv: list[str], mode: str) -> list[str]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise WorkerError(
            f'network = "{mode}" needs bubblewrap to give the job\'s commands a network of '
            'their own: install it on the worker (apt install bubblewrap), or set network = "open"'
        )
    return [bwrap, "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent", "--", *argv]
