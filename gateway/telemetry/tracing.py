"""OpenTelemetry tracing: the tracer provider, set up from the configuration and the `OTEL_*` variables.

The exporter, its endpoint, headers and protocol, the sampler, the service name and the resource
attributes all come from OpenTelemetry's standard environment variables, as every collector and
operator expects. One sovereignty rule is added: with tracing on, the collector's endpoint must be
named (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`); the SDK's implicit
default (localhost:4318) is never used behind the operator's back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Tracer, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from pydantic import BaseModel, ConfigDict

from gateway.telemetry.recorded_span import SpanSink

__all__ = ["TracingConfig", "TracingPipeline", "TracingSetupError", "build_tracing"]

_DEFAULT_SERVICE_NAME = "sovereign-gateway"
_INSTRUMENTATION_NAME = "gateway"


class TracingConfig(BaseModel):
    """Request tracing. Where spans go is set by the standard `OTEL_*` environment variables."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = False
    """Trace every sampled request (the sampler is `OTEL_TRACES_SAMPLER`, parent-based always-on by
    default). Off: no span is created and the pipeline does no tracing work at all."""
    trust_incoming_traceparent: bool = False
    """Continue the caller's trace from its `traceparent` header. Off by default: an untrusted client
    could otherwise choose trace ids and sampling; turn it on when the callers are your own services."""
    record_content: bool = False
    """Record prompts and completions on the upstream span (as span events). Only the redacted text
    is ever recorded: what the backend received, with personal data already masked or pseudonymized."""


@dataclass(frozen=True, slots=True)
class TracingPipeline:
    """A worker's tracer provider, its tracer, and the sink the request's child spans go to."""

    provider: TracerProvider
    tracer: Tracer
    sink: SpanSink


class TracingSetupError(Exception):
    """Tracing cannot start as configured; the message says what to set."""


def _named_endpoint() -> str | None:
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )


def _protocol() -> str:
    return (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )


def _check_exporter_settings() -> None:
    """At start, with a message that says what to set."""
    if _named_endpoint() is None:
        raise TracingSetupError(
            "tracing.enabled is true but no collector is named: set OTEL_EXPORTER_OTLP_ENDPOINT "
            "(or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), e.g. http://otel-collector:4318"
        )
    if _protocol() not in _PROTOCOLS:
        raise _unsupported(_protocol())


_PROTOCOLS = ("grpc", "http/protobuf", "http/json")


def _unsupported(protocol: str) -> TracingSetupError:
    return TracingSetupError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; use http/protobuf, http/json or grpc"
    )


def _otlp_exporter() -> SpanExporter:
    """The OTLP exporter the OTEL_* variables configure: the SDK's for protobuf and gRPC, ours for
    JSON (the SDK has none, and JSON costs a fifth of protobuf's encoding time: otlp_json.py)."""
    protocol = _protocol()
    if protocol == "http/json":
        from gateway.telemetry.otlp_json_exporter import OtlpJsonSpanExporter

        try:
            return OtlpJsonSpanExporter.from_environment()
        except (ValueError, OSError) as exc:
            raise TracingSetupError(f"tracing: {exc}") from None
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    raise _unsupported(protocol)


# The batch processor's defaults, where the OTEL_BSP_* variables do not set them. A worker tracing
# 1,000 requests a second ends 8,000 spans a second: the SDK's queue of 2,048 spans is a quarter of a
# second of them, so a collector that stalls that long loses spans; 16,384 hold two seconds. Batches
# leave at least every 500 ms (the SDK: 5 s), so that a worker that dies loses less and the
# collector sees spans sooner.
_BATCH_DEFAULTS = {
    "OTEL_BSP_MAX_QUEUE_SIZE": ("max_queue_size", 16_384),
    "OTEL_BSP_SCHEDULE_DELAY": ("schedule_delay_millis", 500),
}


def _batch_processor(exporter: SpanExporter) -> BatchSpanProcessor:
    settings = {
        name: value for variable, (name, value) in _BATCH_DEFAULTS.items() if variable not in os.environ
    }
    return BatchSpanProcessor(exporter, **settings)  # type: ignore[arg-type]


def build_tracing(config: TracingConfig, exporter: SpanExporter | None = None) -> TracingPipeline | None:
    """The worker's provider with a batch processor, or None when tracing is off.

    `exporter` replaces the OTLP exporter (tests pass an in-memory one)."""
    if not config.enabled or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    resource = Resource.create({})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        # Neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES named the service.
        resource = resource.merge(Resource({"service.name": _DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(resource=resource)
    if exporter is None:
        _check_exporter_settings()
        exporter = _otlp_exporter()
    processor = _batch_processor(exporter)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer(_INSTRUMENTATION_NAME)
    # The SDK's own tracer: request_trace.py reads its sampler and id generator.
    assert isinstance(tracer, Tracer)
    scope = InstrumentationScope(_INSTRUMENTATION_NAME, "")  # the same as the tracer's
    return TracingPipeline(provider, tracer, SpanSink(processor, provider.resource, scope))
