"""Backends: each model's vLLM servers with health, requests in flight, queue, KV cache and ejections,
as the worker that answers sees them (each worker keeps its own counts). Platform administrators only."""

from __future__ import annotations

import time
from typing import Any

from litestar import get
from litestar.response import Template

from gateway.console.auth import signed_in
from gateway.console.render import page
from gateway.routing.backend import Backend
from gateway.state import AnyRequest, gateway_of

__all__ = ["backends_page"]


def _health(backend: Backend, now: float) -> str:
    if not backend.healthy:
        return "down"
    if now < backend.ejected_until:
        return "ejected"
    return "up"


@get("/backends", name="console-backends")
async def backends_page(request: AnyRequest) -> Template:
    admin = await signed_in(request)
    admin.require(admin.may_see_platform())
    gateway = gateway_of(request)
    now = time.monotonic()
    models: list[dict[str, Any]] = []
    for name, pool in sorted(gateway.pools.items()):
        models.append(
            {
                "name": name,
                "backends": [
                    {
                        "url": backend.url,
                        "health": _health(backend, now),
                        "in_flight": backend.in_flight,
                        "running": backend.running,
                        "waiting": backend.waiting,
                        "kv_cache": backend.kv_cache_usage,
                        "ejections": backend.ejections,
                        "weight": backend.weight,
                        "max_concurrent": backend.max_concurrent,
                    }
                    for backend in pool.backends
                ],
            }
        )
    return page(request, admin, "backends.html.j2", "backends_title", {"models": models})
