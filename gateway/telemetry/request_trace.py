"""The spans of one request: a SERVER span, one child per pipeline step, and the upstream CLIENT span.

    POST /v1/chat/completions          SERVER   http.*, gateway.department/service/key_id
    ├── authenticate
    ├── authorize                               gateway.policy.rule
    ├── redact                                  gateway.pii.<TYPE> counts
    ├── reserve
    ├── route                                   gateway.backend
    ├── chat mistral-small             CLIENT   gen_ai.*, server.*, gateway.upstream.attempts
    ├── restore                                 (pseudonymized requests: until the answer is out)
    └── settle

Spans are started with an explicit parent rather than made current, so nothing is attached to the
event loop's context and nothing leaks between requests. Every span is a `RecordedSpan`, which costs
a few microseconds instead of the SDK's 20-30 and reaches the same span processor; the SERVER span's
ids and sampling are decided as the SDK's `Tracer.start_span` decides them, by the provider's id
generator and sampler (`OTEL_TRACES_SAMPLER`). `NO_TRACE` has the same methods and does nothing:
with tracing off the pipeline runs the same code at the cost of a few no-op calls.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.errors import GatewayError
from gateway.telemetry.recorded_span import RecordedSpan, SpanSink

__all__ = [
    "NO_SPAN",
    "NO_TRACE",
    "AnySpan",
    "AnyTrace",
    "RequestTrace",
    "Tracing",
    "error_type",
    "server_attributes",
]

_PROPAGATOR = TraceContextTextMapPropagator()
_EMPTY_CONTEXT = Context()


def error_type(exc: BaseException) -> str:
    """A low-cardinality name for a failure: the gateway's error code, else the exception's class."""
    if isinstance(exc, GatewayError):
        return exc.code or type(exc).__name__
    return type(exc).__name__


class _Step:
    """A child span around one pipeline step; records the error type if the step raises."""

    __slots__ = ("span",)

    def __init__(self, span: RecordedSpan) -> None:
        self.span = span

    def __enter__(self) -> RecordedSpan:
        return self.span

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self.span.set_attribute("error.type", error_type(exc))
            self.span.set_status(Status(StatusCode.ERROR))
        self.span.end()


class _NoSpan:
    """Stands for a span when tracing is off."""

    __slots__ = ()

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        pass

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None) -> None:
        pass

    def set_status(self, status: Status) -> None:
        pass

    def is_recording(self) -> bool:
        return False

    def end(self) -> None:
        pass

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_NO_SPAN = _NoSpan()
NO_SPAN = _NO_SPAN
"""A span that records nothing: what an untraced call, or one not yet answered, carries."""


class RequestTrace:
    """The spans of one traced request."""

    __slots__ = ("_ended", "_server", "_server_context", "_sink", "trace_id", "traced")

    def __init__(
        self, tracer: Tracer, sink: SpanSink, name: str, parent: Context, attributes: dict[str, Any]
    ) -> None:
        self._sink = sink
        remote = trace.get_current_span(parent).get_span_context()
        remote_parent = remote if remote.is_valid else None
        span_context, sampled_attributes = _server_span_context(
            tracer, name, parent, remote_parent, attributes
        )
        self._server_context = span_context
        self.trace_id: str | None = format(span_context.trace_id, "032x")
        # A request the sampler left out keeps its trace id (and passes it on, unsampled) but records
        # nothing: its steps cost a no-op each, as with tracing off.
        self.traced = sampled_attributes is not None
        self._server: RecordedSpan | NonRecordingSpan
        if sampled_attributes is None:
            self._server = NonRecordingSpan(span_context)
        else:
            self._server = RecordedSpan(
                sink,
                name,
                remote_parent,
                SpanKind.SERVER,
                sampled_attributes,
                context=span_context,
            )
        self._ended = False

    def step(self, name: str) -> _Step | _NoSpan:
        if not self.traced:
            return _NO_SPAN
        return _Step(RecordedSpan(self._sink, name, self._server_context))

    def span(self, name: str) -> RecordedSpan | _NoSpan:
        """A step that outlives a `with` block (restoring a stream); whoever holds it ends it."""
        if not self.traced:
            return _NO_SPAN
        return RecordedSpan(self._sink, name, self._server_context)

    def upstream(
        self, name: str, attributes: dict[str, Any], headers: dict[str, str]
    ) -> RecordedSpan | _NoSpan:
        """The CLIENT span of the upstream call; its `traceparent` goes into `headers`, so that the
        backend's own span (vLLM with --otlp-traces-endpoint) becomes its child."""
        if not self.traced:
            # The trace goes on, unsampled.
            carrier = NonRecordingSpan(self._server_context)
            _PROPAGATOR.inject(headers, context=trace.set_span_in_context(carrier, _EMPTY_CONTEXT))
            return _NO_SPAN
        span = RecordedSpan(self._sink, name, self._server_context, SpanKind.CLIENT, attributes)
        carrier = NonRecordingSpan(span.get_span_context())
        _PROPAGATOR.inject(headers, context=trace.set_span_in_context(carrier, _EMPTY_CONTEXT))
        return span

    def annotate(self, attributes: Mapping[str, Any]) -> None:
        self._server.set_attributes(attributes)

    def finish(self, status: int, error: str | None = None) -> None:
        """End the SERVER span once, with the status the client got."""
        if self._ended:
            return
        self._ended = True
        self._server.set_attribute("http.response.status_code", status)
        if error is not None or status >= 500:
            self._server.set_attribute("error.type", error or str(status))
        if status >= 500:
            self._server.set_status(Status(StatusCode.ERROR))
        self._server.end()


