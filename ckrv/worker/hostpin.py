"""The worker's own check of the repository host, when the server refuses private hosts
(`refuse_private_hosts`, docs/security.md item 23): the server checked the name when the job was
created, but what a name resolves to can change by the time git connects (DNS rebinding), and
an http redirect can point anywhere. So the worker resolves the host once, refuses it when any
address is special-purpose (ckrv/contracts/addresses.py), and pins git to the address it
checked: `http.curloptResolve` for http(s) (git 2.37 or later), ssh's `HostName` (with
`HostKeyAlias`, so host keys are still checked against the name) for ssh; and it turns
redirects off (`http.followRedirects=false`), so a redirect fails with git's message instead of
being followed."""

from __future__ import annotations

import re
import shlex
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ckrv.contracts.addresses import refusal
from ckrv.contracts.credentials import url_host, url_transport
from ckrv.errors import WorkerError

_DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22}


@dataclass(frozen=True)
class HostPin:
    """What every git that connects to the repository gets: `-c` options and ssh options."""

    git_flags: tuple[str, ...] = ()
    ssh_options: tuple[str, ...] = ()

    def ssh_command(self, command: str | None) -> str | None:
        """GIT_SSH_COMMAND with the pin's options (None: nothing to change)."""
        if not self.ssh_options:
            return command
        return " ".join([command or "ssh", *(shlex.quote(o) for o in self.ssh_options)])


def _target(url: str) -> tuple[str, str, int] | None:
    """(transport, host, port) of a network URL; None for a local repository."""
    transport = url_transport(url)
    if transport == "local":
        return None
    if "://" not in url:  # scp-like: host only
        return transport, url_host(url), _DEFAULT_PORTS[transport]
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    return transport, parts.hostname, parts.port or _DEFAULT_PORTS[transport]


def pin_repository_host(url: str, refuse_private: bool) -> HostPin:
    """Resolve the URL's host once and pin git to it; raises WorkerError when the host cannot
    be resolved or resolves to a refused address. Nothing to do without `refuse_private`."""
    target = _target(url) if refuse_private else None
    if target is None:
        return HostPin()
    scheme, host, port = target
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WorkerError(f"cannot resolve the repository host {host!r}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        why = refusal(address)
        if why is not None:
            raise WorkerError(
                f"the repository host {host!r} now resolves to {address} ({why}); this server "
                "refuses private and special-purpose addresses (refuse_private_hosts)"
            )
    chosen = addresses[0]
    if scheme == "ssh":
        return HostPin(ssh_options=("-o", f"HostName={chosen}", "-o", f"HostKeyAlias={host}"))
    no_redirects = ("-c", "http.followRedirects=false")
    if chosen == host:  # an address in the URL: nothing to resolve, nothing to pin
        return HostPin(git_flags=no_redirects)
    literal = f"[{chosen}]" if ":" in chosen else chosen
    resolve = f"http.curloptResolve={host}:{port}:{literal}"
    return HostPin(git_flags=(*no_redirects, "-c", resolve))


def explain_redirect(message: str, pin_flags: tuple[str, ...]) -> str | None:
    """A clear message when a pinned git stopped at a redirect, else None."""
    if not pin_flags or not re.search(r"returned error: 30[1278]|redirect", message, re.I):
        return None
    return (
        "the repository host answered with a redirect, which the worker does not follow while "
        "the server refuses private hosts (refuse_private_hosts: a redirect could lead to one); "
        "use the URL it redirects to"
    )
