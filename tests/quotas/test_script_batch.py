"""The script calls of one loop iteration go to Redis in one pipeline (gateway/quotas/script_batch.py):
fewer round trips, and still each caller's own reply, own error, own cancellation."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeAlias

import pytest
import pytest_asyncio
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from gateway.quotas import QuotaStoreError, Refusal, Reservation, script_batch
from gateway.quotas.redis_ledger import RedisLedger
from gateway.quotas.redis_scripts import FINISH, RESERVE
from gateway.quotas.script_batch import ScriptBatcher
from gateway.storage.redis_client import RedisClient
from tests.quotas.conftest import FakeClock, plan, planner, reserved
from tests.redis_server import ClusterServers, RedisServer, SentinelServers, redis_server
from tests.redis_topologies import cluster_connection, sentinel_connection
from tests.waiting import async_wait_for

pytestmark = pytest.mark.asyncio

ECHO = "return {KEYS[1], ARGV[1]}"
INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
WAIT = 10.0
"""Upper bound of every wait in these tests: a hang fails the test instead of blocking the run."""


def _prefix() -> str:
    return f"b{uuid.uuid4().hex[:12]}"


def _batcher(ledger: RedisLedger) -> ScriptBatcher:
    batcher = ledger.script_batcher
    assert batcher is not None
    return batcher


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A private redis-server, for the tests that flush, stop or freeze it."""
    with redis_server() as running:
        yield running


@pytest_asyncio.fixture
async def client(redis_url: str) -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url, decode_responses=True)
    yield connection
    await connection.aclose()


Closable: TypeAlias = RedisLedger | ScriptBatcher | redis.Redis


@pytest_asyncio.fixture
async def opened() -> AsyncIterator[list[Closable]]:
    """Ledgers, batchers and clients to close at the end, whatever the test did: the last opened
    first (a batcher before its client)."""
    things: list[Closable] = []
    yield things
    for thing in reversed(things):
        await (thing.close() if isinstance(thing, RedisLedger) else thing.aclose())


async def ledger_on(
    url: str, clock: FakeClock, opened: list[Closable], *, timeout: float = 2.0
) -> RedisLedger:
    """A ledger whose scripts the server already knows, so that the batcher's counters show no
    NOSCRIPT retry (the first batches on a fresh server would have one)."""
    ledger = RedisLedger.from_url(url, prefix=_prefix(), clock=clock, timeout=timeout)
    opened.append(ledger)
    await preload(ledger._client, RESERVE, FINISH)
    return ledger


async def preload(client: RedisClient, *scripts: str) -> None:
    for script in scripts:
        await client.script_load(script)


# -- Through the ledger ---------------------------------------------------------------------------


async def test_a_burst_of_reserves_admits_exactly_the_limit_in_a_few_pipelines(
    redis_url: str, clock: FakeClock, opened: list[Closable]
) -> None:
    ledger = await ledger_on(redis_url, clock, opened)
    batcher = _batcher(ledger)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**9, "max_concurrent": 50}})
    request = plan(quotas, clock())

    outcomes = await asyncio.wait_for(asyncio.gather(*(ledger.reserve(request) for _ in range(200))), WAIT)
    admitted = [outcome for outcome in outcomes if isinstance(outcome, Reservation)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, Refusal)]
    assert len(admitted) == 50 and len(refusals) == 150
    assert {refusal.counter.kind for refusal in refusals} == {"max_concurrent"}
    assert len({reservation.id for reservation in admitted}) == 50
    # 200 calls in one loop iteration: 128, then the other 72, not 200 round trips.
    assert batcher.calls_sent == 200
    assert batcher.pipelines_sent == 2

    costs = [(10 + index, 3 * index) for index in range(50)]
    settlements = await asyncio.wait_for(
        asyncio.gather(
            *(ledger.settle(reservation, *cost) for reservation, cost in zip(admitted, costs, strict=True))
        ),
        WAIT,
    )
    assert settlements == ["settled"] * 50
    assert batcher.pipelines_sent == 3  # the 50 settles: one pipeline
    assert await ledger.usage(request) == (sum(i + o for i, o in costs), 0)
    assert await ledger.outstanding("dgfip") == 0


