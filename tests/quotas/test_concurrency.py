"""The guarantee under concurrency, in one process: 200 asyncio tasks on one service, both ledgers.

Budget B: the settled total never exceeds B, and is at least B minus one request's worth once the
service is refused with nothing in progress. Requests per minute: exactly the limit gets through.
Concurrency: never more than the limit in progress. No reservation outstanding at the end.
"""

from __future__ import annotations

import time

import pytest

from gateway.quotas import Ledger, Planner, QuotaConfig, Refusal
from tests.quotas import hammer
from tests.quotas.conftest import FakeClock

pytestmark = pytest.mark.asyncio

TASKS = 200
BUDGET = 60_000
WORST_CASE = hammer.INPUT + hammer.MAX_OUTPUT


def _planner(limits: dict[str, int]) -> Planner:
    return Planner(
        QuotaConfig.model_validate({"services": {f"{hammer.DEPARTMENT}/{hammer.SERVICE}": limits}})
    )


async def test_a_budget_is_never_overspent(ledger: Ledger, clock: FakeClock) -> None:
    planner = _planner({"tokens_per_day": BUDGET})
    deadline = time.monotonic() + 20
    spent = await hammer.spend_budget(ledger, planner, clock, tasks=TASKS, deadline=deadline, seed=1)
    assert spent.refusals >= TASKS  # every task was refused before it stopped
    # One more reserver, alone, takes what the crowd may have left between two refusals.
    last = await hammer.spend_budget(ledger, planner, clock, tasks=1, deadline=deadline, seed=2)
    total = spent.settled_total + last.settled_total
    assert BUDGET - WORST_CASE < total <= BUDGET
    request = planner.plan(hammer.DEPARTMENT, hammer.SERVICE, hammer.KEY, "small", 100, 400, clock())
    assert await ledger.usage(request) == (total,)
    assert isinstance(await ledger.reserve(request), Refusal)
    assert await ledger.outstanding() == 0


async def test_requests_per_minute_let_exactly_the_limit_through(ledger: Ledger, clock: FakeClock) -> None:
    planner = _planner({"requests_per_minute": 150})
    spent = await hammer.count_requests(
        ledger, planner, clock, tasks=TASKS, deadline=time.monotonic() + 20, seed=3
    )
    assert spent.settled == 150
    assert spent.refusals == TASKS
    assert await ledger.outstanding() == 0


async def test_concurrency_never_exceeds_the_limit(ledger: Ledger, clock: FakeClock) -> None:
    planner = _planner({"max_concurrent": 10})
    held = await hammer.hold_slots(
        ledger, planner, clock, tasks=TASKS, rounds=3, deadline=time.monotonic() + 30, seed=4
    )
    assert len(held.intervals) == TASKS * 3
    assert held.max_in_flight == 10  # reached, never passed
    assert hammer.max_overlap(held.intervals) <= 10
    assert held.refusals > 0
    assert await ledger.outstanding() == 0
