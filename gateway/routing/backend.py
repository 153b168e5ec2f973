"""What the gateway knows about one vLLM server: its load and its health."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable

from pydantic import SecretStr

__all__ = ["Backend"]

# How long a backend that answered "queue full" (503) is treated as saturated.
_BUSY_SECONDS = 1.0


class Backend:
    """One backend, shared by every model it serves so that its load is counted once.

    All updates happen on the worker's event loop between awaits, so plain attributes are safe.
    `in_flight` is incremented when the backend is chosen, before any await: counting only once
    the request is sent is what made other "least busy" routers pile requests onto one server.
    `admitted` counts the slots the admission step granted here that no upstream call holds yet.
    Whatever may free room (a call ending, a scrape, a health check) calls `notify()`, which wakes
    the queues of the models this backend serves (`listeners`).
    """

    __slots__ = (
        "admitted",
        "auth_header",
        "busy_until",
        "consecutive_failures",
        "ejected_until",
        "ejections",
        "healthy",
        "in_flight",
        "in_flight_at_scrape",
        "kv_cache_usage",
        "listeners",
        "max_concurrent",
        "model_cards",
        "name_hash",
        "prioritizes",
        "running",
        "url",
        "waiting",
        "weight",
    )

    def __init__(
        self,
        url: str,
        *,
        weight: float = 1.0,
        max_concurrent: int | None = None,
        api_key: SecretStr | None = None,
        prioritizes: bool = False,
    ) -> None:
        self.url = url
        self.weight = weight
        # This process's share of the requests the backend should run at once (None: no cap).
        self.max_concurrent = max_concurrent
        # It runs vLLM's `--scheduling-policy priority`: requests carry their class's `priority`.
        self.prioritizes = prioritizes
        self.admitted = 0
        self.listeners: list[Callable[[], None]] = []
        self.auth_header = f"Bearer {api_key.get_secret_value()}" if api_key is not None else None
        self.name_hash = zlib.crc32(url.encode())
        self.in_flight = 0
        self.healthy = True
        self.consecutive_failures = 0
        self.ejected_until = 0.0
        self.busy_until = 0.0
        self.ejections = 0
        # Last scrape of vLLM's own gauges; in_flight_at_scrape lets us tell our requests from others'.
        self.running = 0.0
        self.waiting = 0.0
        self.kv_cache_usage = 0.0
        self.in_flight_at_scrape = 0
        self.model_cards: dict[str, dict[str, object]] = {}

    def __repr__(self) -> str:
        return f"Backend({self.url!r}, in_flight={self.in_flight}, healthy={self.healthy})"

    def available(self, now: float) -> bool:
        return self.healthy and now >= self.ejected_until

    def load(self) -> float:
        """Requests on this backend per unit of weight: ours now, plus others' at the last scrape."""
        others = max(0.0, self.running + self.waiting - self.in_flight_at_scrape)
        return (self.in_flight + self.admitted + others) / self.weight

    def has_room(self, now: float) -> bool:
        """Whether one more request may start here now: up, not refusing work, below its capacity."""
        if not self.available(now) or now < self.busy_until:
            return False
        return self.max_concurrent is None or self.in_flight + self.admitted < self.max_concurrent

    def release(self) -> None:
        """An upstream call on this backend has ended: its slot is free for a waiting request."""
        self.in_flight -= 1
        self.notify()

    def notify(self) -> None:
        for listener in self.listeners:
            listener()

    def saturated(self, now: float, kv_threshold: float) -> bool:
        """Whether new work would queue here: vLLM is queueing, its KV cache is full, or a cap is hit."""
        if now < self.busy_until or self.waiting > 0 or self.kv_cache_usage >= kv_threshold:
            return True
        return self.max_concurrent is not None and self.in_flight + self.admitted >= self.max_concurrent

    def record_success(self) -> None:
        self.consecutive_failures = 0

    def record_failure(self, now: float, *, eject_after: int, eject_seconds: float) -> None:
        self.consecutive_failures += 1
        if self.consecutive_failures >= eject_after:
            self.consecutive_failures = 0
            self.ejected_until = now + eject_seconds
            self.ejections += 1

    def record_unreachable(self) -> None:
        """Nothing listens: take it out at once; the active health check brings it back."""
        self.healthy = False

    def record_busy(self, now: float) -> None:
        self.busy_until = now + _BUSY_SECONDS

    def record_health(self, ok: bool) -> None:
        # Active checks decide liveness only. An ejection for failed requests runs its course: a
        # backend whose /health answers while its requests fail must not be let back at once.
        changed = ok != self.healthy
        self.healthy = ok
        if changed:
            self.notify()

    def record_load(self, *, running: float, waiting: float, kv_cache_usage: float) -> None:
        self.running = running
        self.waiting = waiting
        self.kv_cache_usage = kv_cache_usage
        self.in_flight_at_scrape = self.in_flight
        self.notify()  # the first chance since `busy_until` passed, and a bound on any missed wake-up


def monotonic() -> float:
    return time.monotonic()