async def test_each_caller_gets_its_own_reservation(
    redis_url: str, clock: FakeClock, opened: list[Closable]
) -> None:
    """Sixty reserves of different sizes in one batch: the running total each one was answered rises,
    from the one before it, by exactly its own amount; a mix-up of replies between callers would not."""
    ledger = await ledger_on(redis_url, clock, opened)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**9}})
    plans = [plan(quotas, clock(), input_tokens=0, output_tokens=7 * (index + 1)) for index in range(60)]
    outcomes = await asyncio.wait_for(asyncio.gather(*(ledger.reserve(one) for one in plans)), WAIT)
    reservations = [reserved(outcome) for outcome in outcomes]
    assert [reservation.amount for reservation in reservations] == [one.amount for one in plans]
    assert len({reservation.amount for reservation in reservations}) == 60
    by_total = sorted(reservations, key=lambda reservation: reservation.used[0])
    previous = 0
    for reservation in by_total:
        assert reservation.used[0] - previous == reservation.amount
        previous = reservation.used[0]
    assert _batcher(ledger).pipelines_sent == 1
    # Each reservation is its own in the store: settled once, then a duplicate.
    assert await asyncio.gather(*(ledger.settle(one, 0, 1) for one in reservations)) == ["settled"] * 60
    assert await asyncio.gather(*(ledger.settle(one, 0, 1) for one in reservations)) == ["duplicate"] * 60
    assert await ledger.usage(plans[0]) == (60,)


async def test_a_lone_call_is_answered(redis_url: str, clock: FakeClock, opened: list[Closable]) -> None:
    ledger = await ledger_on(redis_url, clock, opened)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 1000}})
    reservation = reserved(await asyncio.wait_for(ledger.reserve(plan(quotas, clock())), WAIT))
    assert await asyncio.wait_for(ledger.settle(reservation, 1, 2), WAIT) == "settled"
    assert await asyncio.wait_for(ledger.usage(plan(quotas, clock())), WAIT) == (3,)
    batcher = _batcher(ledger)
    assert batcher.pipelines_sent == batcher.calls_sent == 3


async def test_a_settlement_rides_with_the_next_reservation(
    redis_url: str, clock: FakeClock, opened: list[Closable], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One request at a time: its settlement waits for the next request's reservation and goes in
    the same pipeline, ahead of it, so that a service at its concurrency limit is admitted again."""
    monkeypatch.setattr(script_batch, "DEFER_SECONDS", 5.0)
    monkeypatch.setattr(script_batch, "_IDLE_SECONDS", 20.0)
    ledger = await ledger_on(redis_url, clock, opened)
    batcher = _batcher(ledger)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**6, "max_concurrent": 1}})
    first = reserved(await asyncio.wait_for(ledger.reserve(plan(quotas, clock())), WAIT))
    settling = asyncio.ensure_future(ledger.settle(first, 10, 5))
    await asyncio.sleep(0.1)
    assert not settling.done()  # deferred, not sent alone
    assert batcher.pipelines_sent == 1
    second = reserved(await asyncio.wait_for(ledger.reserve(plan(quotas, clock())), WAIT))
    assert await asyncio.wait_for(settling, WAIT) == "settled"
    assert batcher.pipelines_sent == 2  # the settlement and the second reservation together
    assert batcher.calls_sent == 3
    assert await asyncio.wait_for(ledger.settle(second, 1, 1), WAIT) == "settled"


async def test_a_deferred_settlement_leaves_on_its_own_when_nothing_comes(
    redis_url: str, clock: FakeClock, opened: list[Closable], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script_batch, "DEFER_SECONDS", 0.3)
    monkeypatch.setattr(script_batch, "_IDLE_SECONDS", 20.0)
    ledger = await ledger_on(redis_url, clock, opened)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**6}})
    reservation = reserved(await asyncio.wait_for(ledger.reserve(plan(quotas, clock())), WAIT))
    settling = asyncio.ensure_future(ledger.settle(reservation, 10, 5))
    await asyncio.sleep(0.05)
    assert not settling.done()
    assert await asyncio.wait_for(settling, WAIT) == "settled"
    assert await ledger.usage(plan(quotas, clock())) == (15,)


async def test_settlements_are_not_deferred_without_reservations_going_out(
    redis_url: str, clock: FakeClock, opened: list[Closable], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay of queued settlements after an outage, one after the other, must not wait for
    reservations that do not come: each would wait DEFER_SECONDS."""
    monkeypatch.setattr(script_batch, "DEFER_SECONDS", 30.0)
    monkeypatch.setattr(script_batch, "_IDLE_SECONDS", 0.05)
    ledger = await ledger_on(redis_url, clock, opened)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**6}})
    reservations = [reserved(await ledger.reserve(plan(quotas, clock()))) for _ in range(5)]
    await asyncio.sleep(0.1)
    for reservation in reservations:
        assert await asyncio.wait_for(ledger.settle(reservation, 1, 1), WAIT) == "settled"


