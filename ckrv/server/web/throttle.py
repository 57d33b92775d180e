"""In-memory sliding-window counters for failed attempts (wrong user codes, wrong passwords).
Keys are built from the peer address the socket reports (or, for a request from a proxy named
in `trusted_proxies`, the address that proxy reports), never from a client's own
X-Forwarded-For, so a forged header cannot reset the count (docs/security.md item 2)."""

from __future__ import annotations

import time
from collections import deque


class Throttle:
    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit, self.window = limit, window_seconds
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        stamps = self._failures.setdefault(key, deque())
        cutoff = time.monotonic() - self.window
        while stamps and stamps[0] < cutoff:
            stamps.popleft()
        return stamps

    def blocked(self, *keys: str) -> bool:
        return any(len(self._recent(k)) >= self.limit for k in keys if k)

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            if key:
                self._recent(key).append(now)
        if len(self._failures) > 100_000:  # bound memory under a spray of addresses
            self._failures = {k: v for k, v in self._failures.items() if self._recent(k)}
