"""`GatewayMetrics`: what the pipeline calls on every request, and what `/metrics` renders.

One instance per worker, built with the worker's pools. The request path only adds to plain
Python counters (about a microsecond per request, see loadtests/bench_metrics.py); the counts
reach prometheus_client at each scrape, and with several workers also every
`flush_interval_seconds`, so that the worker answering a scrape sees the others' counts.

Call everything from the worker's event loop (the pipeline, the route and `start` do).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics
from prometheus_client.exposition import choose_encoder

from gateway.quotas.settings import LIMIT_KINDS
from gateway.telemetry.backends import BackendGauges
from gateway.telemetry.families import create_families
from gateway.telemetry.multiprocess import (
    collect_directory,
    forget_dead_workers,
    forget_worker,
    shared_directory,
)
from gateway.telemetry.queues import QueueGauges
from gateway.telemetry.series import (
    DurationSeries,
    ModelSeries,
    QueueSeries,
    RejectionSeries,
    RequestSeries,
)
from gateway.telemetry.settings import MetricsConfig

if TYPE_CHECKING:
    # Only for annotations: gateway.config imports this package for MetricsConfig, and
    # gateway.routing imports gateway.config.
    from gateway.admission.scheduler import Admission
    from gateway.routing.pool import ModelPool

__all__ = ["UNKNOWN", "GatewayMetrics"]

logger = logging.getLogger("gateway.metrics")

UNKNOWN = "unknown"
"""The label value of a model that is not configured (a client may send any name: each one must not
become a series), and of a department or service not known yet (a request refused before its key
was checked)."""
_OTHER = "other"
_QUOTA_LEVELS = frozenset(("department", "service", "key"))
_QUOTA_LIMITS = frozenset(LIMIT_KINDS)


class GatewayMetrics:
    """The Prometheus metrics of one worker: counted on the request path, rendered for `/metrics`.

    Every request that reaches its reservation is `request_started` then `request_finished` exactly
    once; one refused before (401, 400, 404, 403, 429) is only `request_rejected`.
    """

    def __init__(
        self,
        pools: Mapping[str, ModelPool],
        config: MetricsConfig | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.config = config or MetricsConfig()
        self.directory: Path | None = shared_directory()
        """The directory the workers share, or None with one worker (single-process mode)."""
        self._registry = CollectorRegistry()
        if self.directory is None:
            # `_created` series double what a scrape carries; Prometheus' text format has no use for them.
            disable_created_metrics()  # type: ignore[no-untyped-call]
            self._families = create_families(self._registry)
        else:
            # The values go to this worker's files; a scrape reads every worker's files back.
            self._families = create_families(None)
            collect_directory(self._registry, self.directory)
        self._configured_models = frozenset(pools)
        self._models = {name: ModelSeries(self._families, name) for name in pools}
        self._durations: dict[tuple[str, str], DurationSeries] = {}
        self._requests: dict[tuple[str, str, str, str, int], RequestSeries] = {}
        self._rejections: dict[tuple[str, str, str, str, int], RejectionSeries] = {}
        self._quota_refusals: dict[tuple[str, str, str, str], Counter] = {}
        self._pii_detections: dict[tuple[str, str], Counter] = {}
        self._budget_gauges: dict[tuple[str, str, str, str, str], Gauge] = {}
        self._backends = BackendGauges(self._families, pools)
        self._queue_gauges = QueueGauges(self._families, admission) if admission is not None else None
        self._queues: dict[tuple[str, str, str], QueueSeries] = {}
        self._flusher: asyncio.Task[None] | None = None

    @property
    def multiprocess(self) -> bool:
        return self.directory is not None

    # The request path. Label values are checked once, when their series is made.

    def request_started(self, model: str) -> None:
        """A request holds its reservation and goes to a backend: one more in flight for `model`."""
        series = self._models.get(model)
        if series is None:
            series = self._model_series(UNKNOWN)
        series.in_flight += 1

    def request_finished(
        self,
        department: str,
        service: str,
        model: str,
        operation: str,
        status: int,
        duration_s: float,
        ttft_s: float | None,
        input_tokens: int,
        output_tokens: int,
        cost_eur: float = 0.0,
        energy_wh: float = 0.0,
        emissions_gco2eq: float = 0.0,
    ) -> None:
        """A request that was `request_started` has been accounted: counted with its status, its
        duration (arrival to last byte), its time to first token (streams only, else None), the
        tokens the backend reported (0 when it reported none: no token observation is made then),
        its price and its estimated energy and emissions."""
        if model not in self._configured_models:
            model = UNKNOWN
        series = self._requests.get((department, service, model, operation, status))
        if series is None:
            series = self._request_series(department, service, model, operation, status)
        series.requests += 1
        model_series = series.model
        if input_tokens > 0:
            series.input_tokens += input_tokens
            model_series.input_usage.add(input_tokens)
        if output_tokens > 0:
            series.output_tokens += output_tokens
            model_series.output_usage.add(output_tokens)
        series.cost_eur += cost_eur
        series.energy_wh += energy_wh
        series.emissions_gco2eq += emissions_gco2eq
        series.duration.durations.add(duration_s)
        if ttft_s is not None:
            model_series.ttft.add(ttft_s)
        model_series.in_flight -= 1

    def request_rejected(
        self, department: str, service: str, model: str, operation: str, status: int
    ) -> None:
        """A request refused before its reservation: counted in `gateway_requests_total` only (its
        duration would drag the latency histogram toward zero). Pass "" for what is not known yet."""
        if model not in self._configured_models:
            model = UNKNOWN
        key = (department, service, model, operation, status)
        series = self._rejections.get(key)
        if series is None:
            labels = (department or UNKNOWN, service or UNKNOWN, model, operation, str(status))
            series = self._rejections[key] = RejectionSeries(self._families, labels)
        series.requests += 1

    def quota_refused(self, department: str, service: str, level: str, limit: str) -> None:
        """A 429 from a budget or rate limit: `level` is the refusing counter's level (department,
        service or key, never the key's id) and `limit` its kind (tokens_per_day, ...)."""
        key = (department, service, level, limit)
        counter = self._quota_refusals.get(key)
        if counter is None:
            counter = self._families.quota_refusals.labels(
                department or UNKNOWN,
                service or UNKNOWN,
                level if level in _QUOTA_LEVELS else _OTHER,
                limit if limit in _QUOTA_LIMITS else _OTHER,
            )
            self._quota_refusals[key] = counter
        counter.inc()

    def budget_ratio(
        self, department: str, service: str, level: str, limit: str, model: str, ratio: float
    ) -> None:
        """A budget's share used (`gateway.quotas.alerts`); labels bounded by the configured budgets."""
        key = (department, service, level, limit, model)
        gauge = self._budget_gauges.get(key)
        if gauge is None:
            gauge = self._budget_gauges[key] = self._families.budget_used_ratio.labels(*key)
        gauge.set(ratio)

    def budget_alert(self, department: str, service: str, level: str, limit: str, threshold: int) -> None:
        self._families.budget_alerts.labels(department, service, level, limit, str(threshold)).inc()

    def store_persistence(self, value: int) -> None:
        """The Redis store's persistence as `gateway.storage.persistence` last saw it (1, 0, -1)."""
        self._families.store_persistent.labels("redis").set(value)

    def pii_detected(self, department: str, counts: Mapping[str, int]) -> None:
        """Personal data found in one request: how many of each entity type (EMAIL, IBAN, ...)."""
        for entity_type, count in counts.items():
            if count <= 0:
                continue
            key = (department, entity_type)
            counter = self._pii_detections.get(key)
            if counter is None:
                counter = self._families.pii_detections.labels(department or UNKNOWN, entity_type)
                self._pii_detections[key] = counter
            counter.inc(count)

    def identity_keys_unavailable(self, provider: str) -> None:
        """A provider's metadata or JWKS could not be fetched (`provider`: its configured name)."""
        self._families.identity_keys_unavailable.labels(provider).inc()

    def admission_waited(self, model: str, class_name: str, department: str, seconds: float) -> None:
        """A request got its backend slot after `seconds` in the queue (0: a slot was free)."""
        self._queue_series(model, class_name, department).waits.add(seconds)

    def admission_shed(self, model: str, class_name: str, department: str, reason: str) -> None:
        """A request refused by admission: `queue_full`, `max_wait` or `no_backend`."""
        shed = self._queue_series(model, class_name, department).shed
        shed[reason] = shed.get(reason, 0) + 1

    def _queue_series(self, model: str, class_name: str, department: str) -> QueueSeries:
        key = (model, class_name, department)
        series = self._queues.get(key)
        if series is None:  # the model is a configured one: admission runs after the model is found
            series = self._queues[key] = QueueSeries(
                self._families, (model, class_name, department or UNKNOWN)
            )
        return series

    # Publishing.

    def flush(self) -> None:
        """Hand the counts gathered since the last flush to prometheus_client, and copy the backends'
        state into their gauges. With several workers, this is what makes them visible to a scrape
        answered by another worker."""
        for request_series in self._requests.values():
            request_series.flush()
        for rejection_series in self._rejections.values():
            rejection_series.flush()
        for model_series in self._models.values():
            model_series.flush()
        for duration_series in self._durations.values():
            duration_series.flush()
        for queue_series in self._queues.values():
            queue_series.flush()
        self._backends.publish()
        if self._queue_gauges is not None:
            self._queue_gauges.publish()

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition for a scrape, and its content type: Prometheus' text format, or
        OpenMetrics when the scraper's `Accept` header asks for it."""
        self.flush()
        if self.directory is not None:
            forget_dead_workers(self.directory)
        encode, content_type = choose_encoder(accept or "")
        return encode(self._registry), content_type

    async def start(self) -> None:
        """With several workers, flush every `flush_interval_seconds` (call on the worker's loop)."""
        if self.directory is not None and self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_periodically())

    async def stop(self) -> None:
        """At the worker's exit: a last flush; with several workers, this worker's gauges are
        removed (its counters and histograms stay in the totals)."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        self.flush()
        if self.directory is not None:
            forget_worker(os.getpid(), self.directory)

    async def _flush_periodically(self) -> None:
        interval = self.config.flush_interval_seconds
        while True:
            await asyncio.sleep(interval)
            # A flush that failed once (a full disk) must not stop the next ones.
            try:
                self.flush()
            except Exception:
                logger.exception("writing metrics to %s failed", self.directory)

    # Series are made on first use, with their labels checked and their children taken once.

    def _model_series(self, model: str) -> ModelSeries:
        series = self._models.get(model)
        if series is None:
            series = self._models[model] = ModelSeries(self._families, model)
        return series

    def _request_series(
        self, department: str, service: str, model: str, operation: str, status: int
    ) -> RequestSeries:
        duration = self._durations.get((model, operation))
        if duration is None:
            duration = self._durations[(model, operation)] = DurationSeries(self._families, model, operation)
        labels = (department or UNKNOWN, service or UNKNOWN, model, operation, str(status))
        series = RequestSeries(self._families, labels, self._model_series(model), duration)
        self._requests[(department, service, model, operation, status)] = series
        return series
