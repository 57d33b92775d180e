"""A job's egress policy, enforced outside its commands (`network` = open | none | allowlist).

    policy.py     the proxy's decision for one host:port, and the denial's log line
    proxy.py      the filtering HTTP proxy (CONNECT and absolute-URI HTTP) on a worker thread
    bridge.py     runs inside the command's network namespace: 127.0.0.1:<port> -> proxy socket
    namespace.py  the command's own network namespace (bubblewrap `--unshare-net`)

`none`: the command gets a network namespace with loopback only. `allowlist`: the same, plus the
bridge, whose port the proxy variables name; the proxy (outside, in the worker) lets listed
hosts through and logs every denial. `open`: the command shares the worker's network. The
worker itself (clone, reports, push) always runs outside, on the machine's network."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ckrv.netpolicy import NetworkMode, NetworkPolicy
from ckrv.worker.egress.namespace import isolated
from ckrv.worker.egress.policy import Allowlist
from ckrv.worker.egress.proxy import EgressProxy, ProxyThread, Say


@dataclass
class Egress:
    """What a job's commands run under: `wrap` turns a command into its confined form."""

    policy: NetworkPolicy
    directory: Path | None = None  # the proxy's socket and the bridge (allowlist only)
    proxy: ProxyThread | None = None
    binds: tuple[Path, ...] = field(default_factory=tuple)

    @property
    def network(self) -> NetworkMode:
        return self.policy.mode

    def wrap(self, argv: list[str]) -> list[str]:
        if self.policy.mode == "open":
            return argv
        if self.directory is not None:
            bridge = self.directory / "bridge.py"
            socket = self.directory / "proxy.sock"
            argv = [_interpreter(), "-I", "-S", str(bridge), "--socket", str(socket), "--", *argv]
        return isolated(argv, self.policy.mode)

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def _interpreter() -> str:
    """The base interpreter (a venv's python is a link to it): what the sandbox shows."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def start(policy: NetworkPolicy, say: Say) -> Egress:
    """Set the job's egress up: for `allowlist`, the proxy on a unix socket in a private
    directory (outside the workspace) next to a copy of the bridge."""
    if policy.mode != "allowlist":
        return Egress(policy)
    directory = Path(tempfile.mkdtemp(prefix="ckrv-egress-"))
    source = resources.files("ckrv.worker.egress").joinpath("bridge.py").read_text("utf-8")
    (directory / "bridge.py").write_text(source, encoding="utf-8")
    proxy = ProxyThread(EgressProxy(Allowlist(policy), say), unix_path=directory / "proxy.sock")
    egress = Egress(policy, directory, proxy, (directory,))
    try:
        proxy.start()
    except OSError:
        egress.close()
        raise
    return egress


def describe(policy: NetworkPolicy) -> str:
    """The policy as the job's log states it at the start."""
    if policy.mode == "allowlist":
        hosts = ", ".join(policy.allowed_hosts) or "no host"
        return f"network: allowlist ({hosts}), set by {policy.source}"
    return f"network: {policy.mode}, set by {policy.source}"
