"""The value types of settings: each converter takes what TOML gives and returns the typed
value, or raises ValueError saying what was expected."""

from __future__ import annotations

import ipaddress
from typing import Any

from ckrv.contracts.network import host_patterns
from ckrv.limits import parse_size
from ckrv.timeutil import parse_duration

LIMIT_KEYS = ("memory", "cpu_time", "processes", "disk")


def duration(value: Any) -> float:
    return parse_duration(value)


def address_list(value: Any) -> tuple[str, ...]:
    """A list of addresses or CIDR networks, each checked."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('expected a list of addresses, e.g. ["127.0.0.1", "10.0.0.0/8"]')
    for entry in value:
        ipaddress.ip_network(entry, strict=False)  # ValueError names the bad one
    return tuple(value)


def allowed_hosts(value: Any) -> tuple[str, ...]:
    """A list of host patterns (`name`, `*.name`, `name:port`, an IP address), each checked."""
    return host_patterns(value, "allowed_hosts")


def sandbox_mode(value: Any) -> str:
    if value not in ("bwrap", "none"):
        raise ValueError('expected "bwrap" or "none"')
    return str(value)


def size(value: Any) -> int:
    return parse_size(value)


def count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected a whole number, 0 for no limit")
    return value


def secrets_total(value: Any) -> int:
    """The cap on a user's secrets. At most 1 MiB: every agent secret is in the agent's
    environment, and Linux gives an `execve`'s arguments and environment together a quarter
    of the stack limit (2 MiB under the usual 8 MiB), the worker's own variables included."""
    total = parse_size(value)
    if not 1024 <= total <= 1024 * 1024:
        raise ValueError("expected a size from 1 KiB to 1 MiB")
    return total


def connection_timeout(value: Any) -> float:
    """A connection's head, body or idle time: 0 would close every connection at once."""
    seconds = parse_duration(value)
    if not 1 <= seconds <= 3600:
        raise ValueError("expected a duration from 1s to 1h")
    return seconds


def body_min_rate(value: Any) -> int:
    """Bytes per second. Below 1 KiB a client could hold a connection for the price of a few
    bytes a second, which the deadline exists to prevent."""
    rate = parse_size(value)
    if rate < 1024:
        raise ValueError("expected a size per second of at least 1K, e.g. 16K")
    return rate


def cpu_seconds(value: Any) -> int:
    seconds = parse_duration(value)
    if seconds < 0:
        raise ValueError("a CPU time cannot be negative")
    return int(seconds)


LIMIT_CONVERTERS: dict[str, Any] = {
    "memory": size,
    "cpu_time": cpu_seconds,
    "processes": count,
    "disk": size,
}

# (section, key, converter, default, doc). Durations accept 90s, 15m, 1h, 7d.
