"""What metering costs: `record()` on the request path, and the stores' write throughput.

The figures are printed (run with `-s` to see them next to the test names); the bounds asserted
are generous, to catch a regression of an order of magnitude (I/O or a lock on the request path),
not to benchmark the machine.
"""

from __future__ import annotations

import time
import uuid

import pytest

from gateway.metering import UsageRecorder, UsageStore
from gateway.request_record import RequestRecord
from tests.metering.conftest import NOVEMBER_START, Backend, generate_records, read_all
from tests.metering.fakes import MemoryStore


def build(count: int) -> list[RequestRecord]:
    ids = [uuid.uuid4().hex for _ in range(count)]
    return [
        RequestRecord(time=NOVEMBER_START + index * 0.01, request_id=ids[index], department="dgfip",
                    service="assistant-courrier", key_id="abcdefghijkl", model="mistral-small",
                    backend="http://127.0.0.1:8001", operation="chat", prompt_tokens=812, completion_tokens=230,
                    cached_tokens=512, weighted_cost=1502, cost_eur=0.000_26, latency_ms=734.2, status=200,
                    trace_id="0af7651916cd43dd8448eb211c80319c", decision="allow",
                    rule="p, dgfip, dgfip, mistral-small, chat, allow")
        for index in range(count)
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_record_costs_about_a_microsecond(capsys: pytest.CaptureFixture[str]) -> None:
    count = 100_000
    records = build(count)
    sample = records[0]
    started = time.perf_counter()
    for _ in range(count):  # what the settle step adds: building one record from values it holds
        RequestRecord(time=sample.time, request_id=sample.request_id, department=sample.department,
                    service=sample.service, key_id=sample.key_id, model=sample.model, backend=sample.backend,
                    operation=sample.operation, prompt_tokens=sample.prompt_tokens,
                    completion_tokens=sample.completion_tokens, cached_tokens=sample.cached_tokens,
                    weighted_cost=sample.weighted_cost, cost_eur=sample.cost_eur, latency_ms=sample.latency_ms,
                    status=sample.status, trace_id=sample.trace_id, decision=sample.decision,
                    rule=sample.rule, pii=sample.pii)  # fmt: skip
    building = (time.perf_counter() - started) / count * 1e6
    best = float("inf")
    for _ in range(3):
        recorder = UsageRecorder(MemoryStore(), flush_interval=60, batch_size=count, max_buffered=count)
        record = recorder.record
        started = time.perf_counter()
        for usage in records:
            record(usage)
        best = min(best, (time.perf_counter() - started) / count * 1e6)
        assert recorder.stats().buffered == count and recorder.stats().dropped == 0
        await recorder.close()
    with capsys.disabled():
        print(f"\n  record(): {best:.3f} µs per call (building the RequestRecord: {building:.3f} µs)")
    assert best < 10.0


@pytest.mark.asyncio
async def test_flush_throughput(backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    store: UsageStore = await backend.open()
    count = 20_000
    records = generate_records(count, seed=8)
    recorder = UsageRecorder(store, flush_interval=60, batch_size=1000, max_buffered=count)
    for usage in records:
        recorder.record(usage)
    started = time.perf_counter()
    await recorder.flush()
    rate = count / (time.perf_counter() - started)
    assert recorder.stats().written == count
    await recorder.close()
    with capsys.disabled():
        print(f"\n  {backend.kind} store: {rate:,.0f} records/s written (batches of 1000)")
    assert len(await read_all(store, "2026-11")) > count / 3
    assert rate > 2000
