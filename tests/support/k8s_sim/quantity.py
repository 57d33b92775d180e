"""Kubernetes resource quantities (the memory ones the kubelet enforces)."""

from __future__ import annotations

import re

_SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")


def parse_memory(value: str | int | None) -> int | None:
    """Bytes in a memory quantity like `512Mi` or `2G`; None when absent or unparseable."""
    if value is None:
        return None
    match = _QUANTITY.match(str(value))
    if not match:
        return None
    return int(float(match.group(1)) * _SUFFIXES[match.group(2) or ""])
