"""One model's waiting requests: strict priority between classes with guaranteed minimum shares, and
weighted fair queueing between departments within a class.

Within a class this is start-time fair queueing: a request of department d gets the tags
`start = max(V, last_finish[d])` and `finish = start + 1 / weight[d]`, where V is the start tag of the
request last taken from the class; requests leave in the order of their finish tags. A department that
floods the queue has its tags pushed far ahead of V, so a newcomer from another department overtakes
it; two backlogged departments alternate in proportion to their weights. Every operation is O(log n):
one heap per class, no timers, no loops over waiting requests.

Between classes: each class with a `min_share` earns that much credit per slot handed out while it
has requests waiting (at most 1, none kept while it has none); a class with a whole credit is served
before the higher classes, and despite the headroom kept for them. So `batch` with 0.05 gets one slot
in twenty even under a flood of `interactive`, and the rest is strict priority.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Sequence

__all__ = ["FairQueue", "Waiter"]

_COMPACT_AFTER = 64
# Twenty additions of 0.05 make 0.9999999999999999 in floating point.
_WHOLE = 1.0 - 1e-9


class Waiter:
    """One request waiting for a slot; its future receives the slot."""

    __slots__ = ("affinity", "department", "enqueued_at", "finish", "future", "live", "rank", "start")

    def __init__(
        self, future: asyncio.Future[object], rank: int, department: str, affinity: int | None, now: float
    ) -> None:
        self.future = future
        self.rank = rank
        self.department = department
        self.affinity = affinity
        self.enqueued_at = now
        self.start = 0.0
        self.finish = 0.0
        self.live = True


class _ClassQueue:
    __slots__ = ("credit", "garbage", "heap", "last_finish", "min_share", "seq", "virtual_time", "waiting")

    def __init__(self, min_share: float) -> None:
        self.min_share = min_share
        self.credit = 0.0
        self.heap: list[tuple[float, int, Waiter]] = []
        self.virtual_time = 0.0
        self.last_finish: dict[str, float] = {}
        self.waiting: dict[str, int] = {}
        self.garbage = 0
        self.seq = 0

    def push(self, waiter: Waiter, weight: float) -> None:
        department = waiter.department
        start = max(self.virtual_time, self.last_finish.get(department, 0.0))
        waiter.start, waiter.finish = start, start + 1.0 / weight
        self.last_finish[department] = waiter.finish
        self.waiting[department] = self.waiting.get(department, 0) + 1
        self.seq += 1
        heapq.heappush(self.heap, (waiter.finish, self.seq, waiter))

    def pop(self) -> Waiter | None:
        heap = self.heap
        while heap:
            waiter = heapq.heappop(heap)[2]
            if not waiter.live:
                self.garbage -= 1
                continue
            waiter.live = False
            self.virtual_time = waiter.start
            self._count_out(waiter.department)
            return waiter
        return None

    def remove(self, waiter: Waiter) -> None:
        waiter.live = False
        self.garbage += 1
        department = waiter.department
        self._count_out(department)
        if self.last_finish.get(department) == waiter.finish:
            # Its last request left unserved: its next one is not pushed back for it.
            self.last_finish[department] = waiter.start
        if self.garbage > _COMPACT_AFTER and self.garbage > len(self.heap) // 2:
            self.heap = [entry for entry in self.heap if entry[2].live]
            heapq.heapify(self.heap)
            self.garbage = 0

    def _count_out(self, department: str) -> None:
        left = self.waiting[department] - 1
        if left:
            self.waiting[department] = left
        else:
            del self.waiting[department]

    def __len__(self) -> int:
        return len(self.heap) - self.garbage


class FairQueue:
    """The waiting requests of one model, by class (rank 0 first) and department."""

    __slots__ = ("_classes", "length")

    def __init__(self, min_shares: Sequence[float]) -> None:
        self._classes = [_ClassQueue(share) for share in min_shares]
        self.length = 0

    def push(self, waiter: Waiter, weight: float) -> None:
        self._classes[waiter.rank].push(waiter, weight)
        self.length += 1

    def remove(self, waiter: Waiter) -> None:
        """Take out a waiter that leaves unserved (its client left, or its wait ran out); once."""
        if waiter.live:
            self._classes[waiter.rank].remove(waiter)
            self.length -= 1

    def class_length(self, rank: int) -> int:
        return len(self._classes[rank])

    def waiting(self, rank: int) -> dict[str, int]:
        """Requests waiting per department in one class (read, not copied: do not change it)."""
        return self._classes[rank].waiting

    def pop(self, max_rank: int = 2) -> Waiter | None:
        """The next waiter to serve, or None when nobody waits. Classes below `max_rank` are passed
        over (the headroom kept for higher classes), unless they are owed their minimum share."""
        if not self.length:
            return None
        classes = self._classes
        chosen: _ClassQueue | None = None
        for queue in classes:
            if queue.min_share and len(queue) and queue.credit + queue.min_share >= _WHOLE:
                chosen = queue
                break
        if chosen is None:
            chosen = next((queue for queue in classes[: max_rank + 1] if len(queue)), None)
            if chosen is None:
                return None
        for queue in classes:
            if not len(queue):
                queue.credit = 0.0  # no credit saved up while nothing waits
            elif queue.min_share:
                queue.credit = min(1.0, queue.credit + queue.min_share)
        chosen.credit = max(0.0, chosen.credit - 1.0)
        waiter = chosen.pop()
        if waiter is not None:
            self.length -= 1
        return waiter
