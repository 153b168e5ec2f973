"""Fixtures: both key stores behind one parametrized fixture, a private redis-server, helpers."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.identity import (
    Authenticator,
    ChangeCallback,
    EmbeddedKeyStore,
    FailureLimiter,
    KeyRecord,
    KeyStore,
    Pepper,
)
from gateway.identity.redis_store import RedisKeyStore
from gateway.identity.store import KeyRecords
from tests.redis_server import running_redis
from tests.redis_topologies import RedisConnection, redis_connection

CHANGE_DEADLINE = 1.0  # a revocation must reach every cache within this many seconds


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One private redis-server for the session; tests keep apart by using their own key prefix."""
    with running_redis() as url:
        yield url


@pytest.fixture
def pepper() -> Pepper:
    return Pepper(os.urandom(32))


@dataclass
class Backend:
    """One store's data (a SQLite file, or a Redis prefix) that tests may open several times,
    as several processes would."""

    kind: str
    location: str
    opener: Callable[[], Awaitable[KeyStore]]
    opened: list[KeyStore] = field(default_factory=list)

    async def open(self) -> KeyStore:
        store = await self.opener()
        self.opened.append(store)
        return store


def open_embedded(path: Path) -> Callable[[], Awaitable[KeyStore]]:
    async def opener() -> KeyStore:
        return await EmbeddedKeyStore.open(path, poll_interval=0.1)

    return opener


def open_redis(connection: RedisConnection, prefix: str) -> Callable[[], Awaitable[KeyStore]]:
    async def opener() -> KeyStore:
        return RedisKeyStore.from_url(
            connection.url, prefix=prefix, heartbeat=0.2, topology=connection.topology
        )

    return opener


@pytest_asyncio.fixture(params=["embedded", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Each store kind; the contract tests add the Cluster and Sentinel ones (STORE_KINDS)."""
    if request.param == "embedded":
        path = tmp_path / "data" / "gateway.db"
        backend = Backend("embedded", str(path), open_embedded(path))
    else:
        connection = redis_connection(request, request.param)
        prefix = f"t{uuid.uuid4().hex[:12]}"
        backend = Backend(request.param, prefix, open_redis(connection, prefix))
    yield backend
    for store in backend.opened:
        await store.close()


@pytest_asyncio.fixture
async def store(backend: Backend) -> KeyStore:
    return await backend.open()


class CountingStore(KeyStore):
    """Passes every call to a real store and counts them: what a test of caching must observe."""

    def __init__(self, inner: KeyStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    async def create(self, record: KeyRecord) -> None:
        self.calls["create"] += 1
        await self.inner.create(record)

    async def get(self, key_id: str) -> KeyRecord | None:
        self.calls["get"] += 1
        return await self.inner.get(key_id)

    async def list(self, department: str | None = None) -> KeyRecords:
        self.calls["list"] += 1
        return await self.inner.list(department)

    async def revoke(self, key_id: str, at: int) -> bool:
        self.calls["revoke"] += 1
        return await self.inner.revoke(key_id, at)

    async def touch(self, key_id: str, when: int) -> None:
        self.calls["touch"] += 1
        await self.inner.touch(key_id, when)

    async def end_session(self, session_id: str, until: int) -> None:
        self.calls["end_session"] += 1
        await self.inner.end_session(session_id, until)

    async def session_ended(self, session_id: str) -> bool:
        self.calls["session_ended"] += 1
        return await self.inner.session_ended(session_id)

    async def subscribe_changes(self, callback: ChangeCallback) -> None:
        self.calls["subscribe_changes"] += 1
        await self.inner.subscribe_changes(callback)

    @property
    def changes_live(self) -> bool:
        return self.inner.changes_live

    async def close(self) -> None:
        await self.inner.close()


@pytest_asyncio.fixture
async def make_authenticator() -> AsyncIterator[Callable[..., Awaitable[Authenticator]]]:
    """Start authenticators (with a generous limiter unless told otherwise); closed at the end."""
    started: list[Authenticator] = []

    async def make(store: KeyStore, pepper: Pepper, **options: object) -> Authenticator:
        options.setdefault("limiter", FailureLimiter(1000))
        authenticator = Authenticator(store, pepper, **options)  # type: ignore[arg-type]
        await authenticator.start()
        started.append(authenticator)
        return authenticator

    yield make
    for authenticator in started:
        await authenticator.close()
