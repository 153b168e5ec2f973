"""Fixtures: both ledgers behind one parametrized fixture, a clock tests move, quota helpers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from gateway.quotas import EmbeddedLedger, Ledger, Plan, Planner, QuotaConfig, Refusal, Reservation
from gateway.quotas.redis_ledger import RedisLedger
from tests.redis_server import running_redis
from tests.redis_topologies import redis_connection

PARIS = ZoneInfo("Europe/Paris")
KEY = "abcdefgh2345"
"""A key id (12 characters among a-z and 2-7)."""
OTHER_KEY = "zyxwvuts7654"
NOON = datetime(2026, 11, 10, 12, 0, tzinfo=PARIS).timestamp()
"""A quiet moment: far from midnight and from any change of month or summer time."""


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """Epoch seconds of a local time in Europe/Paris: paris(2026, 10, 31, 23, 59, 30)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=PARIS).timestamp()


class FakeClock:
    """Epoch seconds that only move when a test says so; both ledgers read it (Redis through the
    scripts' clock argument instead of TIME)."""

    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One private redis-server for the session; tests keep apart by using their own key prefix."""
    with running_redis() as url:
        yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class Ledgers:
    """Opens ledgers of one kind on the same data (one SQLite file, or one Redis prefix), as several
    processes (or one process restarted) would; closes them all at the end."""

    kind: str
    clock: FakeClock
    opener: Callable[[float, FakeClock | None], Awaitable[Ledger]]
    opened: list[Ledger] = field(default_factory=list)

    async def open(self, *, ttl: float = 900.0, clock: FakeClock | None = None) -> Ledger:
        ledger = await self.opener(ttl, clock or self.clock)
        self.opened.append(ledger)
        return ledger


@pytest_asyncio.fixture(params=["embedded", "redis"])
async def ledgers(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Ledgers]:
    if request.param == "embedded":
        path = tmp_path / "data" / "gateway.db"

        async def open_embedded(ttl: float, clock: FakeClock | None) -> Ledger:
            assert clock is not None
            return await EmbeddedLedger.open(path, reservation_ttl=ttl, clock=clock)

        opener = open_embedded
    else:
        connection = redis_connection(request, request.param)
        prefix = f"t{uuid.uuid4().hex[:12]}"

        async def open_redis(ttl: float, clock: FakeClock | None) -> Ledger:
            return RedisLedger.from_url(
                connection.url, prefix=prefix, reservation_ttl=ttl, clock=clock, topology=connection.topology
            )

        opener = open_redis
    ledgers = Ledgers(request.param, clock, opener)
    yield ledgers
    for ledger in ledgers.opened:
        await ledger.close()


@pytest_asyncio.fixture
async def ledger(ledgers: Ledgers) -> Ledger:
    return await ledgers.open()


def planner(**quotas: Any) -> Planner:
    return Planner(QuotaConfig.model_validate(quotas))


def plan(
    planner: Planner,
    now: float,
    *,
    service: str = "svc",
    key: str = KEY,
    model: str = "small",
    input_tokens: int = 100,
    output_tokens: int = 400,
    department: str = "dgfip",
) -> Plan:
    return planner.plan(department, service, key, model, input_tokens, output_tokens, now)


def reserved(outcome: Reservation | Refusal) -> Reservation:
    assert isinstance(outcome, Reservation), f"refused: {outcome!r}"
    return outcome


def refused(outcome: Reservation | Refusal) -> Refusal:
    assert isinstance(outcome, Refusal), f"reserved: {outcome!r}"
    return outcome
