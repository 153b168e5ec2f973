"""Spans in OTLP's JSON encoding (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`).

OTLP/HTTP carries the same `ExportTraceServiceRequest` as protobuf or as JSON; every OpenTelemetry
Collector, Jaeger and Tempo receiver accepts both. The SDK for Python only writes protobuf, and its
encoder builds one protobuf object per span, attribute and value: about 25 µs a span, which at 100%
sampling (nine spans a request) is a fifth of a gateway worker's CPU. Built as plain dicts and
serialized by msgspec, the same request costs about 5 µs a span.

The JSON follows the OTLP specification's rules for the protobuf JSON mapping: field names in
lowerCamelCase, trace and span ids as hex strings (not base64), enums as integers, 64-bit integers
as decimal strings, fields at their default value left out. A test parses the output back into the
protobuf message and compares it with the SDK's own protobuf encoding of the same spans.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind

__all__ = ["encode_spans"]

# OTLP's SpanKind starts with UNSPECIFIED = 0; the API's starts with INTERNAL = 0.
_KINDS = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}
# SpanFlags: bit 8 says whether the parent's remoteness is known, bit 9 that it is remote.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200

_encoder = msgspec.json.Encoder()


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):  # before int: bool is an int
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (tuple, list)):  # before the ABCs below, whose isinstance is slow
        return {"arrayValue": {"values": [_value(item) for item in value]}}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": _attributes(value)}}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [_value(item) for item in value]}}
    if value is None:
        return {}
    raise TypeError(f"an attribute value of type {type(value).__name__} cannot be exported")


def _attributes(attributes: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not attributes:
        return []
    return [{"key": key, "value": _value(value)} for key, value in attributes.items()]


def _trace_state(context: SpanContext) -> str:
    state = context.trace_state
    return ",".join(f"{key}={value}" for key, value in state.items()) if state else ""


def _span(span: ReadableSpan) -> dict[str, Any]:
    context = span.context
    assert context is not None  # an ended SDK span always has one
    parent = span.parent
    encoded: dict[str, Any] = {
        "traceId": format(context.trace_id, "032x"),
        "spanId": format(context.span_id, "016x"),
        "name": span.name,
        "kind": _KINDS[span.kind],
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or 0),
        "flags": _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0),
    }
    trace_state = _trace_state(context)
    if trace_state:
        encoded["traceState"] = trace_state
    if parent is not None:
        encoded["parentSpanId"] = format(parent.span_id, "016x")
    if span.attributes:
        encoded["attributes"] = _attributes(span.attributes)
    if span.dropped_attributes:
        encoded["droppedAttributesCount"] = span.dropped_attributes
    if span.events:
        encoded["events"] = [_event(event) for event in span.events]
    if span.dropped_events:
        encoded["droppedEventsCount"] = span.dropped_events
    if span.links:
        encoded["links"] = [_link(link) for link in span.links]
    if span.dropped_links:
        encoded["droppedLinksCount"] = span.dropped_links
    status = span.status
    status_json: dict[str, Any] = {}
    if status.status_code.value:
        status_json["code"] = status.status_code.value
    if status.description:
        status_json["message"] = status.description
    encoded["status"] = status_json
    return encoded


def _event(event: Any) -> dict[str, Any]:
    encoded: dict[str, Any] = {"name": event.name, "timeUnixNano": str(event.timestamp)}
    if event.attributes:
        encoded["attributes"] = _attributes(event.attributes)
    if event.dropped_attributes:
        encoded["droppedAttributesCount"] = event.dropped_attributes
    return encoded


def _link(link: Any) -> dict[str, Any]:
    context: SpanContext = link.context
    encoded: dict[str, Any] = {
        "traceId": format(context.trace_id, "032x"),
        "spanId": format(context.span_id, "016x"),
        "flags": _HAS_IS_REMOTE | (_IS_REMOTE if context.is_remote else 0),
    }
    trace_state = _trace_state(context)
    if trace_state:
        encoded["traceState"] = trace_state
    if link.attributes:
        encoded["attributes"] = _attributes(link.attributes)
    if link.dropped_attributes:
        encoded["droppedAttributesCount"] = link.dropped_attributes
    return encoded


def _scope(scope: InstrumentationScope | None) -> dict[str, Any]:
    if scope is None:
        return {}
    encoded: dict[str, Any] = {"name": scope.name}
    if scope.version:
        encoded["version"] = scope.version
    if scope.attributes:
        encoded["attributes"] = _attributes(scope.attributes)
    return encoded


def encode_spans(
    spans: Sequence[ReadableSpan], *, pause: Callable[[], None] | None = None, pause_every: int = 32
) -> bytes:
    """One `ExportTraceServiceRequest`, spans grouped by resource, then by instrumentation scope.

    `pause` is called after every `pause_every` spans: the exporter's thread gives the interpreter
    lock back there, so that encoding a batch of 512 spans (about 3 ms) never holds the event loop
    for up to the interpreter's 5 ms switch interval."""
    # Resources are grouped by identity (a worker's spans share one Resource object, and Resource's
    # own hash serializes its attributes to JSON on every call); scopes by value (their hash is cheap).
    grouped: dict[int, tuple[Resource, dict[InstrumentationScope | None, list[dict[str, Any]]]]] = {}
    for index, span in enumerate(spans, 1):
        if pause is not None and not index % pause_every:
            pause()
        resource = span.resource
        _, by_scope = grouped.setdefault(id(resource), (resource, {}))
        by_scope.setdefault(span.instrumentation_scope or None, []).append(_span(span))
    resource_spans = []
    for resource, by_scope in grouped.values():
        scope_spans = []
        for scope, encoded in by_scope.items():
            entry: dict[str, Any] = {"scope": _scope(scope), "spans": encoded}
            if scope is not None and scope.schema_url:
                entry["schemaUrl"] = scope.schema_url
            scope_spans.append(entry)
        resource_entry: dict[str, Any] = {
            "resource": {"attributes": _attributes(resource.attributes)},
            "scopeSpans": scope_spans,
        }
        if resource.schema_url:
            resource_entry["schemaUrl"] = resource.schema_url
        resource_spans.append(resource_entry)
    return _encoder.encode({"resourceSpans": resource_spans})
