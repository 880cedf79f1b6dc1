"""Failed-login counting per client, in memory (one process; a restart forgets it)."""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from ..errors import TooManyRequests

# Enough distinct clients for any real use; the oldest are forgotten first beyond it.
MAX_CLIENTS = 10_000


def client_key(host: str | None) -> str:
    """The bucket a client counts in: its IPv4 address, or its IPv6 /64 (one user's network)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


class FailureLimiter:
    """At most `attempts` failures per client in any `window` seconds; then 429 until the oldest
    failure leaves the window. A success clears the client's count."""

    def __init__(
        self, *, attempts: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, key: str) -> None:
        """Raise `TooManyRequests` if `key` has used up its failures."""
        failures = self._recent(key)
        if len(failures) >= self.attempts:
            retry_after = max(1, math.ceil(failures[0] + self.window - self.clock()))
            raise TooManyRequests(
                f"Too many wrong passwords from this address; try again in {retry_after} seconds.",
                retry_after=retry_after,
                code="too_many_logins",
            )

    def fail(self, key: str) -> None:
        """Count one failure."""
        failures = self._recent(key)
        failures.append(self.clock())
        self._failures[key] = failures
        self._failures.move_to_end(key)
        while len(self._failures) > MAX_CLIENTS:
            self._failures.popitem(last=False)

    def clear(self, key: str) -> None:
        """Forget the client's failures (it logged in)."""
        self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.get(key, deque())
        horizon = self.clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures
