"""Background checks of every backend: `/health` for liveness, `/metrics` for load, `/v1/models` for cards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import msgspec

from gateway.config import HealthConfig
from gateway.routing.backend import Backend
from gateway.routing.vllm_metrics import parse_load

__all__ = ["HealthMonitor"]

logger = logging.getLogger("gateway.health")

_CONFIRM_PATIENCE = 3.0


class HealthMonitor:
    """Runs two loops per backend on the worker's event loop; `stop()` cancels them."""

    def __init__(self, client: httpx.AsyncClient, backends: list[Backend], config: HealthConfig) -> None:
        self._client = client
        self._backends = backends
        self._config = config
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for backend in self._backends:
            self._tasks.append(asyncio.create_task(self._health_loop(backend)))
            if self._config.metrics_interval > 0:
                self._tasks.append(asyncio.create_task(self._metrics_loop(backend)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _headers(self, backend: Backend) -> dict[str, str]:
        return {"authorization": backend.auth_header} if backend.auth_header else {}

    async def _probe(self, backend: Backend, patience: float) -> bool | None:
        """True or False as `/health` answers; None when no answer came in time."""
        try:
            response = await self._client.get(f"{backend.url}/health", timeout=patience)
        except httpx.TimeoutException:
            return None
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def check_health(self, backend: Backend) -> bool:
        ok = await self._probe(backend, self._config.timeout)
        if ok is None:
            # A late answer may be the gateway's own doing: a worker saturated with requests reads
            # it late. Marking the backend unhealthy then would refuse every request for a backend
            # that is fine, so a timeout is confirmed once, with more patience, before it counts.
            ok = bool(await self._probe(backend, self._config.timeout * _CONFIRM_PATIENCE))
        if ok != backend.healthy:
            logger.warning("backend %s is now %s", backend.url, "healthy" if ok else "unhealthy")
        if ok and (not backend.healthy or not backend.model_cards):
            backend.record_health(ok)
            await self._fetch_model_cards(backend)
        backend.record_health(ok)
        return ok

    async def _fetch_model_cards(self, backend: Backend) -> None:
        # /v1/models carries max_model_len, which clients and quota reservations rely on.
        try:
            response = await self._client.get(
                f"{backend.url}/v1/models", headers=self._headers(backend), timeout=self._config.timeout
            )
            if response.status_code != 200:
                return
            listing: Any = msgspec.json.decode(response.content)
            cards = {
                card["id"]: card
                for card in listing.get("data", [])
                if isinstance(card, dict) and "id" in card
            }
        except (httpx.HTTPError, msgspec.DecodeError, AttributeError, TypeError):
            return
        backend.model_cards = cards

    async def scrape_load(self, backend: Backend) -> None:
        try:
            response = await self._client.get(f"{backend.url}/metrics", timeout=self._config.timeout)
        except httpx.HTTPError:
            return
        if response.status_code != 200:
            return
        load = parse_load(response.text)
        if load is not None:
            backend.record_load(
                running=load.running, waiting=load.waiting, kv_cache_usage=load.kv_cache_usage
            )

    async def _health_loop(self, backend: Backend) -> None:
        await self._repeat(self.check_health, backend, self._config.interval)

    async def _metrics_loop(self, backend: Backend) -> None:
        await self._repeat(self.scrape_load, backend, self._config.metrics_interval)

    async def _repeat(
        self, check: Callable[[Backend], Awaitable[object]], backend: Backend, every: float
    ) -> None:
        # A loop that died on one unexpected answer would never check this backend again: log, go on.
        while True:
            try:
                await check(backend)
            except Exception:
                logger.exception("checking backend %s failed", backend.url)
            await asyncio.sleep(every)
