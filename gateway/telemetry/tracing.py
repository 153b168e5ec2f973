"""OpenTelemetry tracing: the tracer provider, set up from the configuration and the `OTEL_*` variables.

The exporter, its endpoint, headers and protocol, the sampler, the service name and the resource
attributes all come from OpenTelemetry's standard environment variables, as every collector and
operator expects. One sovereignty rule is added: with tracing on, the collector's endpoint must be
named (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`); the SDK's implicit
default (localhost:4318) is never used behind the operator's back.
"""

from __future__ import annotations

import os

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Tracer
from pydantic import BaseModel, ConfigDict

__all__ = ["TracingConfig", "TracingSetupError", "build_tracer_provider", "tracer_of"]

_DEFAULT_SERVICE_NAME = "sovereign-gateway"
_INSTRUMENTATION_NAME = "gateway"


class TracingConfig(BaseModel):
    """Request tracing. Where spans go is set by the standard `OTEL_*` environment variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    """Trace every sampled request (the sampler is `OTEL_TRACES_SAMPLER`, parent-based always-on by
    default). Off: no span is created and the pipeline does no tracing work at all."""
    trust_incoming_traceparent: bool = False
    """Continue the caller's trace from its `traceparent` header. Off by default: an untrusted client
    could otherwise choose trace ids and sampling; turn it on when the callers are your own services."""
    record_content: bool = False
    """Record prompts and completions on the upstream span (as span events). Only the redacted text
    is ever recorded: what the backend received, with personal data already masked or pseudonymized."""


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
    if _protocol() not in ("grpc", "http/protobuf"):
        raise TracingSetupError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={_protocol()!r} is not supported; use http/protobuf or grpc"
        )


def _otlp_exporter() -> SpanExporter:
    """The SDK's OTLP exporter, as the OTEL_* variables configure it."""
    protocol = _protocol()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    raise TracingSetupError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; use http/protobuf or grpc"
    )


def build_tracer_provider(
    config: TracingConfig, exporter: SpanExporter | None = None
) -> TracerProvider | None:
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
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def tracer_of(provider: TracerProvider) -> Tracer:
    return provider.get_tracer(_INSTRUMENTATION_NAME)
