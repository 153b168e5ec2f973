"""What a worker has from the moment its application is built: the configuration, the backend pools,
the metrics and the policy. Routes and plugins that are declared before start-up (the metrics route,
the console) need them; everything opened at start-up is in the `Worker` (gateway/worker.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from litestar import Request
from opentelemetry.sdk.trace.export import SpanExporter

from gateway.admission.scheduler import Admission
from gateway.authz import Authorizer, PolicyReloader
from gateway.config import GatewayConfig
from gateway.routing import ModelPool, build_pools
from gateway.telemetry import GatewayMetrics

__all__ = ["AnyRequest", "Gateway", "gateway_of"]

AnyRequest = Request[Any, Any, Any]


class Gateway:
    """The part of a worker built with its application, before any event loop runs."""

    def __init__(
        self,
        config: GatewayConfig,
        base_dir: Path | None = None,
        *,
        span_exporter: SpanExporter | None = None,
    ) -> None:
        self.config = config
        self.span_exporter = span_exporter
        """Replaces the OTLP exporter of traces (tests read spans from an in-memory one)."""
        # Policy files are found relative to the configuration file they ship with.
        self.authorizer = Authorizer.from_config(config.policy, base_dir or Path.cwd())
        self.reloader = PolicyReloader(self.authorizer, config.policy.reload_interval)
        self.pools: dict[str, ModelPool]
        self.pools, self.backends = build_pools(config)
        # The per-model queues share the backends' capacity; built here so the metrics can read them.
        self.admission = Admission(config.admission, self.pools)
        self.metrics = GatewayMetrics(self.pools, config.metrics, self.admission)
        self.started_at = int(time.time())

    def model_card(self, pool: ModelPool) -> dict[str, Any]:
        card: dict[str, Any] = {
            "id": pool.name,
            "object": "model",
            "created": self.started_at,
            "owned_by": "sovereign-gateway",
            # The gateway's own extension: what a client may ask of this model (its policy actions).
            "operations": list(pool.config.served_operations),
        }
        for backend in pool.backends:
            upstream = backend.model_cards.get(pool.name)
            if upstream is not None:
                card["root"] = upstream.get("root")
                card["max_model_len"] = upstream.get("max_model_len")
                break
        return card


def gateway_of(request: AnyRequest) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway
