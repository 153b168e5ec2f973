"""hiredis packs the gateway's Redis commands: the same bytes as redis-py's own packer, in C."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as redis
from redis.asyncio.connection import Connection, SSLConnection
from redis.asyncio.sentinel import SentinelManagedConnection
from redis.exceptions import DataError

from gateway.storage.redis_client import connect_redis
from gateway.storage.redis_packing import hiredis_packing

COMMANDS = [
    ("SET", "clé", "valeur é ü"),
    ("EVALSHA", "a" * 40, 3, "sgw:q:{dgfip}:open", "k2", "k3", "", "rid", 900000, -1, 2**62, "0"),
    ("HSET", "h", "cost", 0.1, "big", 1e20, "raw", b"\xff\x00"),
    ("SCRIPT LOAD", "return 1"),
    (b"CONFIG GET", b"maxmemory"),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_same_bytes_as_redis_py(command: tuple[Any, ...]) -> None:
    ours = hiredis_packing(Connection)()
    theirs = Connection()
    assert b"".join(ours.pack_command(*command)) == b"".join(theirs.pack_command(*command))


@pytest.mark.parametrize("value", [None, True, ["a"]])
def test_refuses_what_redis_py_refuses(value: Any) -> None:
    with pytest.raises(DataError):
        hiredis_packing(Connection)().pack_command("SET", "k", value)
    with pytest.raises(DataError):
        Connection().pack_command("SET", "k", value)


def test_one_subclass_per_connection_class() -> None:
    for cls in (Connection, SSLConnection, SentinelManagedConnection):
        packing = hiredis_packing(cls)
        assert issubclass(packing, cls)
        assert hiredis_packing(cls) is packing
        assert hiredis_packing(packing) is packing


@pytest.mark.asyncio
async def test_a_store_client_packs_with_hiredis_and_round_trips(redis_url: str) -> None:
    client = connect_redis(redis_url, password=None, timeout=2.0, client_name="packing-test")
    try:
        assert isinstance(client, redis.Redis)
        assert client.connection_pool.connection_class.__name__ == "HiredisConnection"
        await client.hset("h", mapping={"text": "é ü", "count": -3, "ratio": 0.25})
        assert await client.hgetall("h") == {"text": "é ü", "count": "-3", "ratio": "0.25"}
    finally:
        await client.aclose()
