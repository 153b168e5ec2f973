"""`on_store_error`: what the gateway does when the quota store fails, around any ledger.

    fail_closed  a reservation that cannot reach the store raises `QuotaUnavailable` (503): nothing
                 is forwarded unmetered
    fail_open    reservations go to a ledger in this process's memory, which keeps enforcing every
                 limit per process; its calendar budgets start from the last usage this process saw
                 in the store, its rolling-minute and concurrency counters from zero

In both modes a settle or release that cannot reach the store is queued, and so is the usage of every
request reserved locally; once the store answers again (a background probe pings it every
`retry_interval` seconds), it takes over again at once and the queue is replayed behind the live
traffic. Replays are idempotent (a settle twice charges once), and the usage of a local reservation is
charged to the store once, under its own id. While the store is known to be down no request waits for it: fail_closed
answers 503 at once, fail_open serves locally.

What a failure can cost, said plainly: during an outage each process enforces limits on its own, so
N processes may together let through up to N times a rate limit, and up to N times what remained of a
budget; a process that dies during an outage loses its queue (at most `max_pending` settlements); a
reservation whose answer was lost in the outage may hold budget in the store until its TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

import msgspec

from gateway.quotas.embedded import EmbeddedLedger
from gateway.quotas.errors import QuotaStoreError, QuotaUnavailable
from gateway.quotas.ledger import Ledger, Outcome, Reservation, Settlement
from gateway.quotas.plan import Plan

__all__ = ["ResilientLedger"]

logger = logging.getLogger("gateway.quotas")

_Pending = tuple[Reservation, int, int, int | None] | tuple[Reservation, None, None, None]
"""A settle (reservation, input tokens, output tokens, micro-euros or None) or a release
(reservation, None, None, None)."""

_KNOWN_MAX = 100_000
"""Calendar counters whose last usage is remembered for fail_open (forgotten all at once beyond)."""


class ResilientLedger(Ledger):
    """Wraps the store's ledger with the `on_store_error` behaviour. Open with `await open(...)`."""

    def __init__(
        self,
        store: Ledger,
        local: EmbeddedLedger | None,
        *,
        on_store_error: Literal["fail_closed", "fail_open"],
        retry_interval: float = 1.0,
        max_pending: int = 100_000,
        replay_timeout: float = 5.0,
    ) -> None:
        if on_store_error == "fail_open" and local is None:
            raise ValueError("fail_open needs a local ledger")
        self.store = store
        self.local = local
        self.mode = on_store_error
        self.reservation_ttl = store.reservation_ttl
        self._retry_interval = retry_interval
        self._replay_timeout = replay_timeout
        self._pending: deque[_Pending] = deque()
        self._max_pending = max_pending
        self._dropped = 0
        self._down = False
        self._recovery: asyncio.Task[None] | None = None
        self._known: dict[tuple[str, str], tuple[int, float]] = {}
        self._seeded: set[tuple[str, str]] = set()
        self._closed = False

    @classmethod
    async def open(
        cls,
        store: Ledger,
        *,
        on_store_error: Literal["fail_closed", "fail_open"],
        clock: Callable[[], float] = time.time,
        retry_interval: float = 1.0,
        max_pending: int = 100_000,
    ) -> ResilientLedger:
        """Wrap `store`; with fail_open, also open the in-memory ledger used during outages."""
        local = None
        if on_store_error == "fail_open":
            local = await EmbeddedLedger.in_memory(reservation_ttl=store.reservation_ttl, clock=clock)
        return cls(
            store,
            local,
            on_store_error=on_store_error,
            retry_interval=retry_interval,
            max_pending=max_pending,
        )

    def __repr__(self) -> str:
        return f"ResilientLedger({self.store!r}, {self.mode})"

    @property
    def degraded(self) -> bool:
        """True while the store is known to be unreachable (for health checks and metrics)."""
        return self._down

    @property
    def pending(self) -> int:
        """Settlements and releases waiting for the store."""
        return len(self._pending)

    @property
    def dropped(self) -> int:
        """Settlements lost because the queue was full (`max_pending`) during a long outage."""
        return self._dropped

    # -- failures and recovery --------------------------------------------------------------------

    def _failed(self, exc: QuotaStoreError) -> None:
        if not self._down:
            logger.error(
                "quota store unreachable (%s); %s until it answers again",
                exc,
                "refusing requests (503)" if self.mode == "fail_closed" else "enforcing quotas per process",
            )
            self._down = True
            self._seeded.clear()
        if self._recovery is None and not self._closed:
            self._recovery = asyncio.create_task(self._recover(), name="gateway-quota-recovery")

    def _queue(self, item: _Pending) -> None:
        if len(self._pending) >= self._max_pending:
            self._pending.popleft()
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                logger.error("quota replay queue full: %d settlements dropped so far", self._dropped)
        self._pending.append(item)

    async def _apply(self, item: _Pending) -> None:
        reservation, input_tokens, output_tokens, eur = item
        if input_tokens is None or output_tokens is None:
            await self.store.release(reservation)
        else:
            await self.store.settle(reservation, input_tokens, output_tokens, eur)

    async def _replay(self) -> int:
        """Apply the queue in order; QuotaStoreError (with the failed item back in front) if the store
        fails again."""
        replayed = 0
        while self._pending:
            item = self._pending[0]
            await self._apply(item)
            # Only now: an item whose answer was lost is applied again, which its id makes harmless.
            if self._pending and self._pending[0] is item:
                self._pending.popleft()
            replayed += 1
        return replayed

    async def _recover(self) -> None:
        """Probe until the store answers, switch back to it at once, then replay the backlog behind
        the live traffic (replays are idempotent and need no order): replaying first would chase a
        queue that a busy gateway fills faster than one replay at a time empties it."""
        try:
            while True:
                await asyncio.sleep(self._retry_interval)
                try:
                    await self.store.ping()
                except QuotaStoreError:
                    continue
                if self._down:
                    self._down = False
                    logger.warning("quota store answers again; replaying %d settlements", len(self._pending))
                with contextlib.suppress(QuotaStoreError):
                    await self._replay()
                # No await between this test and the end of the task: a failure from now on starts a
                # new recovery.
                if not self._down and not self._pending:
                    return
        finally:
            self._recovery = None

    async def _forward(self, item: _Pending) -> bool:
        """Apply now if the store is up; queue if it is down or fails. True if applied."""
        if self._down:
            self._queue(item)
            return False
        try:
            await self._apply(item)
        except QuotaStoreError as exc:
            self._queue(item)
            self._failed(exc)
            return False
        return True

    # -- fail_open's local ledger -----------------------------------------------------------------

    def _remember(self, reservation: Reservation) -> None:
        known = self._known
        if len(known) > _KNOWN_MAX:
            known.clear()
        department = reservation.department
        for index, counter in enumerate(reservation.counters):
            if counter.budget:
                known[(department, counter.key)] = (reservation.used[index], counter.period_end)

    async def _reserve_locally(self, plan: Plan) -> Outcome:
        assert self.local is not None  # fail_open always has one (checked in __init__)
        seeds: dict[str, tuple[int, float]] = {}
        for counter in plan.counters:
            name = (plan.department, counter.key)
            if counter.budget and name not in self._seeded:
                self._seeded.add(name)
                if name in self._known:
                    seeds[counter.key] = self._known[name]
        if seeds:
            await self.local.seed(plan.department, seeds)
        outcome = await self.local.reserve(plan)
        if isinstance(outcome, Reservation):
            return msgspec.structs.replace(outcome, origin="local")
        return outcome

    # -- Ledger -----------------------------------------------------------------------------------

    async def reserve(self, plan: Plan) -> Outcome:
        if not plan.counters:
            # Nothing to count, nothing to ask the store (both ledgers answer without I/O): a
            # department without limits is served through an outage, even when failing closed.
            return await self.store.reserve(plan)
        if not self._down:
            try:
                outcome = await self.store.reserve(plan)
            except QuotaStoreError as exc:
                self._failed(exc)
            else:
                if self.local is not None and isinstance(outcome, Reservation):
                    self._remember(outcome)
                return outcome
        if self.mode == "fail_closed":
            raise QuotaUnavailable()
        return await self._reserve_locally(plan)

    async def settle(
        self, reservation: Reservation, input_tokens: int, output_tokens: int, eur: int | None = None
    ) -> Settlement:
        if not reservation.id:
            return "settled"
        if reservation.origin == "local":
            assert self.local is not None
            settlement = await self.local.settle(reservation, input_tokens, output_tokens, eur)
            if settlement != "duplicate":
                # The usage happened: the store must have it, once (the local id is new to the store).
                await self._forward((reservation, input_tokens, output_tokens, eur))
            return settlement
        if self._down:
            self._queue((reservation, input_tokens, output_tokens, eur))
            return "deferred"
        try:
            return await self.store.settle(reservation, input_tokens, output_tokens, eur)
        except QuotaStoreError as exc:
            self._queue((reservation, input_tokens, output_tokens, eur))
            self._failed(exc)
            return "deferred"

    async def release(self, reservation: Reservation) -> bool:
        if not reservation.id:
            return False
        if reservation.origin == "local":
            assert self.local is not None
            return await self.local.release(reservation)
        if self._down:
            self._queue((reservation, None, None, None))
            return False
        try:
            return await self.store.release(reservation)
        except QuotaStoreError as exc:
            self._queue((reservation, None, None, None))
            self._failed(exc)
            return False

    async def usage(self, plan: Plan) -> tuple[int, ...]:
        return await self.store.usage(plan)

    async def outstanding(self, department: str | None = None) -> int:
        return await self.store.outstanding(department)

    async def sweep(self, department: str | None = None) -> int:
        return await self.store.sweep(department)

    async def ping(self) -> None:
        await self.store.ping()

    async def close(self) -> None:
        """Stop probing, replay what is queued if the store answers (within `replay_timeout`), close."""
        if self._closed:
            return
        self._closed = True
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        if self._pending:
            try:
                async with asyncio.timeout(self._replay_timeout):
                    await self._replay()
            except (QuotaStoreError, TimeoutError):
                logger.error("quota store unreachable at shutdown: %d settlements lost", len(self._pending))
        if self.local is not None:
            await self.local.close()
        await self.store.close()
