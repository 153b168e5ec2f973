"""Active health checks against real servers on loopback: a late answer is confirmed before it counts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from gateway.config import GatewayConfig, HealthConfig
from gateway.routing.health import HealthMonitor
from gateway.routing.pool import build_pools
from tests.servers import free_port, serve_in_thread

TIMEOUT = 0.2


@contextmanager
def health_server(delay: float) -> Iterator[str]:
    """A backend whose `/health` answers 200 after `delay` seconds."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await asyncio.sleep(delay)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    with serve_in_thread(app) as url:
        yield url


async def _checked(url: str) -> bool:
    config = GatewayConfig.model_validate({"models": [{"name": "m", "backends": [{"url": url}]}]})
    _, backends = build_pools(config)
    async with httpx.AsyncClient() as client:
        monitor = HealthMonitor(client, backends, HealthConfig(timeout=TIMEOUT))
        return await monitor.check_health(backends[0])


@pytest.mark.asyncio
async def test_an_answer_later_than_the_timeout_is_confirmed_before_it_counts() -> None:
    # Twice the timeout: what a saturated worker's reading of a sound backend can look like.
    with health_server(delay=TIMEOUT * 2) as url:
        assert await _checked(url)


@pytest.mark.asyncio
async def test_a_backend_that_never_answers_is_unhealthy() -> None:
    with health_server(delay=30.0) as url:
        assert not await _checked(url)


@pytest.mark.asyncio
async def test_a_refused_connection_is_unhealthy_at_once() -> None:
    assert not await _checked(f"http://127.0.0.1:{free_port()}")
