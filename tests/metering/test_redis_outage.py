"""The Redis store going away under the recorder: nothing recorded meanwhile is lost (within the
buffer's bound), nothing is counted twice, and what the bound drops is counted.

The test's redis-server keeps nothing on disk: what was written before a stop is gone after the
start. Each test therefore checks the records made during and after the outage, exactly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis.asyncio as redis

from gateway.metering import UsageRecorder, usage_report
from gateway.metering.redis_store import RedisUsageStore
from gateway.request_record import RequestRecord
from tests.metering.conftest import by_request, expected_rows, generate_records, read_all
from tests.redis_server import RedisServer, redis_server
from tests.waiting import async_wait_for


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with redis_server() as running:
        yield running


@pytest_asyncio.fixture
async def store(server: RedisServer) -> AsyncIterator[RedisUsageStore]:
    opened = RedisUsageStore.from_url(server.url, prefix=f"t{uuid.uuid4().hex[:12]}", timeout=0.3)
    yield opened
    await opened.close()


async def record_slowly(recorder: UsageRecorder, records: list[RequestRecord], chunk: int = 250) -> None:
    """As requests would come: a chunk at a time, letting the flusher try in between."""
    for start in range(0, len(records), chunk):
        for record in records[start : start + chunk]:
            recorder.record(record)
        await asyncio.sleep(0.02)


async def assert_stored_exactly(store: RedisUsageStore, records: list[RequestRecord]) -> None:
    for month in ("2026-10", "2026-11"):
        report = await usage_report(store, month, by="service")
        expected = expected_rows(records, month, report.columns)
        assert {row.key: row.requests for row in report.rows} == {
            k: v["requests"] for k, v in expected.items()
        }
        assert {row.key: row.cost_micro_eur for row in report.rows} == {
            key: row["cost_micro_eur"] for key, row in expected.items()
        }
    stored = await read_all(store, "2026-10") + await read_all(store, "2026-11")
    inside = [record for record in records if record in set(stored)]
    assert by_request(stored) == by_request(inside) and len(stored) == len(set(stored))


@pytest.mark.asyncio
async def test_records_made_while_redis_is_down_are_written_when_it_returns(
    server: RedisServer, store: RedisUsageStore
) -> None:
    generated = generate_records(4000, seed=99)
    before, during, after = generated[:200], generated[200:3200], generated[3200:]
    recorder = UsageRecorder(
        store, flush_interval=0.05, batch_size=500, max_buffered=5000, max_retry_delay=0.2
    )
    await recorder.start()
    try:
        await record_slowly(recorder, before)
        assert await async_wait_for(lambda: recorder.stats().written == 200, 3)

        server.stop()
        await record_slowly(recorder, during)
        assert await async_wait_for(lambda: recorder.stats().failed_writes >= 2, 5)
        stats = recorder.stats()
        assert not stats.store_available and stats.buffered == 3000 and stats.dropped == 0

        server.start()  # empty: `before` is gone with the old process, not with the gateway
        await record_slowly(recorder, after)
        assert await async_wait_for(lambda: recorder.stats().buffered == 0, 10)
        assert recorder.stats().store_available and recorder.stats().dropped == 0
        assert recorder.stats().written == 4000
    finally:
        await recorder.close()
    await assert_stored_exactly(store, during + after)


class AnswerCutter:
    """A TCP proxy in front of Redis that, `cuts` times, lets a write script through and then cuts the
    connection before its answer comes back: Redis wrote, the gateway does not know it did."""

    def __init__(self, redis_port: int) -> None:
        self.redis_port = redis_port
        self.cuts = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection("127.0.0.1", self.redis_port)
        cut = asyncio.Event()

        async def upstream() -> None:
            while data := await client_in.read(65536):
                server_out.write(data)
                await server_out.drain()
                if b"EVALSHA" in data.upper() and self.cuts > 0 and not cut.is_set():
                    self.cuts -= 1
                    cut.set()  # no answer goes back from now on
                    await asyncio.sleep(0.1)  # the rest of the pipeline reaches Redis, which runs it
                    break

        async def downstream() -> None:
            while data := await server_in.read(65536):
                if not cut.is_set():
                    client_out.write(data)
                    await client_out.drain()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        self._tasks.update(tasks)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.difference_update(tasks)
            for writer in (client_out, server_out):
                writer.close()


@pytest.mark.asyncio
async def test_writes_whose_answers_were_lost_are_not_counted_twice(server: RedisServer) -> None:
    cutter = AnswerCutter(server.port)
    await cutter.start()
    prefix = f"t{uuid.uuid4().hex[:12]}"
    store = RedisUsageStore.from_url(f"redis://127.0.0.1:{cutter.port}/0", prefix=prefix, timeout=0.5)
    generated = generate_records(1500, seed=100)
    recorder = UsageRecorder(
        store, flush_interval=0.05, batch_size=500, max_buffered=5000, max_retry_delay=0.1
    )
    await recorder.start()
    try:
        cutter.cuts = 5  # more than redis-py's own two quick retries: the recorder retries too
        await record_slowly(recorder, generated)
        assert await async_wait_for(lambda: recorder.stats().buffered == 0, 10)
        assert cutter.cuts == 0 and recorder.stats().failed_writes >= 1
    finally:
        await recorder.close()
        await store.close()
        await cutter.close()
    direct = RedisUsageStore.from_url(server.url, prefix=prefix)
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        await assert_stored_exactly(direct, generated)
        calls = (await client.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)
        markers = len([key async for key in client.scan_iter(match=f"{prefix}:usage:*:batch:*", count=1000)])
    finally:
        await client.aclose()
        await direct.close()
    # One marker per share of a batch (one department, one month) written; the scripts ran more often
    # than that: the cut attempts did write, and their retries added nothing.
    assert calls > markers > 0


@pytest.mark.asyncio
async def test_an_outage_longer_than_the_buffer_drops_the_excess_and_counts_it(
    server: RedisServer, store: RedisUsageStore, caplog: pytest.LogCaptureFixture
) -> None:
    generated = generate_records(1500, seed=101)
    recorder = UsageRecorder(
        store, flush_interval=0.05, batch_size=250, max_buffered=1000, max_retry_delay=0.2
    )
    await recorder.start()
    try:
        server.stop()
        with caplog.at_level("ERROR", logger="gateway.metering"):
            await record_slowly(recorder, generated)
        assert recorder.stats().dropped == 500 and recorder.stats().buffered == 1000
        assert any("usage records dropped (the buffer is full)" in message for message in caplog.messages)
        server.start()
        assert await async_wait_for(lambda: recorder.stats().buffered == 0, 10)
    finally:
        await recorder.close()
    await assert_stored_exactly(store, generated[:1000])  # the oldest are kept