async def test_closing_sends_the_deferred_settlements(
    redis_url: str, clock: FakeClock, opened: list[Closable], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script_batch, "DEFER_SECONDS", 30.0)
    monkeypatch.setattr(script_batch, "_IDLE_SECONDS", 60.0)
    ledger = await ledger_on(redis_url, clock, opened)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**6}})
    reservation = reserved(await ledger.reserve(plan(quotas, clock())))
    settling = asyncio.ensure_future(ledger.settle(reservation, 7, 3))
    await asyncio.sleep(0.05)
    assert not settling.done()
    await asyncio.wait_for(_batcher(ledger).aclose(), WAIT)
    assert await asyncio.wait_for(settling, WAIT) == "settled"
    reader = RedisLedger.from_url(redis_url, prefix=ledger._prefix, clock=clock)
    opened.append(reader)
    assert await reader.usage(plan(quotas, clock())) == (10,)


async def test_a_flushed_script_cache_is_reloaded_transparently(
    server: RedisServer, clock: FakeClock, opened: list[Closable]
) -> None:
    ledger = await ledger_on(server.url, clock, opened)
    batcher = _batcher(ledger)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**6}})
    reserved(await ledger.reserve(plan(quotas, clock())))
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        await admin.script_flush()
        sent = batcher.pipelines_sent
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(ledger.reserve(plan(quotas, clock())) for _ in range(20))), WAIT
        )
        reservations = [reserved(outcome) for outcome in outcomes]
        # NOSCRIPT for the whole batch, then SCRIPT LOAD and the 20 calls again: one more pipeline.
        assert batcher.pipelines_sent == sent + 2

        await admin.script_flush()
        settlements = await asyncio.wait_for(
            asyncio.gather(*(ledger.settle(reservation, 1, 0) for reservation in reservations)), WAIT
        )
        assert settlements == ["settled"] * 20
        assert await ledger.outstanding("dgfip") == 1  # the first reservation, never settled
    finally:
        await admin.aclose()


async def test_a_failing_call_fails_only_its_caller(
    redis_url: str,
    clock: FakeClock,
    client: redis.Redis,
    opened: list[Closable],
) -> None:
    ledger = await ledger_on(redis_url, clock, opened)
    quotas = planner(departments={"dgfip": {"tokens_per_day": 10**6}, "broken": {"tokens_per_day": 10**6}})
    # The department's set of open reservations is a string: its script fails (WRONGTYPE).
    await client.set(f"{ledger._base('broken')}open", "not a sorted set")
    plans = [plan(quotas, clock(), department="broken" if index == 5 else "dgfip") for index in range(10)]
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(ledger.reserve(one) for one in plans), return_exceptions=True), WAIT
    )
    assert _batcher(ledger).pipelines_sent == 1  # the failing call shared its pipeline
    failure = outcomes.pop(5)
    assert isinstance(failure, QuotaStoreError) and isinstance(failure.__cause__, ResponseError)
    assert "WRONGTYPE" in str(failure)
    assert all(isinstance(outcome, Reservation) for outcome in outcomes)
    assert await ledger.outstanding("dgfip") == 9


