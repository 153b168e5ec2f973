"""The one way the gateway's Redis stores connect: a bounded, blocking pool that retries once.

Keys, quotas and usage each keep their own client (their own pool and client name, so `CLIENT LIST`
shows who is who), built the same way here.
"""

from __future__ import annotations

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["connect_redis"]


def connect_redis(
    url: str, *, password: str | None, timeout: float, client_name: str, max_connections: int = 64
) -> redis.Redis:
    """A client whose pool waits (up to `timeout`) for a free connection under a burst, instead of
    failing at once as redis-py's default pool does beyond its cap. A pooled connection that died
    with a Redis restart fails its next command once; one quick retry on a fresh connection hides
    that without stretching a real outage. Every caller's writes are idempotent, so a retried
    command never counts twice."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        password=password,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        client_name=client_name,
    )
    return redis.Redis.from_pool(pool)
