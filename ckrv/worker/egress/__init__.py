"""A job's egress policy, enforced outside its commands (`network` = open | none | allowlist).

    policy.py     the proxy's decision for one host:port, and the denial's log line
    proxy.py      the filtering HTTP proxy (CONNECT and absolute-URI HTTP) on a worker thread
    bridge.py     runs inside the command's network namespace: 127.0.0.1:<port> -> proxy socket
                  (standard library only: its source is passed with `python -c`)
    namespace.py  the command's own network namespace (bubblewrap `--unshare-net`)

`none`: the command gets a network namespace with loopback only. `allowlist`: the same, plus the
bridge, whose port the proxy variables name; the proxy (outside, in the worker) lets listed
hosts through and logs every denial. `open`: the command shares the worker's network. The
worker itself (clone, reports, push) always runs outside, on the machine's network."""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ckrv.contracts.network import NetworkMode, NetworkPolicy
from ckrv.errors import WorkerError
from ckrv.worker.egress.namespace import isolated

if TYPE_CHECKING:
    from ckrv.worker.egress.proxy import ProxyThread, Say


@dataclass
class Egress:
    """What a job's commands run under. With the sandbox: `bridged(argv)` inside a sandbox
    built with `network` and `socket`; without it: `wrap(argv)`, which also gives the command
    its own network namespace."""

    policy: NetworkPolicy
    directory: Path | None = None  # holds the proxy's socket (allowlist only)
    proxy: ProxyThread | None = None

    @property
    def network(self) -> NetworkMode:
        return self.policy.mode

    @property
    def socket(self) -> Path | None:
        return None if self.directory is None else self.directory / "proxy.sock"

    def bridged(self, argv: list[str]) -> list[str]:
        """The command behind the bridge (allowlist), run by the worker's interpreter, which
        the sandbox shows read-only; the bridge's source travels on its command line."""
        if self.socket is None:
            return argv
        bridge = [sys.executable, "-I", "-S", "-c", _bridge_source()]
        return [*bridge, "--socket", str(self.socket), "--", *argv]

    def wrap(self, argv: list[str]) -> list[str]:
        """Without the sandbox: the bridged command in a network namespace of its own."""
        if self.policy.mode == "open":
            return argv
        return isolated(self.bridged(argv), self.policy.mode)

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


@functools.cache
def _bridge_source() -> str:
    return resources.files("ckrv.worker.egress").joinpath("bridge.py").read_text("utf-8")


def start_egress(policy: NetworkPolicy, say: Say) -> Egress:
    """Set the job's egress up: for `allowlist`, the proxy on a unix socket in a private
    directory outside the workspace. The socket itself is open to all (a sandbox may run
    the command as another user): only the sandbox that binds it in can reach it."""
    if policy.mode != "allowlist":
        return Egress(policy)
    # Only here: the proxy runs on asyncio, which most jobs (open, none) never need.
    from ckrv.worker.egress.policy import Allowlist
    from ckrv.worker.egress.proxy import EgressProxy, ProxyThread

    # /tmp, not $TMPDIR: a unix socket's path may not be longer than 107 bytes
    short = "/tmp" if os.access("/tmp", os.W_OK | os.X_OK) else None
    egress = Egress(policy)
    try:
        egress.directory = Path(tempfile.mkdtemp(prefix="ckrv-egress-", dir=short))
        socket = egress.directory / "proxy.sock"
        egress.proxy = ProxyThread(EgressProxy(Allowlist(policy), say), unix_path=socket).start()
        os.chmod(socket, 0o666)
    except OSError as exc:
        egress.close()
        raise WorkerError(f"network: cannot start the filtering proxy: {exc}") from exc
    return egress


def stated(policy: NetworkPolicy) -> str:
    """The policy as the job's log states it at the start."""
    if policy.mode == "allowlist":
        hosts = ", ".join(policy.allowed_hosts) or "no host"
        return f"network: allowlist ({hosts}), set by {policy.source}"
    return f"network: {policy.mode}, set by {policy.source}"
