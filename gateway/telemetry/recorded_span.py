"""The spans of a traced request, recorded as plain fields and handed over when they end.

The SDK's `Tracer.start_span` and `Span.end` cost 20-30 µs a span (a lock and bounded attributes per
span, the processors' start and end hooks); a request has nine. A `RecordedSpan` costs a few
microseconds: it keeps its name, times and attributes, and on `end` gives the span processor the
same `ReadableSpan` the SDK would have made, so exporters, sampling flags and the tests' in-memory
exporter see no difference. Sampling is decided before one is made (request_trace.py asks the
provider's sampler, as the SDK would).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

__all__ = ["RecordedSpan", "SpanSink"]

_UNSET = Status(StatusCode.UNSET)
# Span ids come from the same kind of generator as the SDK's (RandomIdGenerator: random.getrandbits).
_random_bits = random.getrandbits


class SpanSink:
    """Where recorded spans go: the provider's span processor, with its resource and scope."""

    __slots__ = ("_processor", "resource", "scope")

    def __init__(self, processor: SpanProcessor, resource: Resource, scope: InstrumentationScope) -> None:
        self._processor = processor
        self.resource = resource
        self.scope = scope

    def emit(self, span: ReadableSpan) -> None:
        self._processor.on_end(span)


def _child_context(parent: SpanContext) -> SpanContext:
    """A new span's context in the parent's trace, with the parent's flags and trace state."""
    span_id = _random_bits(64)
    while not span_id:  # 0 is the invalid span id
        span_id = _random_bits(64)
    return SpanContext(
        parent.trace_id,
        span_id,
        is_remote=False,
        trace_flags=parent.trace_flags,
        trace_state=parent.trace_state,
    )


def _attribute_value(value: Any) -> Any:
    # What the SDK's BoundedAttributes would store: sequences as tuples (lists are mutable).
    return tuple(value) if isinstance(value, list) else value


class RecordedSpan:
    """One child span, with the part of the `Span` API the pipeline uses."""

    __slots__ = (
        "_attributes",
        "_context",
        "_ended",
        "_kind",
        "_name",
        "_parent",
        "_sink",
        "_start",
        "_status",
    )

    def __init__(
        self,
        sink: SpanSink,
        name: str,
        parent: SpanContext | None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        *,
        context: SpanContext | None = None,
    ) -> None:
        """A child of `parent`, or, given its own `context`, a span whose ids and flags were decided
        by the caller (a request's SERVER span: a root, or the child of a caller's remote span)."""
        self._sink = sink
        self._name = name
        self._parent = parent
        self._kind = kind
        if context is None:
            if parent is None:
                raise ValueError("a span needs a parent or its own context")
            context = _child_context(parent)
        self._context = context
        self._attributes: dict[str, Any] = {}
        self._status = _UNSET
        self._ended = False
        if attributes:
            self.set_attributes(attributes)
        self._start = time.time_ns()

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return not self._ended

    def set_attribute(self, key: str, value: Any) -> None:
        if value is not None and not self._ended:
            self._attributes[key] = _attribute_value(value)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_status(self, status: Status) -> None:
        # As the SDK does: OK is final, and UNSET never replaces what was set.
        if self._ended or self._status.status_code is StatusCode.OK or status.status_code is StatusCode.UNSET:
            return
        self._status = status

    def end(self) -> None:
        if self._ended:
            return
        self._ended = True
        sink = self._sink
        sink.emit(
            ReadableSpan(
                self._name,
                context=self._context,
                parent=self._parent,
                resource=sink.resource,
                attributes=self._attributes,
                kind=self._kind,
                status=self._status,
                start_time=self._start,
                end_time=time.time_ns(),
                instrumentation_scope=sink.scope,
                events=_NO_EVENTS,
                links=_NO_LINKS,
            )
        )


_NO_EVENTS: Sequence[Any] = ()
_NO_LINKS: Sequence[Any] = ()
