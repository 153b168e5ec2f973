"""The recorder: cheap `record()`, batched background writes, retries, a bounded buffer, clean close."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

from gateway.metering import (
    UsageRecorder,
    UsageStoreError,
    usage_report,
)
from gateway.request_record import RequestRecord
from tests.metering.conftest import NOVEMBER_START, Backend, expected_rows, generate_records, make_record
from tests.metering.fakes import MemoryStore


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout} s"
        await asyncio.sleep(0.005)
    return time.monotonic() - start


def records(count: int, start: int = 0) -> list[RequestRecord]:
    return [
        make_record(NOVEMBER_START + start + index, request_id=f"r{start + index}") for index in range(count)
    ]


@pytest.mark.asyncio
async def test_records_are_written_in_the_background_within_the_interval() -> None:
    store = MemoryStore()
    recorder = UsageRecorder(store, flush_interval=0.05)
    await recorder.start()
    try:
        for record in records(10):
            recorder.record(record)
        assert store.stored == []  # record() wrote nothing itself
        assert recorder.stats().buffered == 10
        waited = await until(lambda: len(store.stored) == 10)
        assert waited < 0.5
        assert store.stored == records(10)
        stats = recorder.stats()
        assert (stats.buffered, stats.written, stats.dropped, stats.store_available) == (0, 10, 0, True)
    finally:
        await recorder.close()
    assert not store.closed  # not owned


@pytest.mark.asyncio
async def test_a_full_batch_is_written_without_waiting_for_the_interval() -> None:
    store = MemoryStore()
    recorder = UsageRecorder(store, flush_interval=30, batch_size=100, owns_store=True)
    await recorder.start()
    for record in records(250):
        recorder.record(record)
    await until(lambda: len(store.stored) == 250, timeout=1.0)  # not 30 s
    assert [len(batch) for batch in store.batches.values()] == [100, 100, 50]
    await recorder.close()
    assert store.stored == records(250) and store.closed


@pytest.mark.asyncio
async def test_close_writes_everything_still_buffered_and_refuses_later_records() -> None:
    store = MemoryStore()
    recorder = UsageRecorder(store, flush_interval=60, batch_size=500)
    await recorder.start()
    for record in records(1234):
        recorder.record(record)
    await recorder.close()
    assert store.stored == records(1234)
    recorder.record(make_record(NOVEMBER_START))
    assert recorder.stats().dropped == 1 and recorder.stats().written == 1234


@pytest.mark.asyncio
async def test_a_write_whose_answer_was_lost_is_retried_with_the_same_batch_id() -> None:
    store = MemoryStore()
    store.lose_next_answer = True
    recorder = UsageRecorder(store, flush_interval=60)
    for record in records(10):
        recorder.record(record)
    with pytest.raises(UsageStoreError):
        await recorder.flush()
    assert recorder.stats().buffered == 10 and not recorder.stats().store_available
    await recorder.flush()
    assert len(store.attempts) == 2 and store.attempts[0] == store.attempts[1]
    assert store.stored == records(10)  # once
    assert recorder.stats().written == 10 and recorder.stats().failed_writes == 1
    await recorder.close()


@pytest.mark.asyncio
async def test_the_buffer_is_bounded_and_what_it_drops_is_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    store.failing = True
    recorder = UsageRecorder(
        store, flush_interval=0.01, batch_size=100, max_buffered=1000, max_retry_delay=0.05
    )
    await recorder.start()
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.metering"):
            for index, record in enumerate(records(1500)):
                recorder.record(record)
                if index % 100 == 0:
                    await asyncio.sleep(0.002)  # let the flusher try and fail
            await until(lambda: recorder.stats().failed_writes >= 2)
        stats = recorder.stats()
        assert (stats.buffered, stats.dropped, stats.store_available) == (1000, 500, False)
        assert any("usage records dropped" in message for message in caplog.messages)
        assert any("cannot write usage" in message for message in caplog.messages)
        store.failing = False
        await until(lambda: len(store.stored) == 1000)
        assert store.stored == records(1000)  # the oldest were kept, in order
        assert recorder.stats().store_available and recorder.stats().buffered == 0
    finally:
        await recorder.close()


@pytest.mark.asyncio
async def test_a_failing_store_is_retried_with_backoff_not_a_busy_loop() -> None:
    store = MemoryStore()
    store.failing = True
    recorder = UsageRecorder(
        store, flush_interval=0.01, batch_size=10, max_retry_delay=0.1, close_timeout=0.1
    )
    await recorder.start()
    for record in records(200):  # every record past the tenth asks for a flush
        recorder.record(record)
        await asyncio.sleep(0)
    await asyncio.sleep(0.5)
    assert 2 <= len(store.attempts) <= 15
    await recorder.close()


@pytest.mark.asyncio
async def test_close_gives_up_after_its_timeout_and_says_what_was_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    store.delay = 10.0  # hangs rather than fails
    recorder = UsageRecorder(store, flush_interval=60, close_timeout=0.3)
    await recorder.start()
    for record in records(42):
        recorder.record(record)
    start = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="gateway.metering"):
        await recorder.close()
    assert time.monotonic() - start < 2.0
    assert recorder.stats().dropped == 42 and recorder.stats().buffered == 0
    assert any("42 usage records lost" in message for message in caplog.messages)


@pytest.mark.asyncio
async def test_a_malformed_record_is_dropped_alone(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    recorder = UsageRecorder(store, flush_interval=60)
    good = records(2)
    bad = [make_record(float("nan")), make_record(NOVEMBER_START, request_id="negative", prompt_tokens=-1)]
    recorder.record(good[0])
    for record in bad:
        recorder.record(record)
    recorder.record(good[1])
    with caplog.at_level(logging.ERROR, logger="gateway.metering"):
        await recorder.flush()
    assert store.stored == good
    assert recorder.stats().dropped == 2 and recorder.stats().written == 2
    assert any("2 malformed usage records dropped" in message for message in caplog.messages)
    await recorder.close()


@pytest.mark.asyncio
async def test_closing_writes_the_buffer_into_either_store(backend: Backend) -> None:
    store = await backend.open()
    generated = generate_records(2500, seed=5)
    recorder = UsageRecorder(store, flush_interval=60, batch_size=1000, owns_store=True)
    await recorder.start()
    for record in generated:
        recorder.record(record)
    await asyncio.sleep(0.05)  # two full batches went out; the rest waits for the interval
    await recorder.close()
    reopened = await backend.open()
    report = await usage_report(reopened, "2026-11", by="day")
    expected = expected_rows(generated, "2026-11", ("day",))
    assert report.total.requests == sum(row["requests"] for row in expected.values())
    assert {row.key: row.prompt_tokens for row in report.rows} == {
        key: row["prompt_tokens"] for key, row in expected.items()
    }