async def test_a_stopped_redis_fails_every_caller_of_the_batch(
    server: RedisServer, clock: FakeClock, opened: list[Closable]
) -> None:
    ledger = await ledger_on(server.url, clock, opened, timeout=0.3)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**6}})
    held = [reserved(await ledger.reserve(plan(quotas, clock()))) for _ in range(5)]

    server.stop()
    calls = [ledger.reserve(plan(quotas, clock())) for _ in range(20)]
    failures = await asyncio.wait_for(
        asyncio.gather(
            *calls, *(ledger.settle(reservation, 1, 1) for reservation in held), return_exceptions=True
        ),
        WAIT,
    )
    assert all(isinstance(failure, QuotaStoreError) for failure in failures), failures
    causes = [failure.__cause__ for failure in failures if isinstance(failure, QuotaStoreError)]
    assert all(isinstance(cause, RedisConnectionError) for cause in causes), causes
    assert len({id(cause) for cause in causes}) == 25  # each caller its own exception

    server.start()  # empty: the scripts must be loaded again, transparently
    reserved(await asyncio.wait_for(ledger.reserve(plan(quotas, clock())), WAIT))


async def test_a_frozen_redis_times_out_every_caller_of_the_batch(
    server: RedisServer, clock: FakeClock, opened: list[Closable]
) -> None:
    ledger = await ledger_on(server.url, clock, opened, timeout=0.2)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**6}})
    reserved(await ledger.reserve(plan(quotas, clock())))
    server.pause()
    try:
        failures = await asyncio.wait_for(
            asyncio.gather(
                *(ledger.reserve(plan(quotas, clock())) for _ in range(10)), return_exceptions=True
            ),
            WAIT,
        )
    finally:
        server.resume()
    assert all(isinstance(failure, QuotaStoreError) for failure in failures), failures
    assert all("Timeout" in str(failure) for failure in failures), failures
    reserved(await asyncio.wait_for(ledger.reserve(plan(quotas, clock())), WAIT))


async def test_a_caller_cancelled_before_its_batch_leaves_is_not_sent(
    redis_url: str, clock: FakeClock, opened: list[Closable]
) -> None:
    ledger = await ledger_on(redis_url, clock, opened)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**6}})
    tasks = [asyncio.create_task(ledger.reserve(plan(quotas, clock()))) for _ in range(10)]
    await asyncio.sleep(0)  # every task has queued its call; the flush runs in the next iteration
    for index in (1, 4, 7):
        tasks[index].cancel()
    _, pending = await asyncio.wait(tasks, timeout=WAIT)
    assert not pending
    for index, task in enumerate(tasks):
        if index in (1, 4, 7):
            assert task.cancelled()
        else:
            reserved(task.result())
    assert _batcher(ledger).calls_sent == 7
    assert await ledger.outstanding("dgfip") == 7


# -- The batcher itself ---------------------------------------------------------------------------


async def test_calls_keep_their_own_replies_and_batches_are_capped(
    client: redis.Redis, opened: list[Closable]
) -> None:
    batcher = ScriptBatcher(client, max_batch=16)
    opened.append(batcher)
    echo = batcher.script(ECHO)
    await preload(client, ECHO)
    futures = [echo(keys=[f"k{index}"], args=[f"v{index}"]) for index in range(100)]
    replies = await asyncio.wait_for(asyncio.gather(*futures), WAIT)
    assert replies == [[f"k{index}", f"v{index}"] for index in range(100)]
    assert batcher.calls_sent == 100
    assert batcher.pipelines_sent == 7  # 6 x 16 + 4


async def test_batches_of_several_scripts_and_errors_per_call(
    server: RedisServer, opened: list[Closable]
) -> None:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    batcher = ScriptBatcher(client)
    opened += [client, batcher]
    echo, incr = batcher.script(ECHO), batcher.script(INCR)
    key = f"{_prefix()}:n"
    await client.rpush(f"{key}:list", "x")
    await client.script_flush()  # neither script known: both are loaded, in the retry's pipeline
    calls = [
        incr(keys=[key], args=[2]),
        echo(keys=["a"], args=["b"]),
        incr(keys=[f"{key}:list"], args=[1]),  # WRONGTYPE
        incr(keys=[key], args=[3]),
    ]
    replies = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), WAIT)
    assert replies[0] == 2 and replies[1] == ["a", "b"] and replies[3] == 5
    assert isinstance(replies[2], ResponseError) and "WRONGTYPE" in str(replies[2])
    assert batcher.pipelines_sent == 2 and batcher.calls_sent == 8


