"""on_store_error with a real redis-server that stops, restarts (empty) or freezes, under load."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from gateway.quotas import Planner, QuotaStoreError, QuotaUnavailable, ResilientLedger
from gateway.quotas.redis_ledger import RedisLedger
from tests.quotas.conftest import FakeClock, plan, planner, refused, reserved
from tests.redis_server import RedisServer, redis_server
from tests.waiting import async_wait_for

pytestmark = pytest.mark.asyncio

SERVICE = {"services": {"dgfip/svc": {"tokens_per_day": 1000}}}


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


async def resilient(
    server: RedisServer, clock: FakeClock, mode: str, opened: list[ResilientLedger], ttl: float = 900.0
) -> ResilientLedger:
    store = RedisLedger.from_url(server.url, timeout=0.3, reservation_ttl=ttl, clock=clock)
    ledger = await ResilientLedger.open(
        store,
        on_store_error="fail_open" if mode == "fail_open" else "fail_closed",
        clock=clock,
        retry_interval=0.05,
    )
    opened.append(ledger)
    return ledger


async def test_fail_closed_answers_503_then_replays_the_settlements(
    server: RedisServer, clock: FakeClock, opened: list[ResilientLedger]
) -> None:
    ledger = await resilient(server, clock, "fail_closed", opened)
    quotas = planner(**SERVICE)
    request = plan(quotas, clock())
    in_progress = reserved(await ledger.reserve(request))

    server.stop()
    with pytest.raises(QuotaUnavailable) as caught:
        await ledger.reserve(request)
    assert caught.value.status_code == 503 and caught.value.headers["retry-after"] == "1"
    assert "quota" in caught.value.message
    assert ledger.degraded
    started = time.monotonic()
    with pytest.raises(QuotaUnavailable):
        await ledger.reserve(request)
    assert time.monotonic() - started < 0.1  # known down: no request waits for the store
    # The request in progress finishes: its usage is kept for the store.
    assert await ledger.settle(in_progress, 100, 23) == "deferred"
    assert ledger.pending == 1
    with pytest.raises(QuotaStoreError):
        await ledger.usage(request)
    # A department without limits needs no store: it is served all the same.
    assert reserved(await ledger.reserve(plan(quotas, clock(), department="dinum"))).id == ""

    server.start()  # empty: this test server keeps nothing on disk
    assert await async_wait_for(lambda: not ledger.degraded and not ledger.pending, 5)
    assert await ledger.usage(request) == (123,)  # charged once, from the replay
    assert await ledger.outstanding() == 0
    reserved(await ledger.reserve(request))


async def test_fail_open_enforces_locally_and_replays_the_usage(
    server: RedisServer, clock: FakeClock, opened: list[ResilientLedger]
) -> None:
    ledger = await resilient(server, clock, "fail_open", opened)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 1000, "requests_per_minute": 4}})
    await ledger.settle(reserved(await ledger.reserve(plan(quotas, clock(), output_tokens=500))), 100, 500)

    server.stop()
    # The local ledger starts from the usage last seen in the store (600): 600 + 500 does not fit.
    refusal = refused(await ledger.reserve(plan(quotas, clock())))
    assert refusal.counter.kind == "tokens_per_day" and refusal.used == 600
    assert ledger.degraded
    local = reserved(await ledger.reserve(plan(quotas, clock(), output_tokens=200)))
    assert local.origin == "local" and local.used[0] == 900
    assert await ledger.settle(local, 100, 50) == "settled"
    assert ledger.pending == 1  # the local usage, waiting for the store
    second = reserved(await ledger.reserve(plan(quotas, clock(), output_tokens=100)))
    assert await ledger.release(second) is True  # given back locally, nothing to replay
    # Rate limits hold per process too: 4 requests per minute, 1 counted locally so far (the
    # released one was given back).
    tiny = plan(quotas, clock(), input_tokens=10, output_tokens=0)
    small = [reserved(await ledger.reserve(tiny)) for _ in range(3)]
    assert [reservation.used[1] for reservation in small] == [2, 3, 4]
    assert refused(await ledger.reserve(tiny)).counter.kind == "requests_per_minute"
    for reservation in small:
        assert await ledger.settle(reservation, 10, 0) == "settled"
    assert ledger.pending == 4

    server.start()
    assert await async_wait_for(lambda: not ledger.degraded and not ledger.pending, 5)
    # The restarted (empty) store received the usage made during the outage, once: 150 + 3 x 10
    # tokens, and 4 requests (the released one was never made).
    assert await ledger.usage(plan(quotas, clock())) == (180, 4)
    assert ledger.local is not None and await ledger.local.outstanding() == 0
    assert await ledger.outstanding() == 0


async def test_fail_open_under_load_loses_no_usage_and_charges_none_twice(
    server: RedisServer, clock: FakeClock, opened: list[ResilientLedger]
) -> None:
    """Twenty reservers keep going while the store freezes (answers time out, commands sent before
    the freeze run after it), then comes back. Every settled cost reaches the store exactly once."""
    ledger = await resilient(server, clock, "fail_open", opened, ttl=60)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**12}})
    settled_total = 0
    outcomes: dict[str, int] = {}
    stop = asyncio.Event()
    rng = random.Random(7)

    async def worker() -> None:
        nonlocal settled_total
        while not stop.is_set():
            reservation = reserved(await ledger.reserve(plan(quotas, clock())))
            await asyncio.sleep(rng.uniform(0, 0.01))
            output = rng.randint(0, 400)
            settlement = await ledger.settle(reservation, 100, output)
            assert settlement in ("settled", "deferred")
            outcomes[f"{reservation.origin}/{settlement}"] = (
                outcomes.get(f"{reservation.origin}/{settlement}", 0) + 1
            )
            settled_total += 100 + output

    workers = [asyncio.create_task(worker()) for _ in range(20)]
    await asyncio.sleep(0.3)
    server.pause()
    assert await async_wait_for(lambda: ledger.degraded, 5)
    await asyncio.sleep(0.5)
    server.resume()
    assert await async_wait_for(lambda: not ledger.degraded, 10)
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*workers), 10)

    assert outcomes.get("local/settled", 0) > 0  # requests were served during the outage
    assert outcomes.get("store/settled", 0) > 0
    assert await async_wait_for(lambda: ledger.pending == 0, 5)
    # A reservation whose answer was lost in the freeze still holds its worst case in the store,
    # until its TTL: then it is given back, and only actual usage remains.
    clock.advance(61)
    await ledger.sweep("dgfip")
    assert await ledger.outstanding() == 0
    assert await ledger.usage(plan(quotas, clock())) == (settled_total,)


async def test_fail_open_keeps_serving_while_redis_stops_and_restarts(
    server: RedisServer, clock: FakeClock, opened: list[ResilientLedger]
) -> None:
    ledger = await resilient(server, clock, "fail_open", opened)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**12}})
    local_total = 0
    served = 0
    failures: list[BaseException] = []
    stop = asyncio.Event()

    async def worker(seed: int) -> None:
        nonlocal local_total, served
        rng = random.Random(seed)
        while not stop.is_set():
            try:
                reservation = reserved(await ledger.reserve(plan(quotas, clock())))
                await asyncio.sleep(rng.uniform(0, 0.01))
                output = rng.randint(0, 400)
                await ledger.settle(reservation, 100, output)
            except Exception as exc:  # every failure is a test failure, reported below
                failures.append(exc)
                return
            served += 1
            if reservation.origin == "local":
                local_total += 100 + output

    workers = [asyncio.create_task(worker(seed)) for seed in range(20)]
    await asyncio.sleep(0.2)
    server.stop()
    assert await async_wait_for(lambda: ledger.degraded, 5)
    served_before = served
    await asyncio.sleep(0.3)
    assert served > served_before  # served during the outage
    server.start()
    assert await async_wait_for(lambda: not ledger.degraded, 10)
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*workers), 10)
    assert failures == []
    assert await async_wait_for(lambda: ledger.pending == 0, 5)
    assert local_total > 0
    # What the restarted store has: at least every local usage (plus what was settled in it since).
    assert (await ledger.usage(plan(quotas, clock())))[0] >= local_total


async def test_a_full_queue_drops_the_oldest_and_counts_it(
    server: RedisServer, clock: FakeClock, opened: list[ResilientLedger]
) -> None:
    store = RedisLedger.from_url(server.url, timeout=0.3, clock=clock)
    ledger = await ResilientLedger.open(store, on_store_error="fail_closed", clock=clock, max_pending=2)
    opened.append(ledger)
    quotas: Planner = planner(**SERVICE)
    held = [reserved(await ledger.reserve(plan(quotas, clock(), output_tokens=0))) for _ in range(3)]
    server.stop()
    for reservation in held:
        assert await ledger.settle(reservation, 1, 0) == "deferred"
    assert ledger.pending == 2 and ledger.dropped == 1
    server.start()
    assert await async_wait_for(lambda: not ledger.degraded and not ledger.pending, 5)
    assert await ledger.usage(plan(quotas, clock())) == (2,)  # the two kept, not the dropped one
