"""Per-address limit on failed authentications, against key guessing and misconfigured clients.

After `max_failures` failures within a sliding `window` from one client address, every request from
that address is refused (429) for `block_seconds`, valid keys included: answering them would tell a
guesser when it succeeded. Other addresses are not affected.

Memory is bounded: at most `max_addresses` addresses are tracked (each with at most `max_failures`
timestamps); when the table is full, idle addresses go first, then those that failed longest ago,
addresses serving a block last. Addresses are taken as given: behind a reverse proxy, list it in `server.trusted_proxies` so that
the pipeline passes the real client address, and IPv6 clients, who may hold a whole /64, are not grouped.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["FailureLimiter"]


class _Address:
    __slots__ = ("blocked_until", "failures")

    def __init__(self, max_failures: int) -> None:
        self.failures: deque[float] = deque(maxlen=max_failures)
        self.blocked_until = 0.0


class FailureLimiter:
    """Counts failed authentications per address; one instance per worker process."""

    def __init__(
        self,
        max_failures: int = 20,
        *,
        window: float = 60.0,
        block_seconds: float = 60.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or max_addresses < 1:
            raise ValueError("max_failures and max_addresses must be at least 1")
        self.max_failures = max_failures
        self.window = window
        self.block_seconds = block_seconds
        self.max_addresses = max_addresses
        self._clock = clock
        self._addresses: dict[str, _Address] = {}

    def __len__(self) -> int:
        return len(self._addresses)

    def retry_after(self, address: str) -> float:
        """Seconds for which `address` stays refused; 0 when it may try. On every request: one
        dictionary lookup for an address that never failed."""
        entry = self._addresses.get(address)
        if entry is None or not entry.blocked_until:
            return 0.0
        remaining = entry.blocked_until - self._clock()
        return remaining if remaining > 0 else 0.0

    def record_failure(self, address: str) -> bool:
        """Count one failure; True if `address` is now blocked."""
        now = self._clock()
        entry = self._addresses.pop(address, None)
        if entry is None:
            if len(self._addresses) >= self.max_addresses:
                self._evict(now)
            entry = _Address(self.max_failures)
        # Re-inserted last: the dictionary's order is the order of last failure.
        self._addresses[address] = entry
        entry.failures.append(now)
        if entry.blocked_until > now:
            return True
        failures = entry.failures
        if len(failures) == self.max_failures and now - failures[0] < self.window:
            entry.blocked_until = now + self.block_seconds
            failures.clear()
            return True
        return False

    def _evict(self, now: float) -> None:
        addresses = self._addresses
        for address in [a for a, entry in addresses.items() if self._idle(entry, now)]:
            del addresses[address]
        if len(addresses) < self.max_addresses:
            return
        # Still full of recent failures (many addresses spraying): drop the tenth that failed longest
        # ago, blocked addresses last, so that spraying cannot free an address that is serving a block.
        count = max(1, self.max_addresses // 10)
        unblocked = [a for a, entry in addresses.items() if entry.blocked_until <= now][:count]
        for address in unblocked:
            del addresses[address]
        for address in list(addresses)[: count - len(unblocked)]:
            del addresses[address]

    def _idle(self, entry: _Address, now: float) -> bool:
        return entry.blocked_until <= now and (not entry.failures or now - entry.failures[-1] >= self.window)
