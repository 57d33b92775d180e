"""Wrong-password limits: a lock per (account, address) and a per-account backoff that slows a
guesser spread over many addresses without ever refusing an address that has not failed."""

from __future__ import annotations

from ckrv.server.web.throttle import LoginThrottle

ACCOUNT = "ada@example.com"


def test_guessing_from_many_addresses_backs_off_the_guessers_not_the_owner() -> None:
    throttle = LoginThrottle(limit=5, backoff_after=10, backoff_cap=60)
    guessers = [f"198.51.100.{n}" for n in range(40)]
    for address in guessers:
        assert throttle.retry_after(ACCOUNT, address) == 0  # each address's first try
        throttle.failed(ACCOUNT, address)
    waits = [throttle.retry_after(ACCOUNT, address) for address in guessers]
    assert all(0 < wait <= 60 for wait in waits)  # every guesser must wait, at most the cap
    assert max(waits) == 60  # 40 failures: the backoff is at its cap
    assert throttle.retry_after(ACCOUNT, "203.0.113.5") == 0  # the owner's address: never
    assert throttle.retry_after("other@example.com", guessers[0]) == 0  # other accounts: free


def test_a_few_typos_neither_lock_nor_slow_down() -> None:
    throttle = LoginThrottle()
    for _ in range(4):
        throttle.failed(ACCOUNT, "192.0.2.1")
        assert throttle.retry_after(ACCOUNT, "192.0.2.1") == 0
    throttle.succeeded(ACCOUNT, "192.0.2.1")  # the right password forgives the misses
    for _ in range(4):
        throttle.failed(ACCOUNT, "192.0.2.1")
    assert throttle.retry_after(ACCOUNT, "192.0.2.1") == 0
    throttle.failed(ACCOUNT, "192.0.2.1")
    assert 890 <= throttle.retry_after(ACCOUNT, "192.0.2.1") <= 900  # the fifth: locked


def test_a_password_spray_locks_the_spraying_address() -> None:
    throttle = LoginThrottle(address_limit=20)
    for n in range(20):
        throttle.failed(f"user{n}@example.com", "192.0.2.9")
    assert throttle.retry_after("fresh@example.com", "192.0.2.9") > 0
    assert throttle.retry_after("fresh@example.com", "192.0.2.10") == 0
