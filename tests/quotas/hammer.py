"""Concurrent reservers, for the guarantee tests: in one process (asyncio tasks) or in several.

Each function starts `tasks` asyncio tasks on one service and returns what they did; the callers
check it against the limit. Loops are bounded by a deadline (monotonic seconds) and fail past it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.quotas import Ledger, Planner, Refusal, Reservation

DEPARTMENT = "dgfip"
SERVICE = "svc"
KEY = "abcdefgh2345"
INPUT = 100
MAX_OUTPUT = 400


@dataclass
class Spent:
    settled_total: int = 0
    settled: int = 0
    refusals: int = 0


@dataclass
class Held:
    intervals: list[tuple[float, float]] = field(default_factory=list)
    """(after the reservation was granted, before its settle was sent), wall-clock seconds."""
    refusals: int = 0
    max_in_flight: int = 0


async def spend_budget(
    ledger: Ledger, planner: Planner, clock: Callable[[], float], *, tasks: int, deadline: float, seed: int
) -> Spent:
    """Reserve the worst case, settle a random actual cost below it, until refused while nothing is
    in progress anywhere (a refusal while others hold reservations may be lifted when they settle)."""
    spent = Spent()
    rng = random.Random(seed)

    async def worker() -> None:
        while time.monotonic() < deadline:
            request = planner.plan(DEPARTMENT, SERVICE, KEY, "small", INPUT, MAX_OUTPUT, clock())
            outcome = await ledger.reserve(request)
            if isinstance(outcome, Refusal):
                spent.refusals += 1
                if await ledger.outstanding(DEPARTMENT) == 0:
                    return
                await asyncio.sleep(rng.uniform(0.001, 0.005))
                continue
            await asyncio.sleep(rng.uniform(0, 0.002))
            output = rng.randint(0, MAX_OUTPUT)
            settlement = await ledger.settle(outcome, INPUT, output)
            assert settlement == "settled", settlement
            spent.settled_total += request.cost(INPUT, output)
            spent.settled += 1
        raise TimeoutError("spend_budget went past its deadline")

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return spent


async def count_requests(
    ledger: Ledger, planner: Planner, clock: Callable[[], float], *, tasks: int, deadline: float, seed: int
) -> Spent:
    """Reserve and settle until refused: with only a requests-per-minute limit, a refusal is final."""
    spent = Spent()
    rng = random.Random(seed)

    async def worker() -> None:
        while time.monotonic() < deadline:
            outcome = await ledger.reserve(
                planner.plan(DEPARTMENT, SERVICE, KEY, "small", INPUT, MAX_OUTPUT, clock())
            )
            if isinstance(outcome, Refusal):
                spent.refusals += 1
                return
            await ledger.settle(outcome, INPUT, rng.randint(0, MAX_OUTPUT))
            spent.settled += 1
        raise TimeoutError("count_requests went past its deadline")

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return spent


async def hold_slots(
    ledger: Ledger,
    planner: Planner,
    clock: Callable[[], float],
    *,
    tasks: int,
    rounds: int,
    deadline: float,
    seed: int,
) -> Held:
    """Each task gets `rounds` reservations, one at a time, holds each a few milliseconds, settles it;
    refused, it waits a little and asks again."""
    held = Held()
    rng = random.Random(seed)
    in_flight = 0

    async def worker() -> None:
        nonlocal in_flight
        for _ in range(rounds):
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError("hold_slots went past its deadline")
                outcome = await ledger.reserve(
                    planner.plan(DEPARTMENT, SERVICE, KEY, "small", INPUT, MAX_OUTPUT, clock())
                )
                if isinstance(outcome, Reservation):
                    break
                held.refusals += 1
                await asyncio.sleep(rng.uniform(0.001, 0.004))
            start = time.time()
            in_flight += 1
            held.max_in_flight = max(held.max_in_flight, in_flight)
            # Held longer than a refused task waits before asking again, so that the limit is
            # surely reached (the test checks it is, never passed), whatever the ledger's speed.
            await asyncio.sleep(rng.uniform(0.006, 0.012))
            in_flight -= 1
            held.intervals.append((start, time.time()))
            assert await ledger.settle(outcome, INPUT, 1) == "settled"

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return held


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    # At equal times, ends (-1) sort before starts: touching intervals do not overlap.
    current = best = 0
    for _, step in events:
        current += step
        best = max(best, current)
    return best
