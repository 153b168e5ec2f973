"""The worker once started: every resource opened at start-up, built whole and then frozen.

`running_worker` is the application's lifespan. It opens the resources one by one on the worker's
event loop, each entered in an `AsyncExitStack` as soon as it is open, so that they are closed in
the reverse order at shutdown, and a start-up that fails half-way closes what it had opened. The
opening order is chosen for that reverse: the policy reloader stops first, then the quotas drain
(the settlements still running first: they write the last usage records), then the usage recorder, the audit log, the
tracer provider, the health monitor, the redactor, the upstream client, the authenticator, the key
store, and the metrics last.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from opentelemetry.sdk.trace import TracerProvider

from gateway.admission.leases import CapacityShares
from gateway.admission.shares import open_capacity_shares
from gateway.audit import AuditLog, start_audit_log
from gateway.background import BackgroundWork
from gateway.batches.disk import FileDirectory
from gateway.batches.factory import open_batch_store
from gateway.batches.runner import BatchRunner
from gateway.batches.service import Batches
from gateway.charging import QuotaStep
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
from gateway.oidc.bearer import BearerTokens
from gateway.pii import Redactor, start_redactor
from gateway.pipeline import Pipeline, client_address
from gateway.quotas import open_ledger
from gateway.quotas.alerts import BudgetWatch, alert_claims
from gateway.quotas.pricing import Pricing
from gateway.quotas.webhooks import WebhookSender
from gateway.routing import HealthMonitor
from gateway.state import AnyRequest, Gateway
from gateway.storage.persistence import PersistenceWatch
from gateway.stored_responses.factory import open_response_homes
from gateway.stored_responses.sticky import StickyResponses
from gateway.telemetry.observer import Observer
from gateway.telemetry.request_trace import Tracing
from gateway.telemetry.tracing import build_tracing
from gateway.upstream import Forwarder, create_upstream_client, create_upstream_transport

__all__ = ["Worker", "running_worker", "worker_of"]

logger = logging.getLogger("gateway.batches")


@dataclass(frozen=True, slots=True)
class Worker:
    """What requests use once the worker has started. `audit`, `redactor` and `tracer_provider` are
    None when the configuration turns the feature off, never because start-up is unfinished."""

    gateway: Gateway
    key_store: KeyStore
    pepper: Pepper
    authenticator: Authenticator
    identity_client: httpx.AsyncClient
    """Calls the configured identity providers (discovery, keys, the console's token exchanges)."""
    quotas: QuotaStep
    recorder: UsageRecorder
    audit: AuditLog | None
    redactor: Redactor | None
    tracer_provider: TracerProvider | None
    pipeline: Pipeline
    forwarder: Forwarder
    observer: Observer
    sticky_responses: StickyResponses
    batches: Batches | None = None
    """The Files and Batches APIs and this process's batch runner; None when `batches.enabled` is off."""
    capacity_shares: CapacityShares | None = None
    """This process's leases on the backends' capacity (Redis store only; None otherwise)."""

    async def principal(self, request: AnyRequest) -> Principal:
        """Step 1 of every authenticated route: the caller's key, or 401."""
        return await self.authenticator.authenticate(
            request.headers.get("authorization"), client_address(request)
        )


def worker_of(request: AnyRequest) -> Worker:
    worker: Worker = request.app.state.worker
    return worker


@asynccontextmanager
async def running_worker(gateway: Gateway) -> AsyncIterator[Worker]:
    """Start the worker on the running event loop; at exit, stop it (see the module's docstring)."""
    config = gateway.config
    async with AsyncExitStack() as stack:
        await gateway.metrics.start()
        stack.push_async_callback(gateway.metrics.stop)
        if config.store.kind == "redis":
            # Before any store opens: a Redis that loses its data on restart is said (or refused) first.
            persistence = PersistenceWatch.for_store(config.store, report=gateway.metrics.store_persistence)
            stack.push_async_callback(persistence.close)
            await persistence.check(starting=True)
            persistence.start()
        key_store = await open_key_store(config.store)
        stack.push_async_callback(key_store.close)
        pepper = pepper_for(config.store, config.auth)
        # The identity providers' client: it calls only the issuers the configuration names.
        identity_client = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)
        stack.push_async_callback(identity_client.aclose)
        bearer_tokens = None
        if config.auth.jwt_issuers:
            bearer_tokens = BearerTokens(
                config.auth.jwt_issuers,
                identity_client,
                on_keys_unavailable=gateway.metrics.identity_keys_unavailable,
            )
        authenticator = build_authenticator(
            key_store,
            config.auth,
            pepper,
            admin_key_for(config.auth),
            keep_cache_during_outage=config.quotas.on_store_error == "fail_open",
            bearer_tokens=bearer_tokens,
        )
        stack.push_async_callback(authenticator.close)
        await authenticator.start()
        # The client is created on the worker's own event loop, once, and shared by every request.
        transport = create_upstream_transport(config.upstream)
        client = create_upstream_client(transport)
        stack.push_async_callback(client.aclose)
        redactor = await start_redactor(config.pii)
        if redactor is not None:
            stack.push_async_callback(redactor.close)
        health = HealthMonitor(client, gateway.backends, config.health)
        stack.push_async_callback(health.stop)
        health.start()
        shares = open_capacity_shares(config, gateway)
        if shares is not None:
            # Before the first request: this process admits against its share, not the whole capacity.
            await shares.start()
            stack.push_async_callback(shares.stop)
        tracing = build_tracing(config.tracing, gateway.span_exporter)
        tracer_provider = tracing.provider if tracing is not None else None
        if tracer_provider is not None:
            # The batch processor exports what it holds; its own timeout bounds the wait.
            stack.push_async_callback(asyncio.to_thread, tracer_provider.shutdown)
        audit = await start_audit_log(config.audit)
        if audit is not None:
            stack.push_async_callback(audit.close)
        recorder = await start_usage_recorder(config.store, config.metering)
        stack.push_async_callback(recorder.close)
        webhooks = WebhookSender(config.quotas.alerts)
        webhooks.start()
        stack.push_async_callback(webhooks.close)
        watch = BudgetWatch(
            config.quotas.alerts,
            ratio=gateway.metrics.budget_ratio,
            crossed=gateway.metrics.budget_alert,
            sender=webhooks if webhooks.enabled else None,
            claims=alert_claims(config.store),
        )
        stack.push_async_callback(watch.close)
        quotas = QuotaStep(config.quotas, await open_ledger(config.quotas, config.store), watch)
        stack.push_async_callback(quotas.close)
        # Drained before the ledger closes: the settlements still running write to it.
        background = BackgroundWork()
        stack.push_async_callback(background.drain)
        stack.push_async_callback(gateway.reloader.stop)
        gateway.reloader.start()
        request_tracing = None
        if tracing is not None:
            request_tracing = Tracing(
                tracing.tracer,
                tracing.sink,
                trust_incoming=config.tracing.trust_incoming_traceparent,
                record_content=config.tracing.record_content,
            )
        response_homes = await open_response_homes(config.store)
        stack.push_async_callback(response_homes.close)
        sticky = StickyResponses(response_homes, config.responses.sticky_ttl_seconds)
        observer = Observer(request_tracing, audit, gateway.metrics)
        forwarder = Forwarder(
            client, transport, config.health, max_response_bytes=config.upstream.max_response_bytes
        )
        pipeline = Pipeline(
            gateway.pools,
            authenticator,
            gateway.authorizer,
            quotas,
            forwarder,
            recorder,
            redactor,
            observer,
            max_choices=config.server.max_choices,
            max_file_bytes=config.server.max_audio_bytes,
            pricing=Pricing(config.quotas),
            usage_fields_in_answer=config.quotas.usage_fields_in_answer,
            background=background,
            sticky=sticky,
            admission=gateway.admission,
        )
        batches = None
        if config.batches.enabled:
            batch_store = await open_batch_store(config.store)
            stack.push_async_callback(batch_store.close)
            if config.store.kind == "redis" and config.batches.directory is None:
                # Records are shared, files would not be: another replica could not read them.
                logger.warning(
                    "batches.directory is not set: batch files go to %s on this host only; with several "
                    "replicas, set it to a directory they all share, or their files are lost to each other",
                    config.batches.files_directory(config.store.path),
                )
            directory = FileDirectory(config.batches.files_directory(config.store.path))
            directory.create()
            runner = BatchRunner(
                batch_store,
                directory,
                pipeline,
                config.batches,
                price_factor=config.quotas.batch_price_factor,
                key_store=key_store,
            )
            # Stopped first at shutdown: its lines in flight still settle, record and audit.
            stack.push_async_callback(runner.stop)
            runner.start()
            batches = Batches(config.batches, batch_store, directory, runner)
        yield Worker(
            gateway,
            key_store,
            pepper,
            authenticator,
            identity_client,
            quotas,
            recorder,
            audit,
            redactor,
            tracer_provider,
            pipeline,
            forwarder,
            observer,
            sticky,
            batches,
            shares,
        )
