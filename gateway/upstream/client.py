"""The one pooled upstream client of a worker."""

from __future__ import annotations

import httpx
from httpx_aiohttp import AiohttpTransport

from gateway.config import UpstreamConfig

__all__ = ["create_upstream_client"]


def create_upstream_client(config: UpstreamConfig) -> httpx.AsyncClient:
    """httpx's API, on the transport the configuration names.

    The aiohttp transport is the default because httpx's own connection pool slows down as the
    number of requests in flight grows (docs/performance.md has our measurements). `trust_env`
    is off so that proxy variables in the environment can never route traffic somewhere the
    configuration did not name.
    """
    limits = httpx.Limits(
        max_connections=config.max_connections,
        max_keepalive_connections=config.max_connections,
        keepalive_expiry=config.keepalive_seconds,
    )
    transport: httpx.AsyncBaseTransport
    if config.transport == "aiohttp":
        transport = AiohttpTransport(limits=limits, trust_env=False)
    else:
        transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    return httpx.AsyncClient(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        timeout=None,  # noqa: S113 -- every call sets the model's own timeouts
    )
