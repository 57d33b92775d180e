"""Where the server reads the time a rule decides by: a Clock, the system's unless whoever
builds the server (a test) gives its own."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ckrv.timeutil import utcnow


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()
