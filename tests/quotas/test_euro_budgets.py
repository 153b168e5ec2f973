"""Euro budgets, run against both ledgers (embedded and every Redis topology): the worst case in
euros reserved before forwarding, the actual price settled after, beside the token budgets."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from gateway.quotas import Ledger, QuotaConfig, QuotaExceeded
from gateway.quotas.resilient import ResilientLedger
from tests.quotas.conftest import FakeClock, Ledgers, paris, plan, planner, refused, reserved
from tests.quotas.test_resilient import resilient
from tests.redis_server import RedisServer, redis_server
from tests.redis_topologies import STORE_KINDS
from tests.waiting import async_wait_for


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with redis_server() as running:
        yield running


@pytest_asyncio.fixture
async def opened() -> AsyncIterator[list[ResilientLedger]]:
    ledgers: list[ResilientLedger] = []
    yield ledgers
    for ledger in ledgers:
        await ledger.close()


# 2 euros per million input tokens, 6 per million output: 100 in + 400 out = 2600 micro-euros.
PRICED = {"small": {"price_per_million_input": "2", "price_per_million_output": "6"}}


@pytest.mark.asyncio
@pytest.mark.parametrize("ledgers", STORE_KINDS, indirect=True)
async def test_the_worst_case_in_euros_is_reserved_and_the_actual_price_settled(
    ledger: Ledger, clock: FakeClock
) -> None:
    quotas = planner(
        models=PRICED,
        departments={"dgfip": {"eur_per_month": "0.01", "tokens_per_month": 1_000_000}},
        services={"dgfip/svc": {"models": {"small": {"eur_per_day": "0.006"}}}},
    )
    request = plan(quotas, clock())
    assert request.eur_amount == 2600 and request.amount == 500
    first = reserved(await ledger.reserve(request))
    # Euro budgets in micro-euros, the token budget in weighted tokens, side by side.
    assert first.used == (500, 2600, 2600)
    second = reserved(await ledger.reserve(request))
    assert second.used == (1000, 5200, 5200)
    third = refused(await ledger.reserve(request))  # 7800 > 6000 on the service's day
    assert third.counter.kind == "eur_per_day" and third.counter.euros and third.used == 5200
    assert "Euro budget exhausted" in str(QuotaExceeded(third)) and "0.006000 EUR" in str(
        QuotaExceeded(third)
    )
    assert QuotaExceeded(third).code == "insufficient_quota"

    # Settled at the actual usage: 100 in + 50 out = 500 micro-euros; the rest is given back.
    assert await ledger.settle(first, 100, 50) == "settled"
    assert await ledger.usage(request) == (650, 3100, 3100)
    # A price given by the caller (audio billed in seconds) wins over the tokens' price.
    assert await ledger.settle(second, 0, 0, 1234) == "settled"
    assert await ledger.usage(request) == (150, 1734, 1734)
    released = reserved(await ledger.reserve(request))
    assert await ledger.release(released) is True
    assert await ledger.usage(request) == (150, 1734, 1734)


@pytest.mark.asyncio
@pytest.mark.parametrize("ledgers", STORE_KINDS, indirect=True)
async def test_a_day_budget_resets_at_local_midnight(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(models=PRICED, services={"dgfip/svc": {"eur_per_day": "0.003"}})
    request = plan(quotas, clock())
    reservation = reserved(await ledger.reserve(request))
    refusal = refused(await ledger.reserve(request))
    assert refusal.retry_after is not None and refusal.reset_local is not None
    assert refusal.reset_local.endswith(" 00:00 Europe/Paris") and 0 < refusal.retry_after <= 86_400
    assert await ledger.settle(reservation, 100, 100) == "settled"  # 800 micro-euros
    assert (await ledger.usage(request))[0] == 800
    clock.advance(86_400)
    tomorrow = plan(quotas, clock())
    assert (await ledger.usage(tomorrow))[0] == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("ledgers", ["embedded", "redis"], indirect=True)
async def test_a_request_that_alone_exceeds_the_budget_never_fits(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(models=PRICED, keys={}, departments={"dgfip": {"eur_per_month": "0.001"}})
    refusal = refused(await ledger.reserve(plan(quotas, clock())))
    assert refusal.never_fits and "more than the budget of 0.001000 EUR" in str(QuotaExceeded(refusal))
    # An unpriced model costs nothing against a euro budget.
    reserved(await ledger.reserve(plan(quotas, clock(), model="unpriced")))


def test_euro_limits_are_decimals_to_the_micro_euro() -> None:
    config = QuotaConfig.model_validate({"departments": {"dgfip": {"eur_per_month": 1500.25}}})
    assert config.departments["dgfip"].items() == [("eur_per_month", 1_500_250_000)]
    with pytest.raises(ValueError, match="decimal"):
        QuotaConfig.model_validate({"departments": {"dgfip": {"eur_per_month": "0.0000001"}}})
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        QuotaConfig.model_validate({"departments": {"dgfip": {"eur_per_day": -1}}})


def test_audio_seconds_are_reserved_at_their_price() -> None:
    quotas = planner(
        models={"whisper": {"price_per_audio_second": "0.0001", "price_per_million_output": "2"}},
        departments={"dgfip": {"eur_per_month": 10}},
    )
    request = quotas.plan("dgfip", "svc", "k", "whisper", 0, 900, paris(2026, 11, 3), audio_seconds=60)
    # 60 s at 100 micro-euros, plus 900 output tokens at 2 micro-euros: the worst of either billing.
    assert request.eur_amount == 6000 + 1800
    assert math.isclose(quotas.eur_cost("whisper", 0, 1000), 2000)


@pytest.mark.asyncio
async def test_fail_open_enforces_euro_budgets_locally_and_replays_their_price(
    server: RedisServer, clock: FakeClock, opened: list[ResilientLedger]
) -> None:
    ledger = await resilient(server, clock, "fail_open", opened)
    quotas = planner(models=PRICED, services={"dgfip/svc": {"eur_per_day": "0.006"}})
    request = plan(quotas, clock())
    await ledger.settle(reserved(await ledger.reserve(request)), 100, 400)  # 2600 micro-euros

    server.stop()
    local = reserved(await ledger.reserve(request))  # from the 2600 last seen: 5200 fits
    assert local.origin == "local" and local.used == (5200,)
    assert refused(await ledger.reserve(request)).used == 5200  # 7800 would not
    assert await ledger.settle(local, 100, 0) == "settled"  # 200 micro-euros, for the store later

    server.start()  # empty: this test server keeps nothing on disk
    assert await async_wait_for(lambda: not ledger.degraded and not ledger.pending, 5)
    assert await ledger.usage(request) == (200,)  # the outage's price, replayed once


@pytest.mark.asyncio
@pytest.mark.parametrize("ledgers", STORE_KINDS, indirect=True)
async def test_a_settle_after_the_reservation_expired_charges_its_price_once(
    ledgers: Ledgers, clock: FakeClock
) -> None:
    ledger = await ledgers.open(ttl=10, clock=clock)
    quotas = planner(models=PRICED, departments={"dgfip": {"eur_per_month": 1}})
    request = plan(quotas, clock())
    reservation = reserved(await ledger.reserve(request))
    clock.advance(11)
    assert await ledger.sweep() == 1
    assert await ledger.usage(request) == (0,)  # given back by the sweep
    assert await ledger.settle(reservation, 100, 100) == "late"
    assert await ledger.settle(reservation, 100, 100) == "duplicate"
    assert await ledger.usage(request) == (800,)


def test_a_euro_budget_on_a_model_without_price_is_pointed_out() -> None:
    config = QuotaConfig.model_validate(
        {
            "models": {"priced": {"price_per_million_output": 1}},
            "services": {"dgfip/svc": {"models": {"free": {"eur_per_day": 5}, "priced": {"eur_per_day": 5}}}},
        }
    )
    assert config.unpriced_euro_budgets() == ["dgfip/svc, model free"]
