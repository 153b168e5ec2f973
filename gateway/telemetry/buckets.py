"""Histogram bucket boundaries from the OpenTelemetry GenAI semantic conventions.

Dashboards and alerts written for those conventions then read the gateway's histograms without a
custom view. Each list is the `ExplicitBucketBoundaries` the conventions' metrics page
(docs/gen-ai/gen-ai-metrics.md) asks for; prometheus_client adds the `+Inf` bucket itself.
"""

from __future__ import annotations

__all__ = [
    "QUEUE_WAIT_BUCKETS",
    "REQUEST_DURATION_BUCKETS",
    "TIME_TO_FIRST_TOKEN_BUCKETS",
    "TOKEN_USAGE_BUCKETS",
]

TOKEN_USAGE_BUCKETS: tuple[float, ...] = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
"""`gen_ai.client.token.usage`: powers of four, from one token to 64 Mi tokens."""

REQUEST_DURATION_BUCKETS: tuple[float, ...] = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
"""`gen_ai.client.operation.duration` (and `gen_ai.server.request.duration`), in seconds."""

TIME_TO_FIRST_TOKEN_BUCKETS: tuple[float, ...] = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
"""`gen_ai.server.time_to_first_token`, in seconds."""

QUEUE_WAIT_BUCKETS: tuple[float, ...] = (
    0.0,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)
"""A wait in the admission queue: 0 (a slot was free) counted apart, then 5 ms to 5 minutes."""
