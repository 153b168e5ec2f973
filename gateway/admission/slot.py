"""A place on a backend that the admission step granted to one request."""

from __future__ import annotations

from gateway.routing.backend import Backend

__all__ = ["Slot"]


class Slot:
    """Counted in the backend's `admitted` from the grant until the forwarder's first attempt takes
    it over (`hand_over`, then the upstream call owns the count) or the request ends before that
    (`release`, which wakes the queue). Either happens once; the other is then a no-op."""

    __slots__ = ("_held", "backend", "rank", "waited")

    def __init__(self, backend: Backend, rank: int, waited: float) -> None:
        self.backend = backend
        self.rank = rank
        self.waited = waited
        """Seconds the request waited in the gateway's queue (0 when a slot was free)."""
        self._held = True
        backend.admitted += 1

    def hand_over(self) -> None:
        """The forwarder counts the request in flight on this backend in the same step: no wake-up."""
        if self._held:
            self._held = False
            self.backend.admitted -= 1

    def release(self) -> None:
        """The request ends without reaching the backend: the slot goes to the next waiting request."""
        if self._held:
            self._held = False
            self.backend.admitted -= 1
            self.backend.notify()
