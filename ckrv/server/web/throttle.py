"""In-memory sliding-window counters for failed attempts (wrong user codes, wrong passwords) and
for requests anyone may send unauthenticated (starting a device login).
Keys are built from the peer address the socket reports (or, for a request from a proxy named
in `trusted_proxies`, the address that proxy reports), never from a client's own
X-Forwarded-For, so a forged header cannot reset the count (docs/security.md item 2)."""

from __future__ import annotations

import math
import time
from collections import deque


class Throttle:
    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit, self.window = limit, window_seconds
        self._failures: dict[str, deque[float]] = {}

    def recent(self, key: str) -> deque[float]:
        stamps = self._failures.setdefault(key, deque())
        cutoff = time.monotonic() - self.window
        while stamps and stamps[0] < cutoff:
            stamps.popleft()
        return stamps

    def count(self, key: str) -> int:
        return len(self.recent(key)) if key else 0

    def blocked(self, *keys: str) -> bool:
        return any(self.count(k) >= self.limit for k in keys)

    def retry_after(self, *keys: str) -> int:
        """Whole seconds until every key in `keys` is below its limit again (0: not blocked)."""
        now, wait = time.monotonic(), 0.0
        for key in keys:
            stamps = self.recent(key) if key else deque()
            if len(stamps) >= self.limit:
                wait = max(wait, stamps[len(stamps) - self.limit] + self.window - now)
        return max(math.ceil(wait), 1) if wait > 0 else 0

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            if key:
                self.recent(key).append(now)
        if len(self._failures) > 100_000:  # bound memory under a spray of addresses
            self._failures = {k: v for k, v in self._failures.items() if self.recent(k)}

    def forget(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)


class LoginThrottle:
    """Wrong passwords. Five from one address lock that address out of that account for the
    window; an address is also locked after `address_limit` failures over any accounts (a
    password spray). Failures of an account from all addresses together slow it down: after
    `backoff_after` of them, an address that has itself failed on the account waits
    2, 4, 8... seconds (at most `backoff_cap`) after the account's last failure. An address
    without failures on the account is never refused on the account's behalf, so a guesser
    elsewhere cannot lock the owner out."""

    def __init__(
        self,
        limit: int = 5,
        window_seconds: float = 900,
        address_limit: int = 20,
        backoff_after: int = 10,
        backoff_cap: float = 60,
    ) -> None:
        self.pairs = Throttle(limit, window_seconds)  # (account, address)
        self.addresses = Throttle(address_limit, window_seconds)
        self.accounts = Throttle(1_000_000, window_seconds)  # only counted, never a lock
        self.backoff_after, self.backoff_cap = backoff_after, backoff_cap

    @staticmethod
    def _keys(account: str, address: str) -> tuple[str, str, str]:
        account = account.strip().lower()
        return f"{account}\0{address}", f"ip:{address}", f"acct:{account}"

    def retry_after(self, account: str, address: str) -> int:
        """Seconds this address must wait before trying this account's password (0: go on)."""
        pair, addr, acct = self._keys(account, address)
        locked = max(self.pairs.retry_after(pair), self.addresses.retry_after(addr))
        if locked or not self.pairs.count(pair):
            return locked
        stamps = self.accounts.recent(acct)
        if len(stamps) < self.backoff_after:
            return 0
        delay = min(2.0 ** (len(stamps) - self.backoff_after + 1), self.backoff_cap)
        wait = stamps[-1] + delay - time.monotonic()
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, account: str, address: str) -> None:
        pair, addr, acct = self._keys(account, address)
        self.pairs.fail(pair)
        self.addresses.fail(addr)
        self.accounts.fail(acct)

    def succeeded(self, account: str, address: str) -> None:
        """The right password: this address's earlier misses on the account are forgiven."""
        self.pairs.forget(self._keys(account, address)[0])
