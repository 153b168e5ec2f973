"""The backend gauges, read from the worker's `Backend` objects rather than counted on the way.

The router already keeps what an operator wants to see on each backend (its in-flight requests,
its health, an ejection, vLLM's queue and KV cache from the last scrape of its /metrics): copying
those fields when metrics are flushed costs nothing per request. With one worker that happens at
each scrape. With several, each worker copies its own view every `flush_interval_seconds` and the
gauges' multiprocess modes combine the views (see families.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import Counter, Gauge

from gateway.telemetry.families import MetricFamilies

if TYPE_CHECKING:
    # Only for annotations: gateway.config imports this package for MetricsConfig, and
    # gateway.routing imports gateway.config.
    from gateway.routing.backend import Backend
    from gateway.routing.pool import ModelPool

__all__ = ["BackendGauges", "backend_label"]


def backend_label(url: str) -> str:
    """The backend's URL as a label: without credentials, should a URL carry any."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class _Row:
    """The gauges of one (model, backend) pair."""

    __slots__ = (
        "backend",
        "ejected",
        "ejections",
        "in_flight",
        "kv_cache_usage",
        "queue_depth",
        "running",
        "up",
    )

    def __init__(self, families: MetricFamilies, model: str, backend: Backend) -> None:
        labels = (model, backend_label(backend.url))
        self.backend = backend
        self.up: Gauge = families.backend_up.labels(*labels)
        self.ejected: Gauge = families.backend_ejected.labels(*labels)
        self.in_flight: Gauge = families.backend_in_flight.labels(*labels)
        self.queue_depth: Gauge = families.backend_queue_depth.labels(*labels)
        self.running: Gauge = families.backend_running.labels(*labels)
        self.kv_cache_usage: Gauge = families.backend_kv_cache_usage.labels(*labels)
        self.ejections: Counter = families.backend_ejections.labels(*labels)

    def publish(self, now: float) -> None:
        backend = self.backend
        self.up.set(1.0 if backend.healthy else 0.0)
        self.ejected.set(1.0 if now < backend.ejected_until else 0.0)
        self.in_flight.set(backend.in_flight)
        self.queue_depth.set(backend.waiting)
        self.running.set(backend.running)
        self.kv_cache_usage.set(backend.kv_cache_usage)


class BackendGauges:
    """Copies every configured (model, backend) pair's state into its gauges."""

    def __init__(self, families: MetricFamilies, pools: Mapping[str, ModelPool]) -> None:
        self._rows = [
            _Row(families, name, backend) for name, pool in pools.items() for backend in pool.backends
        ]
        # A backend serving several models is one object: its ejections are read once per flush.
        self._ejections_seen: dict[Backend, int] = {row.backend: 0 for row in self._rows}

    def publish(self) -> None:
        now = time.monotonic()  # the clock of `Backend.ejected_until` (gateway.routing.backend)
        ejected_since: dict[Backend, int] = {}
        for backend, seen in self._ejections_seen.items():
            # `Backend.ejections` only grows; the counter follows it by the difference.
            if backend.ejections > seen:
                ejected_since[backend] = backend.ejections - seen
                self._ejections_seen[backend] = backend.ejections
        for row in self._rows:
            row.publish(now)
            added = ejected_since.get(row.backend)
            if added:
                row.ejections.inc(added)
