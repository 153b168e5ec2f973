"""Admission like vLLM's scheduler: ``max_num_seqs`` running, a bounded queue of waiting requests.

A finished request hands its slot straight to the next waiting one, so the running count never dips
between them. The next one is the oldest (``--scheduling-policy fcfs``, vLLM's default) or the one
with the lowest ``priority`` value, the oldest among equals (``--scheduling-policy priority``). Like
vLLM, a running request is never preempted to make room for a waiting one of higher priority (vLLM
preempts only when the KV cache runs out, which the simulator does not model). Latency grows with load: both the time to first token and the inter-token
latency are multiplied by ``1 + running / max_num_seqs`` (up to 2x at saturation), the shape a
batch-decoding GPU shows.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class QueueFullError(Exception):
    """The waiting queue already holds ``max_queue`` requests."""


class Scheduler:
    """Running slots, the waiting queue and the KV-cache tokens they hold."""

    def __init__(
        self, *, max_num_seqs: int, max_queue: int, kv_capacity_tokens: int, by_priority: bool = False
    ) -> None:
        self.max_num_seqs = max_num_seqs
        self.max_queue = max_queue
        self.kv_capacity_tokens = kv_capacity_tokens
        self.by_priority = by_priority
        self.running = 0
        self.waiting = 0
        self.kv_tokens = 0
        # The most requests seen running and waiting at once (``/sim/stats``), for tests and benchmarks.
        self.peak_running = 0
        self.peak_waiting = 0
        # (priority, arrival order, future): with fcfs every priority is 0, so the order is arrival's.
        self._queue: list[tuple[int, int, asyncio.Future[bool]]] = []
        self._arrivals = itertools.count()

    def try_acquire(self) -> bool:
        """Take a free slot at once, if there is one and nobody is waiting for it."""
        if self.running < self.max_num_seqs and not self.waiting:
            self.running += 1
            self.peak_running = max(self.peak_running, self.running)
            return True
        return False

    def enqueue(self, priority: int = 0) -> asyncio.Future[bool]:
        """Join the queue; the future resolves ``True`` when a slot is handed over."""
        if self.waiting >= self.max_queue:
            raise QueueFullError
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        rank = priority if self.by_priority else 0
        heapq.heappush(self._queue, (rank, next(self._arrivals), future))
        self.waiting += 1
        self.peak_waiting = max(self.peak_waiting, self.waiting)
        return future

    def abandon(self, future: asyncio.Future[bool]) -> None:
        """Forget a waiter that will not use its slot (client gone, or the request was cancelled).

        Called once per abandoned future: a future still pending or resolved ``False`` leaves the queue
        (``release`` skips it); one already granted a slot gives the slot back.
        """
        if not future.done():
            future.set_result(False)
            self.waiting -= 1
        elif future.result():
            self.release()
        else:
            self.waiting -= 1

    def release(self) -> None:
        """Free a slot: hand it to the next live waiter, or leave it free."""
        queue = self._queue
        while queue:
            future = heapq.heappop(queue)[2]
            if future.done():
                continue  # it left the queue
            future.set_result(True)
            self.waiting -= 1
            return
        self.running -= 1

    def load_factor(self) -> float:
        """Latency multiplier for a request admitted now."""
        return 1.0 + self.running / self.max_num_seqs

    def kv_usage(self) -> float:
        """KV-cache usage as vLLM reports it: a fraction between 0 and 1."""
        return min(1.0, self.kv_tokens / self.kv_capacity_tokens)
