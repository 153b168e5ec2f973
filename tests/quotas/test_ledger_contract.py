"""The Ledger contract, run against both ledgers: embedded (SQLite) and Redis (one server, a Cluster, a
Sentinel-watched master), on a clock tests move."""

from __future__ import annotations

import math

import pytest

from gateway.quotas import Ledger, QuotaExceeded, rate_limit_headers
from tests.quotas.conftest import (
    KEY,
    OTHER_KEY,
    FakeClock,
    Ledgers,
    paris,
    plan,
    planner,
    refused,
    reserved,
)
from tests.redis_topologies import STORE_KINDS

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("ledgers", STORE_KINDS, indirect=True)]

SERVICE_DAY = {"services": {"dgfip/svc": {"tokens_per_day": 1000}}}


async def test_settle_replaces_the_reservation_by_the_actual_cost(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(departments={"dgfip": {"tokens_per_month": 10_000}}, **SERVICE_DAY)
    request = plan(quotas, clock())
    assert request.amount == 500
    reservation = reserved(await ledger.reserve(request))
    assert reservation.used == (500, 500)
    assert await ledger.usage(request) == (500, 500)
    assert await ledger.outstanding("dgfip") == 1

    assert await ledger.settle(reservation, 100, 37) == "settled"
    assert await ledger.usage(request) == (137, 137)
    assert await ledger.outstanding("dgfip") == 0
    assert await ledger.outstanding() == 0


async def test_settling_twice_charges_once(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(**SERVICE_DAY)
    request = plan(quotas, clock())
    reservation = reserved(await ledger.reserve(request))
    assert await ledger.settle(reservation, 100, 100) == "settled"
    assert await ledger.settle(reservation, 100, 100) == "duplicate"
    assert await ledger.settle(reservation, 100, 300) == "duplicate"
    assert await ledger.release(reservation) is False
    assert await ledger.usage(request) == (200,)


async def test_release_gives_everything_back(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(
        services={
            "dgfip/svc": {
                "tokens_per_day": 1000,
                "tokens_per_minute": 1000,
                "requests_per_minute": 5,
                "max_concurrent": 1,
            }
        }
    )
    request = plan(quotas, clock())
    reservation = reserved(await ledger.reserve(request))
    assert reservation.used == (500, 500, 1, 1)
    refused(await ledger.reserve(request))  # the only concurrency slot is taken

    assert await ledger.release(reservation) is True
    assert await ledger.usage(request) == (0, 0, 0, 0)
    assert await ledger.outstanding() == 0
    assert await ledger.release(reservation) is False
    # A settle after a release is a duplicate: a failed request is not charged by a stray settle.
    assert await ledger.settle(reservation, 100, 400) == "duplicate"
    assert await ledger.usage(request) == (0, 0, 0, 0)
    reserved(await ledger.reserve(request))


async def test_service_exhausted_while_the_department_has_budget(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(departments={"dgfip": {"tokens_per_day": 100_000}}, **SERVICE_DAY)
    request = plan(quotas, clock())
    first = reserved(await ledger.reserve(request))
    second = reserved(await ledger.reserve(request))
    assert second.used == (1000, 1000)
    # While both are in progress, their reservations hold the whole budget of the service.
    assert refused(await ledger.reserve(request)).used == 1000
    await ledger.settle(first, 100, 400)
    await ledger.settle(second, 100, 400)

    refusal = refused(await ledger.reserve(request))
    assert refusal.counter.level == "service" and refusal.counter.scope == "dgfip/svc"
    assert refusal.code == "insufficient_quota"
    assert refusal.used == 1000 and refusal.amount == 500
    # Nothing of the refused request was written anywhere, the department included.
    assert await ledger.usage(request) == (1000, 1000)
    # Another service of the department still has the department's budget.
    other = reserved(await ledger.reserve(plan(quotas, clock(), service="other")))
    assert other.used == (1500,)


async def test_department_exhausted_while_the_service_has_budget(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(
        departments={"dgfip": {"tokens_per_day": 1000}},
        services={"dgfip/svc": {"tokens_per_day": 100_000}},
    )
    other = reserved(await ledger.reserve(plan(quotas, clock(), service="other", output_tokens=700)))
    assert other.used == (800,)
    refusal = refused(await ledger.reserve(plan(quotas, clock())))
    assert refusal.counter.level == "department" and refusal.counter.scope == "dgfip"
    assert await ledger.usage(plan(quotas, clock())) == (800, 0)  # the service was not charged
    await ledger.settle(other, 100, 0)
    assert reserved(await ledger.reserve(plan(quotas, clock()))).used == (600, 500)


async def test_key_level_limits(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(keys={KEY: {"requests_per_minute": 1}})
    reserved(await ledger.reserve(plan(quotas, clock())))
    refusal = refused(await ledger.reserve(plan(quotas, clock())))
    assert refusal.counter.level == "key" and refusal.counter.scope == KEY
    assert refusal.code == "rate_limit_exceeded"
    # Another key of the same service is not limited by this key's limit.
    assert not plan(quotas, clock(), key=OTHER_KEY).counters


async def test_per_model_limits_count_only_their_model(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(
        departments={"dgfip": {"tokens_per_day": 10_000, "models": {"big": {"tokens_per_day": 600}}}}
    )
    big = plan(quotas, clock(), model="big")
    assert [c.model for c in big.counters] == [None, "big"]
    reserved(await ledger.reserve(big))
    assert refused(await ledger.reserve(big)).counter.model == "big"
    small = reserved(await ledger.reserve(plan(quotas, clock(), model="small")))
    assert small.used == (1000,)
    assert await ledger.usage(big) == (1000, 500)


async def test_weights_and_multiplier(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(
        weights={"input": 1.0, "output": 2.0},
        models={"big": {"multiplier": 3.0}},
        services={"dgfip/svc": {"tokens_per_day": 100_000, "tokens_per_minute": 100_000}},
    )
    request = plan(quotas, clock(), model="big", input_tokens=100, output_tokens=400)
    assert request.amount == (100 + 400 * 2) * 3
    reservation = reserved(await ledger.reserve(request))
    assert reservation.used == (2700, 2700)
    assert await ledger.settle(reservation, 11, 20) == "settled"
    assert await ledger.usage(request) == ((11 + 40) * 3, (11 + 40) * 3)
    small = reserved(await ledger.reserve(plan(quotas, clock(), input_tokens=10, output_tokens=5)))
    assert small.used == (153 + 20, 153 + 20)


async def test_concurrency_limit(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(services={"dgfip/svc": {"max_concurrent": 2}})
    request = plan(quotas, clock())
    first = reserved(await ledger.reserve(request))
    second = reserved(await ledger.reserve(request))
    refusal = refused(await ledger.reserve(request))
    assert refusal.counter.kind == "max_concurrent" and refusal.code == "rate_limit_exceeded"
    assert refusal.used == 2
    error = QuotaExceeded(refusal)
    assert error.status_code == 429 and error.error_type == "requests"
    assert "2 of 2" in error.message
    await ledger.settle(first, 10, 10)
    third = reserved(await ledger.reserve(request))
    await ledger.release(second)
    await ledger.settle(third, 10, 10)
    assert await ledger.usage(request) == (0,)


async def test_requests_per_minute_never_let_more_through_in_any_minute(
    ledger: Ledger, clock: FakeClock
) -> None:
    quotas = planner(services={"dgfip/svc": {"requests_per_minute": 3}})
    for _ in range(3):
        reservation = reserved(await ledger.reserve(plan(quotas, clock())))
        await ledger.settle(reservation, 10, 10)  # settling does not give a request back
        clock.advance(1)
    refusal = refused(await ledger.reserve(plan(quotas, clock())))
    assert refusal.used == 3 and refusal.code == "rate_limit_exceeded"
    retry_after = refusal.retry_after
    assert retry_after is not None and 57 <= retry_after <= 65
    headers = rate_limit_headers(refusal)
    assert headers["x-ratelimit-limit-requests"] == "3"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert QuotaExceeded(refusal).headers["retry-after"] == str(math.ceil(retry_after))

    clock.advance(retry_after - 0.01)
    refused(await ledger.reserve(plan(quotas, clock())))  # a moment early: still within the window
    clock.advance(0.01)
    # The three requests (one 5-second bucket) left the window together.
    assert reserved(await ledger.reserve(plan(quotas, clock()))).used == (1,)


async def test_tokens_per_minute_free_as_the_window_moves(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(services={"dgfip/svc": {"tokens_per_minute": 1000}})
    first = reserved(await ledger.reserve(plan(quotas, clock())))
    await ledger.settle(first, 100, 300)  # 400
    clock.advance(30)
    second = reserved(await ledger.reserve(plan(quotas, clock())))  # 400 + 500
    await ledger.settle(second, 100, 400)  # 900
    refusal = refused(await ledger.reserve(plan(quotas, clock())))
    assert refusal.used == 900 and refusal.counter.kind == "tokens_per_minute"
    assert QuotaExceeded(refusal).error_type == "tokens"
    # 400 must leave the window for 500 to fit: the first request's, 30 to 35 s from now.
    assert refusal.retry_after is not None and 30 <= refusal.retry_after <= 35
    clock.advance(refusal.retry_after)
    assert reserved(await ledger.reserve(plan(quotas, clock()))).used == (1000,)


async def test_a_request_that_can_never_fit(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(services={"dgfip/svc": {"tokens_per_minute": 400}})
    refusal = refused(await ledger.reserve(plan(quotas, clock())))
    assert refusal.never_fits and refusal.retry_after is None
    error = QuotaExceeded(refusal)
    assert "max_tokens" in error.message and "retry-after" not in error.headers
    assert reserved(await ledger.reserve(plan(quotas, clock(), output_tokens=300))).used == (400,)


async def test_a_zero_limit_closes_a_model(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(services={"dgfip/svc": {"models": {"big": {"requests_per_minute": 0}}}})
    refusal = refused(await ledger.reserve(plan(quotas, clock(), model="big")))
    assert refusal.never_fits and "No request is allowed" in QuotaExceeded(refusal).message
    assert reserved(await ledger.reserve(plan(quotas, clock(), model="small"))).id == ""


async def test_a_plan_without_limits_touches_no_store(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(departments={"other": {"tokens_per_day": 1}})
    request = plan(quotas, clock())
    reservation = reserved(await ledger.reserve(request))
    assert reservation.id == "" and reservation.counters == ()
    assert rate_limit_headers(reservation) == {}
    assert await ledger.settle(reservation, 1, 1) == "settled"
    assert await ledger.release(reservation) is False
    assert await ledger.outstanding() == 0


async def test_an_expired_reservation_is_given_back_and_a_late_settle_charges_once(
    ledgers: Ledgers, clock: FakeClock
) -> None:
    ledger = await ledgers.open(ttl=10)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 1000, "max_concurrent": 1}})
    request = plan(quotas, clock())
    reservation = reserved(await ledger.reserve(request))
    assert reservation.expires_at == pytest.approx(clock() + 10, abs=0.01)
    clock.advance(11)
    assert await ledger.outstanding() == 1  # not swept yet
    assert await ledger.sweep() == 1
    assert await ledger.outstanding() == 0
    assert await ledger.usage(request) == (0, 0)  # budget and slot given back

    assert await ledger.settle(reservation, 100, 50) == "late"
    assert await ledger.usage(request) == (150, 0)
    assert await ledger.settle(reservation, 100, 50) == "duplicate"
    assert await ledger.release(reservation) is False
    assert await ledger.usage(request) == (150, 0)


async def test_the_next_reservation_sweeps_expired_ones(ledgers: Ledgers, clock: FakeClock) -> None:
    ledger = await ledgers.open(ttl=5)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 1000, "max_concurrent": 1}})
    reserved(await ledger.reserve(plan(quotas, clock())))  # its gateway dies: never settled
    refused(await ledger.reserve(plan(quotas, clock())))
    clock.advance(5)
    fresh = reserved(await ledger.reserve(plan(quotas, clock())))
    assert fresh.used == (500, 1)
    assert await ledger.outstanding("dgfip") == 1
    await ledger.release(fresh)
    assert await ledger.outstanding("dgfip") == 0


async def test_settling_an_expired_reservation_before_it_is_swept(ledgers: Ledgers, clock: FakeClock) -> None:
    ledger = await ledgers.open(ttl=5)
    quotas = planner(**SERVICE_DAY)
    request = plan(quotas, clock())
    reservation = reserved(await ledger.reserve(request))
    clock.advance(60)
    assert await ledger.settle(reservation, 100, 100) == "settled"
    assert await ledger.sweep() == 0
    assert await ledger.usage(request) == (200,)


async def test_a_month_ends_at_midnight_in_paris(ledger: Ledger, clock: FakeClock) -> None:
    clock.now = paris(2026, 10, 31, 23, 59, 30)
    quotas = planner(departments={"dgfip": {"tokens_per_month": 1000}})
    october = plan(quotas, clock(), output_tokens=500)
    assert october.counters[0].key.endswith("|2026-10")
    await ledger.settle(reserved(await ledger.reserve(october)), 100, 500)
    refusal = refused(await ledger.reserve(plan(quotas, clock())))
    assert refusal.code == "insufficient_quota"
    assert refusal.retry_after == pytest.approx(30, abs=0.01)
    assert refusal.reset_local == "2026-11-01 00:00 Europe/Paris"
    error = QuotaExceeded(refusal)
    assert error.error_type == "insufficient_quota" and "2026-11-01 00:00 Europe/Paris" in error.message

    clock.advance(29.9)
    refused(await ledger.reserve(plan(quotas, clock())))
    clock.advance(0.1)
    # A plan made a moment earlier (October) reaches a ledger whose clock is in November: the ledger
    # plans again rather than charge October.
    november = reserved(await ledger.reserve(october))
    assert november.counters[0].key.endswith("|2026-11") and november.used == (600,)
    assert await ledger.usage(october) == (600,)  # `usage` plans again, too


async def test_a_day_of_23_hours_when_summer_time_begins(ledger: Ledger, clock: FakeClock) -> None:
    clock.now = paris(2026, 3, 29, 1, 30)  # 00:30 UTC; at 02:00 the clocks jump to 03:00
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 500}})
    await ledger.settle(reserved(await ledger.reserve(plan(quotas, clock()))), 100, 400)
    refusal = refused(await ledger.reserve(plan(quotas, clock())))
    assert refusal.retry_after == pytest.approx(21.5 * 3600, abs=0.01)  # not 22.5 h
    assert refusal.reset_local == "2026-03-30 00:00 Europe/Paris"
    clock.now = paris(2026, 3, 30, 0, 0) - 0.5
    refused(await ledger.reserve(plan(quotas, clock())))
    clock.now = paris(2026, 3, 30, 0, 0)
    assert reserved(await ledger.reserve(plan(quotas, clock()))).counters[0].key.endswith("|2026-03-30")


async def test_a_day_of_25_hours_when_summer_time_ends(ledger: Ledger, clock: FakeClock) -> None:
    clock.now = paris(2026, 10, 25, 1, 30)  # at 03:00 the clocks go back to 02:00
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 500}})
    await ledger.settle(reserved(await ledger.reserve(plan(quotas, clock()))), 100, 400)
    refusal = refused(await ledger.reserve(plan(quotas, clock())))
    assert refusal.retry_after == pytest.approx(23.5 * 3600, abs=0.01)  # not 22.5 h
    clock.now = paris(2026, 10, 26, 0, 0) - 0.5
    refused(await ledger.reserve(plan(quotas, clock())))
    clock.now = paris(2026, 10, 26, 0, 0)
    reserved(await ledger.reserve(plan(quotas, clock())))


async def test_headers_report_the_tightest_limits(ledger: Ledger, clock: FakeClock) -> None:
    quotas = planner(
        departments={"dgfip": {"tokens_per_month": 1_000_000, "requests_per_minute": 100}},
        services={"dgfip/svc": {"tokens_per_day": 2000, "tokens_per_minute": 10_000}},
        keys={KEY: {"requests_per_minute": 10}},
    )
    reservation = reserved(await ledger.reserve(plan(quotas, clock())))
    headers = rate_limit_headers(reservation)
    assert headers == {
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "9",
        "x-ratelimit-reset-requests": headers["x-ratelimit-reset-requests"],
        "x-ratelimit-limit-tokens": "2000",
        "x-ratelimit-remaining-tokens": "1500",
        "x-ratelimit-reset-tokens": "12h0m0s",
    }
    assert headers["x-ratelimit-reset-requests"] in {f"{s}s" for s in range(55, 66)} | {"1m0s", "1m1s"} | {
        f"1m{s}s" for s in range(0, 6)
    }
