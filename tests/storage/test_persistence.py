"""Whether the Redis store persists: asked of real redis-servers started with and without AOF or RDB,
at start-up, after Redis comes back, and at a gateway's start (refused with require_persistence)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis
from litestar import Litestar
from redis.asyncio.cluster import RedisCluster

from gateway.app import create_app
from gateway.storage.persistence import PersistenceWatch, StoreNotPersistent, persistence_of
from gateway.worker import running_worker
from tests.gateway.conftest import CHAT_MODEL, gateway_config, running_simulator
from tests.redis_server import RedisServer, redis_cluster, redis_command
from tests.servers import serve_in_thread
from tests.waiting import async_wait_for

NO_PERSISTENCE: list[str] = []  # the test servers' default: --save "" --appendonly no
AOF = ["--appendonly", "yes"]
RDB = ["--save", "3600 1 300 100"]


@pytest.fixture
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="gateway-persistence-") as directory:
        yield Path(directory)


def started(folder: Path, options: list[str]) -> RedisServer:
    server = RedisServer(folder, options=options)
    server.start()
    return server


def test_the_answers_of_config_get_say_which_persistence() -> None:
    assert persistence_of("no", "") == "none"
    assert persistence_of("yes", "") == "aof"
    assert persistence_of("no", "3600 1") == "rdb"
    assert persistence_of("yes", "3600 1 300 100") == "aof+rdb"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("options", "expected", "metric"), [(NO_PERSISTENCE, "none", 0), (AOF, "aof", 1), (RDB, "rdb", 1)]
)
async def test_each_redis_is_seen_as_it_runs(
    folder: Path, options: list[str], expected: str, metric: int, caplog: pytest.LogCaptureFixture
) -> None:
    server = started(folder, options)
    reported: list[int] = []
    watch = PersistenceWatch(redis.Redis.from_url(server.url), required=False, report=reported.append)
    try:
        with caplog.at_level(logging.INFO, logger="gateway.storage"):
            assert await watch.check(starting=True) == expected
        assert reported == [metric]
        warned = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
        if expected == "none":
            assert len(warned) == 1 and "loses every API key, budget counter and usage record" in warned[0]
        else:
            assert warned == []
    finally:
        await watch.close()
        server.stop()


@pytest.mark.asyncio
async def test_require_persistence_refuses_a_redis_without_it(folder: Path) -> None:
    server = started(folder, NO_PERSISTENCE)
    watch = PersistenceWatch(redis.Redis.from_url(server.url), required=True)
    try:
        with pytest.raises(StoreNotPersistent, match="persistence is none"):
            await watch.check(starting=True)
    finally:
        await watch.close()
        server.stop()


@pytest.mark.asyncio
async def test_a_redis_that_comes_back_without_persistence_is_said_again(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = started(folder, AOF)
    reported: list[int] = []
    watch = PersistenceWatch(
        redis.Redis.from_url(server.url, socket_timeout=0.5),
        required=False,
        report=reported.append,
        interval=0.05,
    )
    try:
        assert await watch.check(starting=True) == "aof"
        watch.start()
        server.stop()
        # Restarted on the same port without persistence, as an operator's mistake would.
        server.options = []
        await asyncio.to_thread(server.start)
        with caplog.at_level(logging.WARNING, logger="gateway.storage"):
            assert await async_wait_for(lambda: watch.persistence == "none", 10)
        assert reported[0] == 1 and reported[-1] == 0 and watch.checks >= 2
        assert any("no persistence" in record.getMessage() for record in caplog.records)
    finally:
        await watch.close()
        server.stop()


def _gateway_with(url: str, folder: Path, sim: str, *, required: bool) -> Litestar:
    config = gateway_config(
        [{"name": CHAT_MODEL, "backends": [{"url": sim}]}],
        store={"kind": "redis", "url": url, "require_persistence": required},
        metrics={"allow_anonymous": True},
    )
    return create_app(config)


def test_a_gateway_refuses_to_start_on_a_redis_without_persistence_when_required(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_KEY_PEPPER", "p" * 48)
    server = started(folder, NO_PERSISTENCE)
    try:
        with running_simulator(CHAT_MODEL) as sim:
            app = _gateway_with(server.url, folder, sim, required=True)

            async def start() -> None:
                async with running_worker(app.state.gateway):
                    raise AssertionError("the worker started")

            with pytest.raises(StoreNotPersistent, match="require_persistence is set"):
                asyncio.run(start())
            # Not required: it starts, and says so in its metrics.
            with serve_in_thread(_gateway_with(server.url, folder, sim, required=False)) as url:
                text = httpx.get(f"{url}/metrics", timeout=5).text
            assert 'gateway_store_persistent{store="redis"} 0.0' in text
    finally:
        server.stop()


@pytest.mark.asyncio
async def test_a_cluster_persists_only_if_every_primary_does() -> None:
    with redis_cluster() as cluster:
        host, port = cluster.addresses[0].split(":")
        client = RedisCluster(host=host, port=int(port))
        watch = PersistenceWatch(client, required=False)
        try:
            assert await watch.check() == "none"  # the test nodes keep nothing
            for node in cluster.nodes:
                redis_command(node.port, "CONFIG", "SET", "appendonly", "yes")
            assert await watch.check() == "aof"
            redis_command(cluster.nodes[1].port, "CONFIG", "SET", "appendonly", "no")
            assert await watch.check() == "none"
        finally:
            await watch.close()


@pytest.mark.asyncio
async def test_a_redis_down_at_start_is_checked_when_it_answers(folder: Path) -> None:
    server = RedisServer(folder, options=RDB)  # not started yet
    reported: list[int] = []
    watch = PersistenceWatch(
        redis.Redis.from_url(server.url, socket_timeout=0.5),
        required=False,
        report=reported.append,
        interval=0.05,
    )
    try:
        assert await watch.check(starting=True) == "unknown"  # no refusal: the stores handle outages
        assert reported == []
        watch.start()
        await asyncio.to_thread(server.start)
        assert await async_wait_for(lambda: watch.persistence == "rdb", 10)
        assert reported == [1]
    finally:
        await watch.close()
        server.stop()
    strict = PersistenceWatch(redis.Redis.from_url(server.url, socket_timeout=0.5), required=True)
    try:
        with pytest.raises(StoreNotPersistent, match="cannot be reached"):
            await strict.check(starting=True)
    finally:
        await strict.close()