class _NoTrace:
    """`RequestTrace` when tracing is off."""

    __slots__ = ()

    trace_id: str | None = None
    traced = False

    def step(self, name: str) -> _NoSpan:
        return _NO_SPAN

    def span(self, name: str) -> _NoSpan:
        return _NO_SPAN

    def upstream(self, name: str, attributes: dict[str, Any], headers: dict[str, str]) -> _NoSpan:
        return _NO_SPAN

    def annotate(self, attributes: Mapping[str, Any]) -> None:
        pass

    def finish(self, status: int, error: str | None = None) -> None:
        pass


NO_TRACE = _NoTrace()
AnyTrace = RequestTrace | _NoTrace
AnySpan = Span | RecordedSpan | _NoSpan


class Tracing:
    """Starts the trace of each request (one per worker)."""

    def __init__(self, tracer: Tracer, sink: SpanSink, *, trust_incoming: bool, record_content: bool) -> None:
        self._tracer = tracer
        self._sink = sink
        self._trust_incoming = trust_incoming
        self.record_content = record_content

    def start(self, method: str, path: str, headers: Mapping[str, str], request_id: str) -> RequestTrace:
        parent = _PROPAGATOR.extract(headers) if self._trust_incoming else _EMPTY_CONTEXT
        attributes = {
            "http.request.method": method,
            "url.path": path,
            "http.route": path,
            "gateway.request_id": request_id,
        }
        return RequestTrace(self._tracer, self._sink, f"{method} {path}", parent, attributes)


def _server_span_context(
    tracer: Tracer,
    name: str,
    parent: Context,
    remote_parent: SpanContext | None,
    attributes: dict[str, Any],
) -> tuple[SpanContext, Mapping[str, Any] | None]:
    """The SERVER span's context, decided as `Tracer.start_span` decides it, and its attributes, or
    None when the sampler does not record it.

    In the caller's trace when `parent` holds a valid remote span, else in a new one; the sampler
    sees the same arguments as from the SDK, so `OTEL_TRACES_SAMPLER` (parent-based or ratio) means
    the same thing here."""
    ids = tracer.id_generator
    if remote_parent is not None:
        trace_id, random_trace_id = remote_parent.trace_id, remote_parent.trace_flags.random_trace_id
    else:
        trace_id, random_trace_id = ids.generate_trace_id(), ids.is_trace_id_random()
    result = tracer.sampler.should_sample(parent, trace_id, name, SpanKind.SERVER, attributes)
    flags = TraceFlags.SAMPLED if result.decision is Decision.RECORD_AND_SAMPLE else TraceFlags.DEFAULT
    if random_trace_id:
        flags |= TraceFlags.RANDOM_TRACE_ID
    context = SpanContext(
        trace_id,
        ids.generate_span_id(),
        is_remote=False,
        trace_flags=TraceFlags(flags),
        trace_state=result.trace_state,
    )
    if result.decision is Decision.DROP:
        return context, None
    # As the SDK: the span starts with the attributes the sampler returned (ours, and any it adds).
    return context, dict(result.attributes) if result.attributes else {}


def server_attributes(url: str) -> dict[str, Any]:
    """`server.address` and `server.port` of a backend URL (a fresh dict: callers add to it)."""
    return dict(_server_address(url))


@functools.lru_cache(maxsize=256)  # backend URLs: a few, from the configuration
def _server_address(url: str) -> tuple[tuple[str, Any], ...]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (("server.address", parts.hostname or ""), ("server.port", port))
