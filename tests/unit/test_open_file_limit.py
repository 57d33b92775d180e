"""`ckrv serve` raises its open-file limit to the hard limit at start, and caps connections
below what that limit leaves (docs/security.md item 33)."""

from __future__ import annotations

import resource
import subprocess
import sys

from ckrv.server.connections import RESERVED_DESCRIPTORS, connection_cap

_PROBE = (
    "import resource; from ckrv.server.connections import raise_open_file_limit; "
    "print(raise_open_file_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))"
)


def _low_soft_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))


def test_the_soft_open_file_limit_is_raised_to_the_hard_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE],
        preexec_fn=_low_soft_limit,
        capture_output=True,
        text=True,
        check=True,
    )
    in_force, soft_after, hard_after = map(int, probe.stdout.split())
    assert soft_after == hard_after == hard == in_force


def test_the_connection_cap_stays_below_the_descriptors() -> None:
    assert connection_cap(1000, 1024) == 1024 - RESERVED_DESCRIPTORS
    assert connection_cap(1000, 65536) == 1000
