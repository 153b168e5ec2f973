"""Telemetry: Prometheus metrics, and tracing (tracing.py and the modules it uses).

Metrics:

    settings        the `metrics` configuration section (MetricsConfig)
    metrics         GatewayMetrics: counted on the request path, rendered at /metrics
    route           metrics_routes: the Litestar handler for /metrics
    multiprocess    several workers: the shared directory (multiprocess_metrics, for `gateway serve`)
    families        every metric's name, help text, labels and multi-worker aggregation
    series          the per-label-set counters the request path adds to
    histograms      histograms observed in batches
    backends        the backend gauges, read from the router's Backend objects
    buckets         the OpenTelemetry GenAI bucket boundaries

Only the metrics' public names are exported here; tracing's modules are imported by their paths.
"""

from gateway.telemetry.buckets import (
    REQUEST_DURATION_BUCKETS,
    TIME_TO_FIRST_TOKEN_BUCKETS,
    TOKEN_USAGE_BUCKETS,
)
from gateway.telemetry.metrics import UNKNOWN, GatewayMetrics
from gateway.telemetry.multiprocess import (
    MULTIPROCESS_ENVIRONMENT,
    forget_dead_workers,
    multiprocess_metrics,
    shared_directory,
)
from gateway.telemetry.route import metrics_routes
from gateway.telemetry.settings import MetricsConfig

__all__ = [
    "MULTIPROCESS_ENVIRONMENT",
    "REQUEST_DURATION_BUCKETS",
    "TIME_TO_FIRST_TOKEN_BUCKETS",
    "TOKEN_USAGE_BUCKETS",
    "UNKNOWN",
    "GatewayMetrics",
    "MetricsConfig",
    "forget_dead_workers",
    "metrics_routes",
    "multiprocess_metrics",
    "shared_directory",
]
