"""The one pooled upstream client of a worker."""

from __future__ import annotations

import httpx
from httpx_aiohttp import AiohttpTransport

from gateway.config import UpstreamConfig

__all__ = ["create_upstream_client", "create_upstream_transport"]


def create_upstream_transport(config: UpstreamConfig) -> httpx.AsyncBaseTransport:
    """The pooled connections to backends, on the transport the configuration names.

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
    if config.transport == "aiohttp":
        return AiohttpTransport(limits=limits, trust_env=False)
    return httpx.AsyncHTTPTransport(limits=limits, trust_env=False)


def create_upstream_client(transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    """httpx's client over `transport`, for the side traffic (health checks, scrapes, tokenize).

    Requests themselves go to the transport directly (see forward.py); closing this client closes
    the transport.
    """
    return httpx.AsyncClient(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        timeout=None,  # noqa: S113 -- every call sets the model's own timeouts
    )
