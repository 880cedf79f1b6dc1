"""The failed-login limiter, on an injected clock."""

from __future__ import annotations

import pytest

from hestia.core.ratelimit import MAX_CLIENTS, FailureLimiter, client_key
from hestia.errors import TooManyRequests


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_block_until_the_oldest_leaves_the_window():
    clock = Clock()
    limiter = FailureLimiter(attempts=3, window=60, clock=clock)
    for _ in range(3):
        limiter.check("a")
        limiter.fail("a")
        clock.now += 10
    with pytest.raises(TooManyRequests) as blocked:
        limiter.check("a")
    assert blocked.value.retry_after == 30  # the first failure (t=1000) leaves at t=1060
    assert blocked.value.code == "too_many_logins"
    limiter.check("b")  # other clients are not affected
    clock.now = 1060.0
    limiter.check("a")


def test_a_success_clears_the_count():
    limiter = FailureLimiter(attempts=2, window=60, clock=Clock())
    limiter.fail("a")
    limiter.clear("a")
    limiter.fail("a")
    limiter.check("a")


def test_memory_is_bounded():
    limiter = FailureLimiter(attempts=1, window=60, clock=Clock())
    for n in range(MAX_CLIENTS + 5):
        limiter.fail(f"client-{n}")
    assert len(limiter._failures) == MAX_CLIENTS
    limiter.check("client-0")  # the oldest were forgotten first


def test_ipv6_clients_count_per_network():
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff") == "2001:db8::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key("192.0.2.1") != client_key("192.0.2.2")
