"""The proxy's decision for one connection: is host:port in the job's allowlist, and if not,
the one log line that says so and which setting to change."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ckrv.contracts.network import HostPattern, NetworkPolicy, is_ip_literal


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""  # for a denial: why, and what to change

    def log_line(self, host: str, port: int) -> str:
        return f"network: denied {_hostport(host, port)} ({self.reason})"


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Allowlist:
    def __init__(self, policy: NetworkPolicy) -> None:
        self.policy = policy
        self._patterns = policy.patterns()

    def check(self, host: str, port: int) -> Decision:
        """Whether a request naming host:port may go out (before its name is resolved)."""
        if any(p.matches(host, port) for p in self._patterns):
            return Decision(True)
        if is_ip_literal(host):
            why = "an IP address, and not listed as one"
        elif any(p.matches(host, p.ports()[0]) for p in self._patterns):
            why = f"port {port} is not allowed for this host; list it as {_hostport(host, port)}"
        else:
            why = "not in the allowlist"
        return Decision(False, f"{why}; {self._remedy(host, port)}")

    def check_address(self, host: str, port: int, address: str) -> Decision:
        """Whether a listed name may be reached at the address it resolved to: a name that
        resolves to loopback or link-local (the worker's machine, cloud metadata) is refused;
        only an IP literal in the allowlist reaches those."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if (ip.is_loopback or ip.is_link_local or ip.is_unspecified) and not is_ip_literal(host):
            return Decision(
                False,
                f"it resolves to {address}, a loopback or link-local address; list the address "
                f"itself ({_hostport(address, port)}) if it is meant to be reached",
            )
        return Decision(True)

    def _remedy(self, host: str, port: int) -> str:
        wanted = str(HostPattern.parse(_hostport(host, port))) if port not in (80, 443) else host
        return (
            f"add {wanted!r} to `allowed_hosts` in {_setting_for_hosts(self.policy.source)} "
            f'or the job\'s options (--allow-host), or set network = "open"'
        )


def _setting_for_hosts(source: str) -> str:
    """Where to add a host: the table that set the mode, or the agent's table."""
    if source.startswith("[server]"):
        return "[server] or the agent's [agents.NAME] table"
    if source.startswith("["):
        return source.removesuffix(" network")
    return "the agent's [agents.NAME] table"  # the job chose allowlist
