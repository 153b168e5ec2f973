"""The fair queue's order: strict priority with minimum shares between classes, weighted fair
queueing between departments within a class."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest

from gateway.admission.fair_queue import FairQueue, Waiter

INTERACTIVE, STANDARD, BATCH = 0, 1, 2


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _waiter(loop: asyncio.AbstractEventLoop, rank: int, department: str) -> Waiter:
    return Waiter(loop.create_future(), rank, department, None, 0.0)


def _drain(queue: FairQueue, count: int) -> list[Waiter]:
    served = []
    for _ in range(count):
        waiter = queue.pop()
        assert waiter is not None
        served.append(waiter)
    return served


def test_a_newcomer_overtakes_a_flooding_department(loop: asyncio.AbstractEventLoop) -> None:
    queue = FairQueue([0.0, 0.0, 0.0])
    for _ in range(50):
        queue.push(_waiter(loop, STANDARD, "flood"), 1.0)
    _drain(queue, 5)
    queue.push(_waiter(loop, STANDARD, "newcomer"), 1.0)
    served = _drain(queue, 2)
    assert "newcomer" in [waiter.department for waiter in served]


def test_backlogged_departments_share_by_weight(loop: asyncio.AbstractEventLoop) -> None:
    queue = FairQueue([0.0, 0.0, 0.0])
    for _ in range(300):
        queue.push(_waiter(loop, STANDARD, "a"), 3.0)
        queue.push(_waiter(loop, STANDARD, "b"), 1.0)
    shares = Counter(waiter.department for waiter in _drain(queue, 200))
    assert shares["a"] == pytest.approx(150, abs=2)
    assert shares["b"] == pytest.approx(50, abs=2)


def test_a_department_alone_gets_everything(loop: asyncio.AbstractEventLoop) -> None:
    queue = FairQueue([0.0, 0.0, 0.0])
    for _ in range(10):
        queue.push(_waiter(loop, STANDARD, "b"), 0.1)
    assert [waiter.department for waiter in _drain(queue, 10)] == ["b"] * 10
    assert queue.pop() is None and queue.length == 0


def test_strict_priority_keeps_the_minimum_share(loop: asyncio.AbstractEventLoop) -> None:
    queue = FairQueue([0.0, 0.0, 0.05])
    for _ in range(200):
        queue.push(_waiter(loop, BATCH, "b"), 1.0)
    for _ in range(400):
        queue.push(_waiter(loop, INTERACTIVE, "a"), 1.0)
    ranks = Counter(waiter.rank for waiter in _drain(queue, 200))
    assert ranks[BATCH] == 10  # one in twenty, not more
    assert ranks[INTERACTIVE] == 190


def test_without_a_share_the_lower_class_waits(loop: asyncio.AbstractEventLoop) -> None:
    queue = FairQueue([0.0, 0.0, 0.0])
    queue.push(_waiter(loop, BATCH, "b"), 1.0)
    queue.push(_waiter(loop, STANDARD, "a"), 1.0)
    queue.push(_waiter(loop, INTERACTIVE, "c"), 1.0)
    assert [waiter.rank for waiter in _drain(queue, 3)] == [INTERACTIVE, STANDARD, BATCH]


def test_removed_waiters_are_never_served(loop: asyncio.AbstractEventLoop) -> None:
    queue = FairQueue([0.0, 0.0, 0.0])
    waiters = [_waiter(loop, STANDARD, f"d{i % 3}") for i in range(200)]
    for waiter in waiters:
        queue.push(waiter, 1.0)
    for waiter in waiters[::2]:
        queue.remove(waiter)
        queue.remove(waiter)  # a second removal changes nothing
    assert queue.length == 100
    served = _drain(queue, 100)
    assert set(map(id, served)) == set(map(id, waiters[1::2]))
    assert queue.pop() is None
    assert queue.waiting(STANDARD) == {}


def test_headroom_passes_lower_classes_over_unless_owed_their_share(loop: asyncio.AbstractEventLoop) -> None:
    queue = FairQueue([0.0, 0.0, 0.5])
    queue.push(_waiter(loop, BATCH, "b"), 1.0)
    queue.push(_waiter(loop, BATCH, "b"), 1.0)
    assert queue.pop(max_rank=INTERACTIVE) is None  # the free slot is kept for higher classes
    queue.push(_waiter(loop, INTERACTIVE, "a"), 1.0)
    served = queue.pop(max_rank=INTERACTIVE)
    assert served is not None and served.rank == INTERACTIVE
    owed = queue.pop(max_rank=INTERACTIVE)  # two slots handed out with batch waiting: half is its own
    assert owed is not None and owed.rank == BATCH
