"""What only the Redis ledger has: hash tags, Redis's clock, retried scripts."""

from __future__ import annotations

import time
import uuid

import pytest
import redis.asyncio as redis

from gateway.quotas.redis_ledger import RedisLedger
from tests.quotas.conftest import FakeClock, plan, planner, reserved

pytestmark = pytest.mark.asyncio


def _prefix() -> str:
    return f"r{uuid.uuid4().hex[:12]}"


async def test_every_key_of_a_department_shares_its_hash_tag(redis_url: str, clock: FakeClock) -> None:
    prefix = _prefix()
    ledger = RedisLedger.from_url(redis_url, prefix=prefix, clock=clock)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    quotas = planner(
        departments={"dgfip": {"tokens_per_month": 10_000, "models": {"big": {"requests_per_minute": 9}}}},
        services={"dgfip/svc": {"tokens_per_day": 1000, "tokens_per_minute": 1000, "max_concurrent": 3}},
        keys={"abcdefgh2345": {"requests_per_minute": 5}},
    )
    try:
        await ledger.settle(reserved(await ledger.reserve(plan(quotas, clock(), model="big"))), 1, 1)
        reserved(await ledger.reserve(plan(quotas, clock(), model="big")))
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        assert len(keys) >= 8
        # Redis Cluster hashes only what is between the first { and the next }.
        assert {key.split("{", 1)[1].split("}", 1)[0] for key in keys} == {"dgfip"}
    finally:
        await client.aclose()
        await ledger.close()


async def test_periods_follow_redis_clock_not_the_gateways(redis_url: str) -> None:
    """Production mode (TIME in the script): a gateway whose clock is a year behind still charges
    the current periods, those of Redis's clock."""
    ledger = RedisLedger.from_url(redis_url, prefix=_prefix())
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 1000}})
    try:
        late = plan(quotas, time.time() - 366 * 86_400)
        reservation = reserved(await ledger.reserve(late))
        current = plan(quotas, time.time())
        assert reservation.counters[0].key == current.counters[0].key != late.counters[0].key
        assert reservation.expires_at == pytest.approx(time.time() + 900, abs=5)
        assert await ledger.usage(current) == (500,)
        assert await ledger.settle(reservation, 10, 10) == "settled"
        assert await ledger.usage(current) == (20,)
    finally:
        await ledger.close()


async def test_a_reservation_sent_twice_is_counted_once(redis_url: str, clock: FakeClock) -> None:
    """What a retry after a lost answer does: the same script, the same reservation id."""
    ledger = RedisLedger.from_url(redis_url, prefix=_prefix(), clock=clock)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 1000, "max_concurrent": 1}})
    request = plan(quotas, clock())
    try:
        _, first = await ledger._reserve_call(request, "sameid", False)
        _, again = await ledger._reserve_call(request, "sameid", False)
        assert first[0] == again[0] == 1
        assert first[4:] == again[4:] and first[4] == 500
        assert await ledger.usage(request) == (500, 1)
        assert await ledger.outstanding("dgfip") == 1
    finally:
        await ledger.close()
