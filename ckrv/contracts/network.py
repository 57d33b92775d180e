"""A job's network policy, shared by the server (which settles it when the job is created) and
the worker (which enforces it): the mode, the host patterns an `allowlist` lets through, and
which setting decided the mode (so a denial can say what to change).

Modes, narrowest first: `none` (loopback only), `allowlist` (only listed hosts, through the
worker's filtering proxy), `open` (no filtering). Host patterns:

    example.com          that name, ports 80 and 443
    *.example.com        any name below example.com (not example.com itself), ports 80 and 443
    example.com:8443     that name, port 8443 only
    203.0.113.7, [::1]:8080
                         an IP literal: a request naming an address is refused unless an IP
                         literal pattern lists it (a name pattern never matches an address)

Where the mode comes from, most specific first: the job's option, the repository's table
(`[repositories."URL-PATTERN"]`), the agent's table (`[agents.NAME]`), `[server] network`.
The operator's layers add their `allowed_hosts` together. A job may only narrow what the
operator's layers give it (a narrower mode, or hosts the operator's list already covers) unless
`[server] jobs_may_widen_network = true`."""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

NetworkMode = Literal["none", "allowlist", "open"]
MODES: tuple[NetworkMode, ...] = ("none", "allowlist", "open")  # narrowest first
DEFAULT_PORTS = (80, 443)


class PolicyError(ValueError):
    """A setting or a job option that cannot be a network policy; the message says why."""


def check_mode(value: Any) -> NetworkMode:
    if value not in MODES:
        raise PolicyError(f"network must be one of {', '.join(MODES)} (got {value!r})")
    return cast(NetworkMode, value)


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostPattern:
    host: str  # lower case; "*.example.com" for a wildcard; an address without brackets
    port: int | None = None  # None: the default ports 80 and 443

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        if not isinstance(text, str) or not text or text != text.strip():
            raise PolicyError(f"host pattern {text!r} must be a non-empty name without spaces")
        host, port = _split_port(text)
        host = host.lower()
        if is_ip_literal(host):
            return cls(str(ipaddress.ip_address(host)), port)
        name = host[2:] if host.startswith("*.") else host
        labels = name.split(".")
        if not name or any(
            not label or len(label) > 63 or not all(c.isalnum() or c in "-_" for c in label)
            for label in labels
        ):
            raise PolicyError(
                f"host pattern {text!r} is not a host name, `*.` and a name, or an IP address"
            )
        return cls(host, port)

    @property
    def ip(self) -> bool:
        return is_ip_literal(self.host)

    def ports(self) -> tuple[int, ...]:
        return DEFAULT_PORTS if self.port is None else (self.port,)

    def matches(self, host: str, port: int) -> bool:
        """Whether a request for host:port is let through by this pattern."""
        host = host.lower().rstrip(".").strip("[]")
        if port not in self.ports():
            return False
        if is_ip_literal(host):
            return self.ip and ipaddress.ip_address(host) == ipaddress.ip_address(self.host)
        if self.ip:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        return host == self.host

    def covers(self, other: HostPattern) -> bool:
        """Whether everything `other` lets through, this pattern lets through too."""
        if not set(other.ports()) <= set(self.ports()):
            return False
        if other.host.startswith("*."):
            return self.host.startswith("*.") and (
                other.host == self.host or other.host.endswith(self.host[1:])
            )
        return self.matches(other.host, other.ports()[0])

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def _split_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):  # [v6]:port or [v6]
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise PolicyError(f"host pattern {text!r}: expected [address]:port")
        return host, _port(text, rest[1:]) if rest else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(text, port)
    return text, None  # a name, or a bare IPv6 address


def _port(text: str, port: str) -> int:
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise PolicyError(f"host pattern {text!r}: the port must be a number from 1 to 65535")
    return int(port)


def host_patterns(values: Any, where: str) -> tuple[str, ...]:
    """A list of host patterns from a setting or a request, each checked, as given."""
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise PolicyError(f'{where} must be a list of host patterns, e.g. ["api.example.com"]')
    for value in values:
        try:
            HostPattern.parse(value)
        except PolicyError as exc:
            raise PolicyError(f"{where}: {exc}") from None
    return tuple(values)


@dataclass(frozen=True)
class NetworkPolicy:
    """The policy a job runs under, as the worker receives it in the job description."""

    mode: NetworkMode
    allowed_hosts: tuple[str, ...] = ()
    source: str = "[server] network"  # the setting that decided the mode

    def patterns(self) -> tuple[HostPattern, ...]:
        return tuple(HostPattern.parse(h) for h in self.allowed_hosts)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "allowed_hosts": list(self.allowed_hosts), "source": self.source}

    @classmethod
    def from_dict(cls, data: Any) -> NetworkPolicy:
        """The description's `network`; a description without one (an older server) is open."""
        if not isinstance(data, dict):
            return cls("open")
        return cls(
            check_mode(data.get("mode", "open")),
            host_patterns(data.get("allowed_hosts", []), "allowed_hosts"),
            str(data.get("source") or "[server] network"),
        )


@dataclass(frozen=True)
class Layer:
    """One place a policy may be set: its mode (None: not set here), hosts and its name."""

    mode: NetworkMode | None
    allowed_hosts: tuple[str, ...]
    source: str


def repository_layer(tables: dict[str, Layer], repo_url: str) -> Layer | None:
    """The first `[repositories."PATTERN"]` table (in file order) whose pattern matches."""
    for pattern, layer in tables.items():
        if fnmatch.fnmatchcase(repo_url, pattern):
            return layer
    return None


def _unique(hosts: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(hosts))


def settle(operator: list[Layer], job: Layer | None, jobs_may_widen: bool) -> NetworkPolicy:
    """The job's policy from the operator's layers (least specific first: server, agent,
    repository) and the job's option. Raises PolicyError when the job asks for more than
    the operator gives and the operator does not let jobs widen."""
    mode, source = "open", "[server] network"
    for layer in operator:
        if layer.mode is not None:
            mode, source = layer.mode, layer.source
    hosts = _unique(h for layer in operator for h in layer.allowed_hosts)
    base = NetworkPolicy(check_mode(mode), hosts if mode == "allowlist" else (), source)
    if job is None or (job.mode is None and not job.allowed_hosts):
        return base
    wanted = job.mode or base.mode
    if MODES.index(wanted) > MODES.index(base.mode) and not jobs_may_widen:
        raise PolicyError(
            f'the job asks for network = "{wanted}", wider than the "{base.mode}" set by '
            f"{source}; an operator may permit that with [server] jobs_may_widen_network = true"
        )
    if wanted != "allowlist":
        return NetworkPolicy(wanted, (), job.source if job.mode else source)
    if base.mode == "allowlist" and not jobs_may_widen:
        operator_patterns = [HostPattern.parse(h) for h in hosts]
        for extra in job.allowed_hosts:
            if not any(p.covers(HostPattern.parse(extra)) for p in operator_patterns):
                raise PolicyError(
                    f"the job's allowed host {extra!r} is not in the allowlist set by {source}; "
                    "add it there, or an operator may permit jobs to add hosts with "
                    "[server] jobs_may_widen_network = true"
                )
    return NetworkPolicy(
        "allowlist", _unique([*hosts, *job.allowed_hosts]), job.source if job.mode else source
    )
