"""Backends: each model's vLLM servers with health, requests in flight, queue, KV cache and ejections,
and the requests waiting in the gateway's own queue for the model by class and department, with the
departments' weights, as the worker that answers sees them (each worker keeps its own counts and its
share of each backend's capacity). Platform administrators only."""

from __future__ import annotations

import time
from typing import Any

from litestar import get
from litestar.response import Template

from gateway.admission.settings import CLASS_NAMES
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
    admission = gateway.admission
    models: list[dict[str, Any]] = []
    for name, pool in sorted(gateway.pools.items()):
        queue = admission.queues[name].queue
        waiting = [
            {
                "class": class_name,
                "department": department,
                "waiting": count,
                "weight": admission.config.weight_of(department),
            }
            for rank, class_name in enumerate(CLASS_NAMES)
            for department, count in sorted(queue.waiting(rank).items())
        ]
        models.append(
            {
                "name": name,
                "waiting": waiting,
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
