"""A request's SERVER span: its ids and sampling are decided as the SDK's `Tracer.start_span` would
decide them, by the provider's sampler and id generator, and it reaches the span processor as the
SDK's span would."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Tracer, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanKind, StatusCode, TraceState
from opentelemetry.util.types import Attributes

from gateway.telemetry.recorded_span import SpanSink
from gateway.telemetry.request_trace import RequestTrace, Tracing

_THEIR_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
_THEIR_SPAN = "00f067aa0ba902b7"


class _Tagging(Sampler):
    """Samples every span, adds an attribute and a trace state entry, as a vendor sampler may."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        added = {**(attributes or {}), "sampler.rule": "everything"}
        return SamplingResult(Decision.RECORD_AND_SAMPLE, added, TraceState([("vendor", "seen")]))

    def get_description(self) -> str:
        return "Tagging"


class _Setup:
    def __init__(self, sampler: Sampler, *, trust_incoming: bool = False) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(sampler=sampler, resource=Resource({"service.name": "test"}))
        processor = SimpleSpanProcessor(self.exporter)
        self.provider.add_span_processor(processor)
        tracer = self.provider.get_tracer("gateway")
        assert isinstance(tracer, Tracer)
        self.tracer = tracer
        sink = SpanSink(processor, self.provider.resource, InstrumentationScope("gateway", ""))
        self.tracing = Tracing(tracer, sink, trust_incoming=trust_incoming, record_content=False)

    def start(self, headers: Mapping[str, str] | None = None) -> RequestTrace:
        return self.tracing.start("POST", "/v1/chat/completions", headers or {}, "req-1")

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()


@pytest.fixture
def always_on() -> Iterator[_Setup]:
    setup = _Setup(ParentBased(ALWAYS_ON))
    yield setup
    setup.provider.shutdown()


def _traceparent(request_trace: RequestTrace) -> dict[str, str]:
    headers: dict[str, str] = {}
    request_trace.upstream("chat m", {}, headers).end()
    return headers


def test_the_server_span_is_a_root_with_the_request_attributes(always_on: _Setup) -> None:
    request_trace = always_on.start()
    with request_trace.step("authorize"):
        pass
    request_trace.annotate({"gateway.department": "dgfip"})
    request_trace.finish(200)
    request_trace.finish(500)  # only the first end counts

    spans = always_on.spans()
    server = next(span for span in spans if span.kind is SpanKind.SERVER)
    child = next(span for span in spans if span.name == "authorize")
    assert len(spans) == 2
    assert server.name == "POST /v1/chat/completions" and server.parent is None
    assert server.context is not None and child.parent == server.context
    assert format(server.context.trace_id, "032x") == request_trace.trace_id
    assert server.context.trace_flags.sampled and not server.context.is_remote
    assert dict(server.attributes or {}) == {
        "http.request.method": "POST",
        "url.path": "/v1/chat/completions",
        "http.route": "/v1/chat/completions",
        "gateway.request_id": "req-1",
        "gateway.department": "dgfip",
        "http.response.status_code": 200,
    }
    assert server.status.status_code is StatusCode.UNSET
    assert server.resource.attributes["service.name"] == "test"
    assert server.instrumentation_scope is not None and server.instrumentation_scope.name == "gateway"
    assert server.start_time is not None and server.end_time is not None
    assert 0 < server.start_time <= server.end_time


def test_the_flags_are_those_the_sdk_gives_its_own_spans(always_on: _Setup) -> None:
    request_trace = always_on.start()
    request_trace.finish(200)
    ours = always_on.spans()[0].context
    theirs = always_on.tracer.start_span("x", kind=SpanKind.SERVER).get_span_context()
    assert ours is not None
    assert ours.trace_flags == theirs.trace_flags  # sampled, and W3C's random-trace-id flag
    assert ours.trace_id != theirs.trace_id and ours.span_id != theirs.span_id


def test_a_server_error_marks_the_span(always_on: _Setup) -> None:
    request_trace = always_on.start()
    request_trace.finish(502, "upstream_unavailable")
    server = always_on.spans()[0]
    assert server.status.status_code is StatusCode.ERROR
    assert (server.attributes or {})["error.type"] == "upstream_unavailable"


def test_a_request_the_sampler_drops_records_nothing_and_passes_its_trace_on() -> None:
    setup = _Setup(ALWAYS_OFF)
    request_trace = setup.start()
    assert not request_trace.traced and request_trace.trace_id is not None
    with request_trace.step("authorize"):
        pass
    headers = _traceparent(request_trace)
    request_trace.finish(200)
    assert setup.spans() == ()
    version, trace_id, _span_id, flags = headers["traceparent"].split("-")
    assert (version, trace_id) == ("00", request_trace.trace_id)
    assert int(flags, 16) & 0x01 == 0  # unsampled


def test_the_samplers_attributes_and_trace_state_are_kept() -> None:
    setup = _Setup(_Tagging())
    request_trace = setup.start()
    headers = _traceparent(request_trace)
    request_trace.finish(200)
    server = next(span for span in setup.spans() if span.kind is SpanKind.SERVER)
    assert (server.attributes or {})["sampler.rule"] == "everything"
    assert (server.attributes or {})["gateway.request_id"] == "req-1"
    assert server.context is not None and server.context.trace_state.get("vendor") == "seen"
    assert headers["tracestate"] == "vendor=seen"


@pytest.mark.parametrize("trusted", [True, False])
def test_a_callers_traceparent_is_continued_only_when_trusted(trusted: bool) -> None:
    setup = _Setup(ParentBased(ALWAYS_ON), trust_incoming=trusted)
    request_trace = setup.start({"traceparent": f"00-{_THEIR_TRACE}-{_THEIR_SPAN}-01"})
    request_trace.finish(200)
    server = setup.spans()[0]
    assert server.context is not None
    if trusted:
        assert request_trace.trace_id == _THEIR_TRACE
        assert server.parent is not None and server.parent.is_remote
        assert format(server.parent.span_id, "016x") == _THEIR_SPAN
    else:
        assert request_trace.trace_id != _THEIR_TRACE and server.parent is None


def test_a_trusted_caller_that_did_not_sample_is_followed() -> None:
    setup = _Setup(ParentBased(ALWAYS_ON), trust_incoming=True)
    request_trace = setup.start({"traceparent": f"00-{_THEIR_TRACE}-{_THEIR_SPAN}-00"})
    headers = _traceparent(request_trace)
    request_trace.finish(200)
    assert not request_trace.traced and setup.spans() == ()
    assert headers["traceparent"].split("-")[1] == _THEIR_TRACE
