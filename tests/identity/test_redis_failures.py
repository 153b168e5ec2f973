"""The Redis store when Redis goes away: fail closed (503, not 401, not a stale cache), then recover."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gateway.identity import (
    AuthenticationFailed,
    AuthenticationUnavailable,
    Authenticator,
    FailureLimiter,
    KeyStoreError,
    Pepper,
    create_key,
)
from gateway.identity.redis_store import RedisKeyStore
from tests.redis_server import RedisServer, redis_server
from tests.waiting import async_wait_for


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with redis_server() as running:
        yield running


@pytest.mark.asyncio
async def test_losing_redis_flushes_the_cache_and_fails_closed(server: RedisServer, pepper: Pepper) -> None:
    store = RedisKeyStore.from_url(server.url, heartbeat=0.2, timeout=0.5)
    authenticator = Authenticator(store, pepper, limiter=FailureLimiter(1000))
    try:
        _, key = await create_key(store, pepper, "dgfip", "chatbot")
        await authenticator.start()
        await authenticator.authenticate(f"Bearer {key}", "127.0.0.1")
        assert authenticator._cache

        server.stop()
        assert await async_wait_for(lambda: not store.changes_live, 3)
        assert not authenticator._cache  # flushed: a revocation could be missed from now on
        with pytest.raises(AuthenticationUnavailable) as caught:
            await authenticator.authenticate(f"Bearer {key}", "127.0.0.1")
        assert caught.value.status_code == 503
        assert caught.value.headers["retry-after"] == "1"
        with pytest.raises(KeyStoreError):
            await store.list()

        server.start()  # same port, but empty: this Redis keeps nothing on disk
        assert await async_wait_for(lambda: store.changes_live, 5)
        with pytest.raises(AuthenticationFailed):
            await authenticator.authenticate(f"Bearer {key}", "127.0.0.1")
        _, fresh = await create_key(store, pepper, "dgfip", "chatbot")
        assert (await authenticator.authenticate(f"Bearer {fresh}", "127.0.0.1")).service == "chatbot"
    finally:
        await authenticator.close()
        await store.close()


@pytest.mark.asyncio
async def test_a_frozen_redis_is_noticed_by_the_heartbeat(server: RedisServer, pepper: Pepper) -> None:
    """No connection error at all (the server is SIGSTOPped): silence alone must disable the cache."""
    store = RedisKeyStore.from_url(server.url, heartbeat=0.2, timeout=0.5)
    authenticator = Authenticator(store, pepper, limiter=FailureLimiter(1000))
    try:
        _, key = await create_key(store, pepper, "dgfip", "chatbot")
        await authenticator.start()
        await authenticator.authenticate(f"Bearer {key}", "127.0.0.1")
        assert authenticator._cache
        server.pause()
        started = time.monotonic()
        assert await async_wait_for(lambda: not store.changes_live, 3)
        assert time.monotonic() - started < 1.5  # three heartbeats of 0.2 s, and a read timeout
        assert not authenticator._cache
        server.resume()
        assert await async_wait_for(lambda: store.changes_live, 5)
        assert (await authenticator.authenticate(f"Bearer {key}", "127.0.0.1")).department == "dgfip"
        assert authenticator._cache
    finally:
        server.resume()
        await authenticator.close()
        await store.close()


@pytest.mark.asyncio
async def test_redis_down_at_start_then_up(server: RedisServer, pepper: Pepper) -> None:
    server.stop()
    store = RedisKeyStore.from_url(server.url, heartbeat=0.2, timeout=0.5)
    authenticator = Authenticator(store, pepper, limiter=FailureLimiter(1000))
    try:
        await authenticator.start()  # returns after a bounded wait, subscription still being retried
        assert not store.changes_live
        with pytest.raises(AuthenticationUnavailable):
            await authenticator.authenticate("Bearer sgw_abcdefghijkl_" + "A" * 43, "127.0.0.1")
        server.start()
        assert await async_wait_for(lambda: store.changes_live, 5)
        _, key = await create_key(store, pepper, "dgfip", "chatbot")
        assert (await authenticator.authenticate(f"Bearer {key}", "127.0.0.1")).service == "chatbot"
    finally:
        await authenticator.close()
        await store.close()