async def test_a_caller_cancelled_in_flight_leaves_the_others_alone(
    server: RedisServer, opened: list[Closable]
) -> None:
    connection = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=WAIT)
    batcher = ScriptBatcher(connection)
    opened += [connection, batcher]
    echo = batcher.script(ECHO)
    try:
        await asyncio.wait_for(echo(keys=["warm"], args=["up"]), WAIT)  # loaded, connected
        sent = batcher.pipelines_sent
        server.pause()  # the batch leaves, its replies wait
        callers = [
            asyncio.create_task(_awaited(echo(keys=[f"k{index}"], args=[index]))) for index in range(6)
        ]
        assert await async_wait_for(lambda: batcher.pipelines_sent == sent + 1, WAIT)
        await asyncio.sleep(0.05)  # on the wire: the two below are cancelled while they wait for Redis
        callers[2].cancel()
        callers[3].cancel()
        server.resume()
        _, pending = await asyncio.wait(callers, timeout=WAIT)
        assert not pending
        assert callers[2].cancelled() and callers[3].cancelled()
        assert [callers[index].result() for index in (0, 1, 4, 5)] == [
            [f"k{index}", str(index)] for index in (0, 1, 4, 5)
        ]
        assert await asyncio.wait_for(echo(keys=["after"], args=["all"]), WAIT) == ["after", "all"]
        assert batcher.pipelines_sent == sent + 2
    finally:
        server.resume()


async def _awaited(future: asyncio.Future[object]) -> object:
    return await future


def flush_tasks() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if "ScriptBatcher._flush" in repr(task.get_coro())]


async def test_close_answers_queued_calls_and_refuses_new_ones(client: redis.Redis) -> None:
    batcher = ScriptBatcher(client)
    echo = batcher.script(ECHO)
    futures = [echo(keys=["k"], args=[index]) for index in range(5)]
    assert flush_tasks()
    await asyncio.wait_for(batcher.aclose(), WAIT)
    assert not flush_tasks()
    assert [future.result() for future in futures] == [["k", str(index)] for index in range(5)]
    with pytest.raises(RedisConnectionError):
        echo(keys=["k"], args=["late"])


async def test_close_abandons_a_batch_redis_does_not_answer(
    server: RedisServer, opened: list[Closable]
) -> None:
    connection = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=WAIT)
    batcher = ScriptBatcher(connection, close_timeout=0.2)
    opened += [connection, batcher]
    echo = batcher.script(ECHO)
    try:
        await asyncio.wait_for(echo(keys=["warm"], args=["up"]), WAIT)
        sent = batcher.pipelines_sent
        server.pause()
        futures = [echo(keys=["k"], args=[index]) for index in range(4)]
        assert await async_wait_for(lambda: batcher.pipelines_sent == sent + 1, WAIT)
        started = time.monotonic()
        await asyncio.wait_for(batcher.aclose(), WAIT)
        assert time.monotonic() - started < 2
        assert not flush_tasks()
        for future in futures:
            assert isinstance(future.exception(), RedisConnectionError)
    finally:
        server.resume()


async def test_a_closed_ledger_refuses_with_a_store_error(
    redis_url: str, clock: FakeClock, opened: list[Closable]
) -> None:
    ledger = await ledger_on(redis_url, clock, opened)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 1000}})
    await ledger.close()
    with pytest.raises(QuotaStoreError):
        await ledger.reserve(plan(quotas, clock()))


# -- Held connections ---------------------------------------------------------------------------


def _pooled_client(url: str, size: int, name: str) -> redis.Redis:
    """A client whose pool waits at most 0.5 s for a free connection, then raises."""
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=size, timeout=0.5, client_name=name, decode_responses=True
    )
    return redis.Redis.from_pool(pool)


async def _connections_named(url: str, name: str) -> int:
    observer = redis.Redis.from_url(url, decode_responses=True)
    try:
        clients = await observer.client_list()
    finally:
        await observer.aclose()
    return sum(1 for client in clients if client["name"] == name)


async def _take_all(client: redis.Redis, count: int) -> None:
    """Check out `count` connections at once (a held one would make the last wait, then fail)."""
    pool = client.connection_pool
    taken = [await pool.get_connection() for _ in range(count)]  # type: ignore[no-untyped-call]
    for connection in taken:
        await pool.release(connection)


