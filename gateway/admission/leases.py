"""Several gateway processes (replicas, or workers of one) sharing each backend's capacity.

Each process admits against its own share of a backend's `max_concurrent`, not the whole of it: the
processes do not see each other's in-flight counts, so without shares N of them would let N times the
capacity through. Every `renew_seconds`, each process writes a lease in Redis per backend: its demand
(requests it has in flight or admitted there, plus its share of the requests waiting in its queues for
the backend's models), expiring after `lease_seconds`, and reads the live leases of the others. Its
share is then

    every demand fits (sum <= capacity):  its demand + its part of (capacity - sum)
    otherwise:                            1 + its part of the rest, in proportion to (demand - 1)

(`share_of` has the details): idle capacity goes to those who have work, and a process with work is
never left without a slot. Redis grants it within what the other live leases hold, atomically (a Lua
script), and the lease holds the larger of the grant and what the process still has in flight, so
the slots held never add up to more than the capacity: a process whose share shrinks holds its slots
until its requests end, and the others grow into them at their next renewal. A share moves to where
the work is within about two renewals. A process that dies stops renewing: its lease expires and its
share returns to the others within `lease_seconds + renew_seconds`. Fairness between departments is each process's own (its fair queue),
over its share: see docs/operations.md for the error this leaves across processes.

With the embedded store the gateway is one process (the configuration refuses more), which owns the
whole capacity: no lease is taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import Mapping
from typing import Protocol

from gateway.admission.scheduler import Admission
from gateway.routing.backend import Backend

__all__ = ["CapacityShares", "LeaseStore", "LeaseStoreError", "share_of"]

logger = logging.getLogger("gateway.admission")


def share_of(capacity: int, process: str, demands: Mapping[str, int]) -> int:
    """This process's share of a backend's capacity, given every live process's demand (its own
    included). Every process computes the whole allocation from the same leases, so the shares add
    up to the capacity exactly: spare capacity split evenly (the remainder by process id); under
    more work than capacity, one slot for each process with work, then the rest in proportion to
    the remaining demand (largest remainders first)."""
    processes = sorted(demands)
    total = sum(demands.values())
    if total <= capacity:
        spare, count = capacity - total, len(processes)
        index = processes.index(process)
        return demands[process] + spare // count + (1 if index < spare % count else 0)
    busy = [name for name in processes if demands[name] > 0]
    if len(busy) >= capacity:  # fewer slots than processes with work: one each, by id
        return 1 if process in busy[:capacity] else 0
    rest = capacity - len(busy)
    extra_total = total - len(busy)
    exact = {name: rest * (demands[name] - 1) / extra_total for name in busy}
    shares = {name: math.floor(value) for name, value in exact.items()}
    left = rest - sum(shares.values())
    for name in sorted(busy, key=lambda name: (shares[name] - exact[name], name))[:left]:
        shares[name] += 1
    return 1 + shares[process] if process in shares else 0


class LeaseStoreError(Exception):
    """The store of leases could not be read or written (the store maps its own errors to this)."""


class LeaseStore(Protocol):
    async def exchange(
        self, backend: str, process: str, *, demand: int, in_use: int, wanted: int, capacity: int, ttl_ms: int
    ) -> tuple[int, dict[str, int]]:
        """Renew this process's lease on `backend`: the share granted, and every live lease's demand
        by process (its own included)."""
        ...

    async def drop(self, backend: str, process: str) -> None: ...

    async def close(self) -> None: ...


class CapacityShares:
    """Renews this process's leases and sets each backend's `max_concurrent` to its share."""

    def __init__(
        self,
        store: LeaseStore,
        backends: list[Backend],
        admission: Admission,
        *,
        capacities: Mapping[str, int],
        renew_seconds: float,
        lease_seconds: float,
    ) -> None:
        self._store = store
        self._backends = backends
        self._admission = admission
        self._capacities = capacities
        self._renew = renew_seconds
        self._ttl_ms = int(lease_seconds * 1000)
        self.process_id = f"{os.uname().nodename}:{os.getpid()}:{os.urandom(4).hex()}"
        self._task: asyncio.Task[None] | None = None
        self._demands: dict[Backend, dict[str, int]] = {}
        # Per backend, the models it serves with their number of backends: a model's queue is counted
        # as demand on each of its backends in proportion.
        self._served: dict[Backend, list[tuple[str, int]]] = {backend: [] for backend in backends}
        for name, queue in admission.queues.items():
            for backend in queue.pool.backends:
                self._served[backend].append((name, len(queue.pool.backends)))

    async def start(self) -> None:
        """The first shares before any request is admitted, then a renewal every `renew_seconds`."""
        await self.renew()
        self._task = asyncio.create_task(self._renew_forever())

    async def stop(self) -> None:
        """At a clean exit the shares are handed back at once, not when the leases expire."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for backend in self._backends:
            with contextlib.suppress(LeaseStoreError):
                await self._store.drop(backend.url, self.process_id)
        await self._store.close()

    def demand(self, backend: Backend) -> int:
        waiting = 0.0
        for model, backends in self._served[backend]:
            waiting += self._admission.queues[model].queue.length / backends
        return backend.in_flight + backend.admitted + math.ceil(waiting)

    async def renew(self) -> None:
        for backend in self._backends:
            capacity = self._capacities[backend.url]
            demand = self.demand(backend)
            # The share it should have, from the demands the last renewal read (all of the capacity
            # before the first), which Redis then grants within what the others hold.
            demands = {**self._demands.get(backend, {}), self.process_id: demand}
            wanted = share_of(capacity, self.process_id, demands)
            try:
                granted, self._demands[backend] = await self._store.exchange(
                    backend.url,
                    self.process_id,
                    demand=demand,
                    in_use=backend.in_flight + backend.admitted,
                    wanted=wanted,
                    capacity=capacity,
                    ttl_ms=self._ttl_ms,
                )
            except LeaseStoreError:
                # The last share stands: the others' leases outlive a short outage just as ours.
                logger.warning(
                    "could not renew the capacity lease on %s; keeping the last share", backend.url
                )
                continue
            grew = backend.max_concurrent is None or granted > backend.max_concurrent
            backend.max_concurrent = granted
            if grew:
                backend.notify()

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._renew)
            try:
                await self.renew()
            except Exception:
                logger.exception("renewing capacity leases failed")
