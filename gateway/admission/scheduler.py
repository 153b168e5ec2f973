"""Admission: let a request through when a backend of its model has room, else hold it in the model's
fair queue until a slot frees, its class's wait runs out (429) or its client leaves.

Event-driven, no polling: a backend calls `notify()` whenever room may have appeared (an upstream
call ended, a granted slot was given back, a scrape or health check changed what is known), and the
queues of the models it serves hand out what is free, at once, on the event loop. What the request
path pays when a slot is free: one pass over the model's backends (`ModelPool.choose_with_room`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping

from gateway.admission.errors import PoolSaturated
from gateway.admission.fair_queue import FairQueue, Waiter
from gateway.admission.settings import CLASS_NAMES, AdmissionConfig
from gateway.admission.slot import Slot
from gateway.errors import BackendUnavailable
from gateway.routing.pool import ModelPool

__all__ = ["Admission", "ModelQueue", "NoBackendToWaitFor"]

_NO_BACKEND_RETRY_AFTER = "5"


class NoBackendToWaitFor(BackendUnavailable):
    """503 from the admission step: the model has no healthy backend, so nothing is worth a wait."""

    def __init__(self, model: str) -> None:
        super().__init__(
            f"No backend serving `{model}` is available right now. Please retry later.",
            headers={"retry-after": _NO_BACKEND_RETRY_AFTER},
        )


class _NoBackend(Exception):
    """Set on the waiters of a model whose last healthy backend went down."""


class ModelQueue:
    """The waiting requests of one model and the hand-out of its backends' free slots."""

    __slots__ = ("_active_seconds", "_headroom", "_last_asked", "pool", "queue")

    def __init__(self, pool: ModelPool, config: AdmissionConfig) -> None:
        self.pool = pool
        classes = [config.classes[name] for name in CLASS_NAMES]
        self.queue = FairQueue([settings.min_share for settings in classes])
        self._headroom = [settings.headroom for settings in classes]
        self._active_seconds = config.active_seconds
        # When each class last asked for a slot: the lower classes leave it headroom while it is active.
        self._last_asked = [-math.inf] * len(classes)
        for backend in pool.backends:
            backend.listeners.append(self.dispatch)

    def asked(self, rank: int, now: float) -> None:
        self._last_asked[rank] = now

    def max_rank(self, now: float) -> int:
        """The lowest class that may take a free slot now: a class with headroom waits while a higher
        class is active and no more than its headroom of the model's capacity is free. -1: none."""
        free, capacity = self.pool.free_slots(now)
        if free <= 0:
            return -1
        active = now - self._active_seconds
        rank = len(self._headroom) - 1
        while rank > 0:
            headroom = self._headroom[rank]
            if not headroom or free > headroom * capacity:
                return rank
            if not any(asked > active for asked in self._last_asked[:rank]):
                return rank
            rank -= 1
        return 0

    def dispatch(self) -> None:
        """Hand every free slot to the next waiting request, in the fair queue's order."""
        queue, pool = self.queue, self.pool
        while queue.length:
            now = time.monotonic()
            max_rank = self.max_rank(now)
            if max_rank < 0:
                if not pool.has_available():
                    self._fail_all()
                return
            waiter = queue.pop(max_rank)
            if waiter is None:  # only lower classes wait, and the headroom is not theirs
                return
            if waiter.future.done():  # cancelled; its task has not taken it out yet
                continue
            backend = pool.choose_with_room(waiter.affinity)
            if backend is None:  # cannot happen with a free slot; kept safe all the same
                return
            waiter.future.set_result(Slot(backend, waiter.rank, now - waiter.enqueued_at))

    def _fail_all(self) -> None:
        """The model has no healthy backend left: nobody waits for a slot that will not come."""
        while (waiter := self.queue.pop()) is not None:
            if not waiter.future.done():
                waiter.future.set_exception(_NoBackend())


class Admission:
    """Every model's queue in this process: `admit_now`, then `wait` when no slot is free, are the
    pipeline's admission step."""

    def __init__(self, config: AdmissionConfig, pools: Mapping[str, ModelPool]) -> None:
        self.config = config
        self.queues = {name: ModelQueue(pool, config) for name, pool in pools.items()}
        self._weights = config.weights
        self._classes = [config.classes[name] for name in CLASS_NAMES]

    def admit_now(self, pool: ModelPool, rank: int, affinity: int | None) -> Slot | None:
        """A slot at once when nobody waits for this model and a backend has room for this class;
        else None."""
        model = self.queues[pool.name]
        now = time.monotonic()
        model.asked(rank, now)
        if model.queue.length or rank > model.max_rank(now):
            return None
        backend = pool.choose_with_room(affinity)
        return Slot(backend, rank, 0.0) if backend is not None else None

    async def wait(self, pool: ModelPool, rank: int, department: str, affinity: int | None) -> Slot:
        """A slot on a backend of `pool` for a request of class `rank`, after its turn in the queue.
        Raises PoolSaturated (429) when the class's queue is full or its wait ran out,
        BackendUnavailable (503) when the model has no healthy backend; a cancelled wait (the client
        left) leaves the queue at once."""
        model = self.queues[pool.name]
        queue = model.queue
        if not pool.has_available():
            raise NoBackendToWaitFor(pool.name)
        limits = self._classes[rank]
        if queue.class_length(rank) >= limits.max_queue_length:
            raise PoolSaturated(pool.name, CLASS_NAMES[rank], "queue_full", limits.max_wait_seconds, 0.0)
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        waiter = Waiter(future, rank, department, affinity, time.monotonic())
        queue.push(waiter, self._weights.get(department, 1.0))
        model.dispatch()  # room that appeared without a wake-up (a backend's busy spell ended)
        try:
            async with asyncio.timeout(limits.max_wait_seconds):
                granted = await future
        except TimeoutError:
            slot = _granted(future)
            if slot is not None:  # handed out in the same instant the wait ran out: taken
                return slot
            queue.remove(waiter)
            raise PoolSaturated(
                pool.name,
                CLASS_NAMES[rank],
                "max_wait",
                limits.max_wait_seconds,
                time.monotonic() - waiter.enqueued_at,
            ) from None
        except _NoBackend:
            raise NoBackendToWaitFor(pool.name) from None
        except BaseException:
            # The client left (or the worker stops): out of the queue, or the slot handed back.
            slot = _granted(future)
            if slot is not None:
                slot.release()
            else:
                queue.remove(waiter)
            raise
        assert isinstance(granted, Slot)
        return granted

    def queue_lengths(self) -> list[tuple[str, str, str, int]]:
        """(model, class, department, requests waiting) for every department waiting now."""
        return [
            (model, class_name, department, waiting)
            for model, entry in self.queues.items()
            for rank, class_name in enumerate(CLASS_NAMES)
            for department, waiting in entry.queue.waiting(rank).items()
        ]


def _granted(future: asyncio.Future[object]) -> Slot | None:
    if future.done() and not future.cancelled() and future.exception() is None:
        result = future.result()
        return result if isinstance(result, Slot) else None
    return None
