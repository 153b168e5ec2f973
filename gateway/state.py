"""What one worker holds: backend pools, the pooled client, the key store, the policy."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
from litestar import Request
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from gateway.audit import AuditLog, start_audit_log
from gateway.authz import Authorizer, PolicyReloader
from gateway.background import BackgroundWork
from gateway.charging import QuotaStep
from gateway.config import GatewayConfig
from gateway.identity import (
    Authenticator,
    KeyStore,
    Pepper,
    Principal,
    admin_key_for,
    build_authenticator,
    open_key_store,
    pepper_for,
)
from gateway.metering import UsageRecorder, start_usage_recorder
from gateway.pii import Redactor, start_redactor
from gateway.pipeline import Pipeline, client_address
from gateway.quotas import open_ledger
from gateway.quotas.pricing import Pricing
from gateway.routing import HealthMonitor, ModelPool, build_pools
from gateway.telemetry import GatewayMetrics
from gateway.telemetry.observer import Observer
from gateway.telemetry.request_trace import Tracing
from gateway.telemetry.tracing import build_tracing
from gateway.upstream import Forwarder, create_upstream_client, create_upstream_transport

__all__ = ["AnyRequest", "Gateway", "gateway_of"]

AnyRequest = Request[Any, Any, Any]


class Gateway:
    """What one worker holds: the backend pools, the pooled client and the health monitor."""

    def __init__(
        self,
        config: GatewayConfig,
        base_dir: Path | None = None,
        *,
        span_exporter: SpanExporter | None = None,
    ) -> None:
        self.config = config
        self._span_exporter = span_exporter
        self.tracer_provider: TracerProvider | None = None
        # Policy files are found relative to the configuration file they ship with.
        self.authorizer = Authorizer.from_config(config.policy, base_dir or Path.cwd())
        self.reloader = PolicyReloader(self.authorizer, config.policy.reload_interval)
        self.pools: dict[str, ModelPool]
        self.pools, self.backends = build_pools(config)
        self.metrics = GatewayMetrics(self.pools, config.metrics)
        self.started_at = int(time.time())
        self._client: httpx.AsyncClient | None = None
        self._health: HealthMonitor | None = None
        self.pipeline: Pipeline | None = None
        self.key_store: KeyStore | None = None
        self.authenticator: Authenticator | None = None
        self.pepper: Pepper | None = None
        self.quotas: QuotaStep | None = None
        self.background = BackgroundWork()
        self.recorder: UsageRecorder | None = None
        self.audit: AuditLog | None = None
        self.redactor: Redactor | None = None

    async def startup(self) -> None:
        config = self.config
        self.key_store = await open_key_store(config.store)
        self.pepper = pepper_for(config.store, config.auth)
        self.authenticator = build_authenticator(
            self.key_store,
            config.auth,
            self.pepper,
            admin_key_for(config.auth),
            keep_cache_during_outage=config.quotas.on_store_error == "fail_open",
        )
        await self.authenticator.start()
        self.reloader.start()
        # The client is created on the worker's own event loop, once, and shared by every request.
        transport = create_upstream_transport(config.upstream)
        self._client = create_upstream_client(transport)
        self.quotas = QuotaStep(config.quotas, await open_ledger(config.quotas, config.store))
        self.recorder = await start_usage_recorder(config.store, config.metering)
        self.audit = await start_audit_log(config.audit)
        self.redactor = await start_redactor(config.pii)
        self.pipeline = Pipeline(
            self.pools,
            self.authenticator,
            self.authorizer,
            self.quotas,
            Forwarder(
                self._client, transport, config.health, max_response_bytes=config.upstream.max_response_bytes
            ),
            self.recorder,
            self.redactor,
            self._observer(),
            max_choices=config.server.max_choices,
            pricing=Pricing(config.quotas),
            background=self.background,
        )
        self._health = HealthMonitor(self._client, self.backends, config.health)
        self._health.start()
        await self.metrics.start()

    def _observer(self) -> Observer:
        tracing_config = self.config.tracing
        pipeline = build_tracing(tracing_config, self._span_exporter)
        tracing = None
        if pipeline is not None:
            self.tracer_provider = pipeline.provider
            tracing = Tracing(
                pipeline.tracer,
                pipeline.sink,
                trust_incoming=tracing_config.trust_incoming_traceparent,
                record_content=tracing_config.record_content,
            )
        return Observer(tracing, self.audit, self.metrics)

    async def shutdown(self) -> None:
        await self.reloader.stop()
        await self.background.drain()  # settlements first: they write the last usage records
        if self.quotas is not None:
            await self.quotas.close()
        if self.recorder is not None:
            await self.recorder.close()
        if self.audit is not None:
            await self.audit.close()
        if self.tracer_provider is not None:
            # The batch processor exports what it holds; its own timeout bounds the wait.
            await asyncio.to_thread(self.tracer_provider.shutdown)
        if self._health is not None:
            await self._health.stop()
        if self.redactor is not None:
            await self.redactor.close()
        if self._client is not None:
            await self._client.aclose()
        if self.authenticator is not None:
            await self.authenticator.close()
        if self.key_store is not None:
            await self.key_store.close()
        await self.metrics.stop()

    async def principal(self, request: AnyRequest) -> Principal:
        """Step 1 of every authenticated route: the caller's key, or 401."""
        assert self.authenticator is not None, "the gateway has not started"
        return await self.authenticator.authenticate(
            request.headers.get("authorization"), client_address(request)
        )

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
