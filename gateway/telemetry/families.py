"""Every metric the gateway exports: its name, its help text, its labels, and how workers add up.

Label values are bounded by construction: departments and services are the names keys were issued
for, models are the configured ones (anything else is counted as `unknown`), backends are the
configured URLs. Key ids, request ids and client addresses are never labels.

`multiprocess_mode` says how a gauge written by several workers is combined into one value (it is
ignored with one worker). The `live` modes drop a worker's values once it has exited.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.telemetry.buckets import (
    QUEUE_WAIT_BUCKETS,
    REQUEST_DURATION_BUCKETS,
    TIME_TO_FIRST_TOKEN_BUCKETS,
    TOKEN_USAGE_BUCKETS,
)
from gateway.telemetry.histograms import BatchedHistogram

__all__ = ["MetricFamilies", "create_families"]

_BACKEND = ("model", "backend")
_QUEUE = ("model", "class", "department")


@dataclass(frozen=True, slots=True)
class MetricFamilies:
    """The labelled metrics of one worker; children are taken once and kept by the callers."""

    requests: Counter
    tokens: Counter
    request_tokens: BatchedHistogram
    request_duration: BatchedHistogram
    time_to_first_token: BatchedHistogram
    requests_in_flight: Gauge
    backend_up: Gauge
    backend_ejected: Gauge
    backend_in_flight: Gauge
    backend_queue_depth: Gauge
    backend_running: Gauge
    backend_kv_cache_usage: Gauge
    backend_ejections: Counter
    quota_refusals: Counter
    pii_detections: Counter
    identity_keys_unavailable: Counter
    cost: Counter
    store_persistent: Gauge
    budget_used_ratio: Gauge
    budget_alerts: Counter
    energy: Counter
    emissions: Counter
    admission_queue_length: Gauge
    admission_wait: BatchedHistogram
    admission_shed: Counter


def create_families(registry: CollectorRegistry | None) -> MetricFamilies:
    """The metrics, registered in `registry` (None in multiprocess mode, where they are read back
    from the shared directory instead)."""
    return MetricFamilies(
        requests=Counter(
            "gateway_requests_total",
            "Requests answered, by the caller's department and service, model, operation and HTTP "
            "status (refusals included: 401, 403, 404, 429 ...).",
            ("department", "service", "model", "operation", "status"),
            registry=registry,
        ),
        tokens=Counter(
            "gateway_tokens_total",
            "Tokens the backends reported, by department, service, model and type (input or output).",
            ("department", "service", "model", "type"),
            registry=registry,
        ),
        request_tokens=BatchedHistogram(
            "gateway_request_tokens",
            "Tokens of one request, by model and type (input or output); the buckets of the "
            "OpenTelemetry GenAI metric gen_ai.client.token.usage.",
            ("model", "type"),
            registry=registry,
            buckets=TOKEN_USAGE_BUCKETS,
        ),
        request_duration=BatchedHistogram(
            "gateway_request_duration_seconds",
            "Time from a request's arrival to its end (the last byte of its answer, then its "
            "accounting), by model and operation; the buckets of gen_ai.client.operation.duration.",
            ("model", "operation"),
            registry=registry,
            buckets=REQUEST_DURATION_BUCKETS,
        ),
        time_to_first_token=BatchedHistogram(
            "gateway_time_to_first_token_seconds",
            "Time from a streamed request's arrival to its first event, by model; the buckets of "
            "gen_ai.server.time_to_first_token.",
            ("model",),
            registry=registry,
            buckets=TIME_TO_FIRST_TOKEN_BUCKETS,
        ),
        requests_in_flight=Gauge(
            "gateway_requests_in_flight",
            "Requests being served (reserved, not yet accounted), by model, all workers together.",
            ("model",),
            registry=registry,
            multiprocess_mode="livesum",
        ),
        backend_up=Gauge(
            "gateway_backend_up",
            "1 when the backend's last health check passed, 0 when it failed or the backend was "
            "unreachable; with several workers, 1 only if every worker sees it up.",
            _BACKEND,
            registry=registry,
            multiprocess_mode="livemin",
        ),
        backend_ejected=Gauge(
            "gateway_backend_ejected",
            "1 while the backend is ejected after consecutive failed requests (by any worker).",
            _BACKEND,
            registry=registry,
            multiprocess_mode="livemax",
        ),
        backend_in_flight=Gauge(
            "gateway_backend_in_flight",
            "Requests this gateway has in progress on the backend, all workers together (the "
            "backend's figure, repeated for each model it serves).",
            _BACKEND,
            registry=registry,
            multiprocess_mode="livesum",
        ),
        backend_queue_depth=Gauge(
            "gateway_backend_queue_depth",
            "Requests waiting in the backend's queue (vllm:num_requests_waiting at the last scrape of "
            "its /metrics, all clients).",
            _BACKEND,
            registry=registry,
            multiprocess_mode="livemostrecent",
        ),
        backend_running=Gauge(
            "gateway_backend_running",
            "Requests the backend is running (vllm:num_requests_running at the last scrape, all clients).",
            _BACKEND,
            registry=registry,
            multiprocess_mode="livemostrecent",
        ),
        backend_kv_cache_usage=Gauge(
            "gateway_backend_kv_cache_usage",
            "Fraction (0-1) of the backend's KV cache in use at the last scrape of its /metrics.",
            _BACKEND,
            registry=registry,
            multiprocess_mode="livemostrecent",
        ),
        backend_ejections=Counter(
            "gateway_backend_ejections_total",
            "Times the backend was ejected after consecutive failed requests (each worker ejects on "
            "its own; counted under each model the backend serves).",
            _BACKEND,
            registry=registry,
        ),
        quota_refusals=Counter(
            "gateway_quota_refusals_total",
            "Requests refused by a budget or rate limit (429), by department, service, the level of "
            "the limit (department, service or key) and its kind.",
            ("department", "service", "level", "limit"),
            registry=registry,
        ),
        pii_detections=Counter(
            "gateway_pii_detections_total",
            "Personal data found in requests, by department and entity type.",
            ("department", "entity_type"),
            registry=registry,
        ),
        identity_keys_unavailable=Counter(
            "gateway_identity_provider_keys_unavailable_total",
            "Failed fetches of an identity provider's metadata or signing keys (JWKS), by the name the "
            "configuration gives the provider; while they fail and no valid keys are cached, its "
            "tokens are refused (503).",
            ("provider",),
            registry=registry,
        ),
        cost=Counter(
            "gateway_cost_eur_total",
            "Euros the answered requests cost at the configured prices, by department, service and model.",
            ("department", "service", "model"),
            registry=registry,
        ),
        store_persistent=Gauge(
            "gateway_store_persistent",
            "1 when the Redis store persists its data (AOF or RDB), 0 when it does not (a restart "
            "loses keys, budgets and usage), -1 when Redis refuses to say; absent on the embedded store.",
            ("store",),
            registry=registry,
            multiprocess_mode="livemin",
        ),
        budget_used_ratio=Gauge(
            "gateway_budget_used_ratio",
            "Share used of each calendar budget (tokens or euros) of a department or service, in-flight "
            "reservations included, as the last reservation saw it; `service` is empty for a "
            "department's budget, `model` for a budget of every model.",
            ("department", "service", "level", "limit", "model"),
            registry=registry,
            multiprocess_mode="livemostrecent",
        ),
        budget_alerts=Counter(
            "gateway_budget_alerts_total",
            "Budgets that reached a threshold of quotas.alerts.thresholds (percent) in their period, "
            "counted once by the process that claimed the event, by department, service, level, limit "
            "and threshold.",
            ("department", "service", "level", "limit", "threshold"),
            registry=registry,
        ),
        energy=Counter(
            "gateway_energy_wh_total",
            "Estimated energy of the answered requests in watt-hours (EcoLogits' method, models whose "
            "size is configured), by department, service and model.",
            ("department", "service", "model"),
            registry=registry,
        ),
        emissions=Counter(
            "gateway_emissions_gco2eq_total",
            "Estimated emissions of the answered requests in grams of CO2 equivalent (the configured "
            "electricity mix), by department, service and model.",
            ("department", "service", "model"),
            registry=registry,
        ),
        admission_queue_length=Gauge(
            "gateway_admission_queue_length",
            "Requests waiting in the gateway's queue for a backend slot, by model, priority class and "
            "department, all workers together.",
            _QUEUE,
            registry=registry,
            multiprocess_mode="livesum",
        ),
        admission_wait=BatchedHistogram(
            "gateway_admission_wait_seconds",
            "Time a request waited in the gateway's queue for a backend slot (0 when one was free), "
            "by model, priority class and department.",
            _QUEUE,
            registry=registry,
            buckets=QUEUE_WAIT_BUCKETS,
        ),
        admission_shed=Counter(
            "gateway_admission_shed_total",
            "Requests refused by admission, by model, priority class, department and reason: "
            "queue_full and max_wait (429 pool_saturated), no_backend (503).",
            (*_QUEUE, "reason"),
            registry=registry,
        ),
    )
