"""Which addresses a repository host may not resolve to when `refuse_private_hosts` is on:
shared by the server (at job creation) and the worker (again when git connects, so a name that
resolves differently later, or a redirect, cannot reach a refused address).

Refused: every address that is not globally reachable (Python's `is_global`), multicast and
reserved ranges, and these, spelt out because `ipaddress` does not count all of them (or not in
every Python version): 100.64.0.0/10 (shared address space, cloud metadata services among
them), 192.0.0.0/24, 198.18.0.0/15, fec0::/10 (site-local), 64:ff9b:1::/48 (local NAT64),
2001::/23 (Teredo and other protocol assignments) and ::/96 (IPv4-compatible). Addresses that
embed an IPv4 address are judged by it as well: IPv4-mapped (::ffff:a.b.c.d), NAT64
(64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::)."""

from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_REFUSED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "64:ff9b:1::/48",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def refusal(text: str) -> str | None:
    """Why an address (as text) is refused, or None when it is a global unicast address."""
    try:
        address: Address = ipaddress.ip_address(text.split("%", 1)[0])  # no zone index
    except ValueError:
        return f"{text!r} is not an IP address"
    inner = embedded_ipv4(address)
    if inner is not None:
        why = refusal(str(inner))
        return f"{address} embeds {inner}: {why}" if why else None
    if any(address in net for net in _REFUSED if net.version == address.version):
        return f"{address} is in a special-purpose range"
    if not address.is_global or address.is_multicast or address.is_reserved:
        return f"{address} is not a global unicast address"
    return None
