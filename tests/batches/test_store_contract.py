"""The work queue's contract, the same on both stores: lines enqueued once however often `enqueue`
runs, taken by one consumer at a time, taken over after `claim_after` unless renewed, given back,
and finished once per `custom_id`; status compare-and-set on the records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gateway.batches.embedded import EmbeddedBatchStore
from gateway.batches.records import BatchRecord, Owner
from gateway.batches.redis_store import RedisBatchStore
from gateway.batches.store import BatchStore
from gateway.batches.validation import InputLine
from tests.redis_server import running_redis

OWNER = Owner("dgfip", "courrier", "key1", ("user",))
LINES = [InputLine(n, f"c{n}", "/v1/chat/completions", b'{"model":"m"}') for n in range(1, 11)]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with running_redis() as url:
        yield url


@asynccontextmanager
async def _store(kind: str, tmp_path: Path, redis_url: str) -> AsyncIterator[BatchStore]:
    store: BatchStore
    if kind == "embedded":
        store = await EmbeddedBatchStore.open(tmp_path / "batches.db")
    else:
        store = RedisBatchStore.from_url(redis_url, prefix=f"t{time.monotonic_ns()}")
    try:
        yield store
    finally:
        await store.close()


def _record(batch_id: str) -> BatchRecord:
    return BatchRecord(
        id=batch_id,
        owner=OWNER,
        endpoint="/v1/chat/completions",
        input_file_id="file-x",
        completion_window="24h",
        created_at=1,
        expires_at=2,
        total=len(LINES),
    )


@pytest.mark.parametrize("kind", ["embedded", "redis"])
def test_the_work_queue_contract(kind: str, tmp_path: Path, redis_url: str) -> None:
    async def scenario() -> None:
        async with _store(kind, tmp_path, redis_url) as store:
            await store.add_batch(_record("batch_a"))
            await store.enqueue("batch_a", LINES[:4])  # a crash half-way through
            await store.enqueue("batch_a", LINES)
            first = await store.take("batch_a", "one", 6, claim_after=60)
            second = await store.take("batch_a", "two", 10, claim_after=60)
            assert [item.number for item in first] == [1, 2, 3, 4, 5, 6]
            assert [item.number for item in second] == [7, 8, 9, 10]
            assert await store.take("batch_a", "two", 10, claim_after=60) == []

            assert await store.finish("batch_a", first[0], b'{"ok":1}', failed=False)
            assert not await store.finish("batch_a", first[0], b'{"ok":2}', failed=False)  # once
            assert await store.finish("batch_a", first[1], b'{"bad":1}', failed=True)
            assert await store.counts("batch_a") == (1, 1)

            await store.give_back("batch_a", first[2])
            (again,) = await store.take("batch_a", "two", 10, claim_after=60)
            assert again.number == 3 and again.custom_id == "c3"

            # Lines idle long enough are taken over, whoever held them, unless renewed (line 4).
            await asyncio.sleep(0.3)
            await store.renew("batch_a", "one", [first[3].entry])
            claimed = await store.take("batch_a", "two", 10, claim_after=0.2)
            assert sorted(item.number for item in claimed) == [3, 5, 6, 7, 8, 9, 10]

            results = await store.results("batch_a")
            assert [(result.number, result.failed, result.line) for result in results] == [
                (1, False, b'{"ok":1}'),
                (2, True, b'{"bad":1}'),
            ]
            assert [number for number, _ in await store.unfinished("batch_a")] == list(range(3, 11))

            record = _record("batch_a")
            record.status = "in_progress"
            assert await store.replace_batch(record, ("validating",))
            assert not await store.replace_batch(record, ("validating",))
            assert [batch.id for batch in await store.active_batches()] == ["batch_a"]
            record.status = "completed"
            assert await store.replace_batch(record, ("in_progress",))
            assert await store.active_batches() == []

            await store.drop_work("batch_a")
            assert await store.counts("batch_a") == (0, 0)
            assert not await store.finish("batch_a", first[4], b"{}", failed=False)  # queue gone

    asyncio.run(scenario())
