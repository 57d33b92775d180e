"""What a test needs from the machine (a daemon, a file, a tool): a skip with its reason on a
developer's machine, a failure under CI=true, where everything the suite uses is installed."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(available: bool, reason: str) -> None:
    """Go on when `available`; otherwise skip saying `reason`, or fail under CI=true (a
    missing prerequisite there would turn a test into a silent skip)."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing prerequisite fails the run)", pytrace=False)
    pytest.skip(reason)