async def test_round_trips_one_after_another_keep_one_connection(
    redis_url: str, opened: list[Closable], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _prefix()
    connection = _pooled_client(redis_url, 8, name)
    batcher = ScriptBatcher(connection)
    opened += [connection, batcher]
    await preload(connection, ECHO)
    pool = connection.connection_pool
    checkouts = 0
    get_connection = pool.get_connection

    async def counted() -> Any:
        nonlocal checkouts
        checkouts += 1
        return await get_connection()  # type: ignore[no-untyped-call]

    monkeypatch.setattr(pool, "get_connection", counted)
    echo = batcher.script(ECHO)
    for index in range(20):
        assert await asyncio.wait_for(echo(keys=["k"], args=[index]), WAIT) == ["k", str(index)]
    assert batcher.pipelines_sent == 20
    # Taken from the pool once, then held: not twenty checkouts and returns.
    assert checkouts == 1
    assert await _connections_named(redis_url, name) == 1


async def test_a_closed_batcher_gives_its_connections_back(redis_url: str, opened: list[Closable]) -> None:
    connection = _pooled_client(redis_url, 4, _prefix())
    batcher = ScriptBatcher(connection)
    opened.append(connection)
    echo = batcher.script(ECHO)
    await asyncio.wait_for(asyncio.gather(*(echo(keys=["k"], args=[index]) for index in range(10))), WAIT)
    await asyncio.wait_for(echo(keys=["k"], args=["again"]), WAIT)
    await batcher.aclose()
    await asyncio.wait_for(_take_all(connection, 4), WAIT)


async def test_a_small_pool_is_left_whole_to_the_others(redis_url: str, opened: list[Closable]) -> None:
    connection = _pooled_client(redis_url, 3, _prefix())
    batcher = ScriptBatcher(connection)
    opened += [connection, batcher]
    echo = batcher.script(ECHO)
    await asyncio.wait_for(echo(keys=["k"], args=["x"]), WAIT)
    await asyncio.wait_for(_take_all(connection, 3), WAIT)  # the batcher, still open, holds none


async def test_a_held_connection_outlives_a_redis_restart(
    server: RedisServer, clock: FakeClock, opened: list[Closable]
) -> None:
    ledger = await ledger_on(server.url, clock, opened, timeout=0.5)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**6}})
    reserved(await asyncio.wait_for(ledger.reserve(plan(quotas, clock())), WAIT))
    server.stop()
    server.start()  # the held connection is now dead, and the server has forgotten the scripts
    reserved(await asyncio.wait_for(ledger.reserve(plan(quotas, clock())), WAIT))


# -- Topologies ---------------------------------------------------------------------------------


async def test_sentinel_clients_batch_too(
    redis_sentinel_servers: SentinelServers, clock: FakeClock, opened: list[Closable]
) -> None:
    connection = sentinel_connection(redis_sentinel_servers)
    ledger = RedisLedger.from_url(connection.url, prefix=_prefix(), clock=clock, topology=connection.topology)
    opened.append(ledger)
    await preload(ledger._client, RESERVE)
    quotas = planner(services={"dgfip/svc": {"tokens_per_day": 10**6}})
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(ledger.reserve(plan(quotas, clock())) for _ in range(40))), WAIT
    )
    assert all(isinstance(outcome, Reservation) for outcome in outcomes)
    assert _batcher(ledger).pipelines_sent == 1


async def test_cluster_clients_call_each_script_alone(
    redis_cluster_servers: ClusterServers, clock: FakeClock, opened: list[Closable]
) -> None:
    connection = cluster_connection(redis_cluster_servers)
    ledger = RedisLedger.from_url(connection.url, prefix=_prefix(), clock=clock, topology=connection.topology)
    opened.append(ledger)
    assert ledger.script_batcher is None
    quotas = planner(departments={f"dept-{index}": {"tokens_per_day": 10**6} for index in range(6)})
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(ledger.reserve(plan(quotas, clock(), department=f"dept-{i}")) for i in range(6))),
        WAIT,
    )
    assert all(isinstance(outcome, Reservation) for outcome in outcomes)
