"""A clock a test moves by hand, for the rules the server decides by its Clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from ckrv.timeutil import utcnow


class FakeClock:
    """Stands still at the real time it was made at until `advance` moves it."""

    def __init__(self) -> None:
        self.current = utcnow()

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
