"""Fixtures: both usage stores behind one parametrized fixture, seeded records, ground truth.

The ground truth here is computed from the records alone, with `zoneinfo` directly (not with the
package's `Calendar`), so that a store or a report that sums, groups or dates wrongly cannot agree
with it by sharing the mistake.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from gateway.metering import EmbeddedUsageStore, UsageStore, micro_euros
from gateway.metering.redis_store import RedisUsageStore
from gateway.request_record import RequestRecord
from tests.redis_server import running_redis
from tests.redis_topologies import redis_connection

PARIS = ZoneInfo("Europe/Paris")

DEPARTMENTS = {
    "dgfip": ("assistant-courrier", "chatbot-impots", "ocr"),
    "dinum": ("albert", "chatbot-impots"),  # the same service name in another department
    "drees": ("etudes",),
    "dgfip.ab": ("batch",),  # looks like a prefix of another department
}
MODELS = ("mistral-small", "mistralai/Mistral-Large-2411", "llama3:70b", "bge-m3")
OPERATIONS = ("chat", "completions", "embeddings", "responses")

# 2026-10-01 00:00 and 2026-12-01 00:00 in Paris; October 2026 has the 25-hour day (the 25th).
OCTOBER_START = int(datetime(2026, 10, 1, tzinfo=PARIS).timestamp())
NOVEMBER_START = int(datetime(2026, 11, 1, tzinfo=PARIS).timestamp())
DECEMBER_START = int(datetime(2026, 12, 1, tzinfo=PARIS).timestamp())
# Instants that must land on the right side of a boundary: a month start, the clock change, day ends.
EDGES = (
    OCTOBER_START - 0.000_001,
    OCTOBER_START,
    NOVEMBER_START - 0.5,
    NOVEMBER_START - 0.000_001,
    NOVEMBER_START,
    NOVEMBER_START + 0.25,
    DECEMBER_START - 0.000_001,
    DECEMBER_START,
    datetime(2026, 10, 25, 2, 59, 59, tzinfo=PARIS).timestamp(),  # 00:59:59 UTC, still summer time
    datetime(2026, 10, 25, 23, 59, 59, tzinfo=PARIS).timestamp() + 0.999,
    datetime(2026, 10, 26, tzinfo=PARIS).timestamp(),
)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One private redis-server for the session; tests keep apart by using their own key prefix."""
    with running_redis() as url:
        yield url


@dataclass
class Backend:
    """One store's data (a SQLite file, or a Redis prefix) that a test may open several times."""

    kind: str
    opener: Callable[[], Awaitable[UsageStore]]
    opened: list[UsageStore] = field(default_factory=list)

    async def open(self) -> UsageStore:
        store = await self.opener()
        self.opened.append(store)
        return store


@pytest_asyncio.fixture(params=["embedded", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "embedded":
        path = tmp_path / "data" / "gateway.usage.db"

        async def opener() -> UsageStore:
            return await EmbeddedUsageStore.open(path)

    else:
        connection = redis_connection(request, request.param)
        prefix = f"t{uuid.uuid4().hex[:12]}"

        async def opener() -> UsageStore:
            return RedisUsageStore.from_url(connection.url, prefix=prefix, topology=connection.topology)

    backend = Backend(request.param, opener)
    yield backend
    for store in backend.opened:
        await store.close()


@pytest_asyncio.fixture
async def store(backend: Backend) -> UsageStore:
    return await backend.open()


def make_record(
    time: float,
    department: str = "dgfip",
    service: str = "chatbot-impots",
    model: str = "mistral-small",
    *,
    prompt_tokens: int = 100,
    completion_tokens: int = 20,
    cached_tokens: int = 0,
    cost_eur: float = 0.0,
    request_id: str | None = None,
    trace_id: str | None = None,
) -> RequestRecord:
    return RequestRecord(
        time=time,
        request_id=request_id or uuid.uuid4().hex,
        department=department,
        service=service,
        key_id="abcdefghijkl",
        model=model,
        backend="http://127.0.0.1:8001",
        operation="chat",
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached_tokens,
        weighted_cost=prompt_tokens + 3 * completion_tokens,
        cost_eur=cost_eur,
        latency_ms=123.456,
        status=200,
        trace_id=trace_id,
    )


def generate_records(count: int, seed: int = 20261101) -> list[RequestRecord]:
    """`count` records spread over September 30 to December 1 2026 (two whole months and their
    edges), across departments, services, models and days, with the EDGES instants included."""
    rng = random.Random(seed)
    start, end = OCTOBER_START - 86_400, DECEMBER_START + 86_400
    times = [rng.uniform(start, end) for _ in range(count - len(EDGES))] + list(EDGES)
    records = []
    for index, time in enumerate(times):
        department = rng.choice(list(DEPARTMENTS))
        prompt = rng.randint(0, 20_000)
        completion = rng.randint(0, 4_000)
        records.append(
            RequestRecord(
                time=time,
                request_id=f"req-{seed}-{index}",
                department=department,
                service=rng.choice(DEPARTMENTS[department]),
                key_id=rng.choice(("aaaaaaaaaaaa", "bbbbbbbbbbbb")),
                model=rng.choice(MODELS),
                backend=rng.choice(("http://127.0.0.1:8001", "http://127.0.0.1:8002")),
                operation=rng.choice(OPERATIONS),
                prompt_tokens=prompt,
                completion_tokens=completion,
                cached_tokens=rng.randint(0, prompt),
                weighted_cost=prompt + rng.choice((1, 2, 4)) * completion,
                # Prices that are not exact in binary, and zero for some models (on-premise, unpriced).
                cost_eur=rng.choice((0.0, (prompt * 0.15 + completion * 0.6) / 1e6, rng.random() / 7)),
                latency_ms=rng.uniform(1, 30_000),
                status=rng.choice((200, 200, 200, 400, 429, 502)),
                trace_id=rng.choice((None, f"{rng.getrandbits(128):032x}")),
            )
        )
    rng.shuffle(records)
    return records


def local_day(time: float) -> str:
    return datetime.fromtimestamp(math.floor(time), PARIS).date().isoformat()


def expected_rows(
    records: Iterable[RequestRecord], period: str, columns: Sequence[str], department: str | None = None
) -> dict[tuple[str, ...], dict[str, int]]:
    """Ground truth: the report's rows as {key: sums}, from the records themselves."""
    rows: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for record in records:
        day = local_day(record.time)
        if not day.startswith(period) or (department is not None and record.department != department):
            continue
        values = {
            "department": record.department,
            "service": record.service,
            "model": record.model,
            "day": day,
        }
        sums = rows[tuple(values[column] for column in columns)]
        sums["requests"] += 1
        sums["prompt_tokens"] += record.prompt_tokens
        sums["completion_tokens"] += record.completion_tokens
        sums["cached_tokens"] += record.cached_tokens
        sums["total_tokens"] += record.prompt_tokens + record.completion_tokens
        sums["weighted_cost"] += record.weighted_cost
        sums["cost_micro_eur"] += micro_euros(record.cost_eur)
    return {key: dict(sums) for key, sums in rows.items()}


async def write_in_batches(store: UsageStore, records: Sequence[RequestRecord], size: int = 500) -> None:
    for start in range(0, len(records), size):
        await store.write(f"batch-{uuid.uuid4().hex}", records[start : start + size])


async def read_all(store: UsageStore, period: str, department: str | None = None) -> list[RequestRecord]:
    return [record async for record in store.records(store.calendar.period(period), department)]


def by_request(records: Iterable[RequestRecord]) -> list[RequestRecord]:
    return sorted(records, key=lambda record: record.request_id)
