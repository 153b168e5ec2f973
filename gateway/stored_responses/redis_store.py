"""Response homes as Redis keys with a TTL: every replica reads what another recorded."""

from __future__ import annotations

from redis.exceptions import RedisError

from gateway.storage.redis_client import RedisClient, connect_redis
from gateway.storage.redis_target import STANDALONE, RedisTopology
from gateway.stored_responses.errors import ResponseStoreUnavailable
from gateway.stored_responses.homes import ResponseHome, decode_home, encode_home

__all__ = ["RedisResponseHomes"]


class RedisResponseHomes:
    """`<prefix>:resp:<response id>` -> the encoded home, expiring with the TTL (one key, so a
    Cluster needs no hash tag)."""

    __slots__ = ("_client", "_prefix")

    def __init__(self, client: RedisClient, *, prefix: str) -> None:
        self._client = client
        self._prefix = f"{prefix}:resp:"

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        password: str | None = None,
        prefix: str = "sgw",
        timeout: float = 2.0,
        topology: RedisTopology = STANDALONE,
    ) -> RedisResponseHomes:
        client = connect_redis(
            url,
            password=password,
            timeout=timeout,
            client_name="sovereign-gateway-responses",
            max_connections=32,
            topology=topology,
        )
        return cls(client, prefix=prefix)

    async def record(self, response_id: str, home: ResponseHome, ttl: int) -> None:
        try:
            await self._client.set(self._prefix + response_id, encode_home(home).decode(), ex=ttl)
        except (RedisError, OSError) as exc:
            raise ResponseStoreUnavailable() from exc

    async def find(self, response_id: str) -> ResponseHome | None:
        try:
            raw = await self._client.get(self._prefix + response_id)
        except (RedisError, OSError) as exc:
            raise ResponseStoreUnavailable() from exc
        return decode_home(raw) if raw is not None else None

    async def close(self) -> None:
        await self._client.aclose()
