"""OTLP/JSON: the same message as the SDK's protobuf encoding, and an exporter that retries as OTLP says."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as protobuf_encoding
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from gateway.telemetry.otlp_json import encode_spans
from gateway.telemetry.otlp_json_exporter import OtlpJsonSpanExporter
from gateway.telemetry.recorded_span import RecordedSpan, SpanSink
from tests.telemetry.otlp import parse_otlp_json


def _spans() -> list[ReadableSpan]:
    """Spans of every shape the SDK makes: kinds, statuses, events, links, a remote parent, trace
    state, attribute values of each type; and the gateway's own recorded children."""
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider = TracerProvider(resource=Resource.create({"service.name": "under-test", "pid": 7}))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("gateway")
    remote = SpanContext(
        0x0AF7651916CD43DD8448EB211C80319C,
        0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "value"), ("other", "x")]),
    )
    server = tracer.start_span(
        "POST /v1/chat/completions",
        context=trace.set_span_in_context(trace.NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        attributes={
            "text": "bonjour é",
            "flag": True,
            "count": 2**40,
            "negative": -3,
            "ratio": 0.25,
            "words": ("stop", "length"),
            "numbers": (1, 2, 3),
            "floats": (0.5, 1.5),
            "flags": (True, False),
        },
        links=[Link(remote, {"why": "retry"})],
    )
    server.add_event("queued", {"position": 3})
    server.set_status(Status(StatusCode.ERROR, "backend failed"))
    client = tracer.start_span("chat m", context=trace.set_span_in_context(server), kind=SpanKind.CLIENT)
    client.set_status(Status(StatusCode.OK))
    client.end()
    sink = SpanSink(processor, provider.resource, InstrumentationScope("gateway", ""))
    step = RecordedSpan(sink, "authorize", server.get_span_context())
    step.set_attributes({"gateway.policy.rule": "p, bench, m, chat", "skipped": None, "list": ["a", "b"]})
    step.set_status(Status(StatusCode.ERROR))
    step.end()
    upstream = RecordedSpan(sink, "chat m", server.get_span_context(), SpanKind.CLIENT, {"server.port": 8000})
    upstream.end()
    server.end()
    other_scope = provider.get_tracer("another", "1.2", schema_url="https://opentelemetry.io/schemas/1.26.0")
    other_scope.start_span("elsewhere", kind=SpanKind.PRODUCER).end()
    return list(exporter.get_finished_spans())


def without_link_trace_states(message: ExportTraceServiceRequest) -> ExportTraceServiceRequest:
    """The one difference, on our side of the specification: a link's trace state, which the SDK's
    protobuf encoder leaves out."""
    links = [
        link
        for resource in message.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
        for link in span.links
    ]
    assert [link.trace_state for link in links] == ["vendor=value,other=x"]
    for link in links:
        link.ClearField("trace_state")
    return message


def test_json_encoding_is_the_protobuf_message_of_the_sdk() -> None:
    spans = _spans()
    assert len(spans) == 5
    ours = without_link_trace_states(parse_otlp_json(encode_spans(spans)))
    assert ours == protobuf_encoding(spans)
    # Not vacuous: the message holds every span, grouped by scope.
    scopes = ours.resource_spans[0].scope_spans
    assert [len(scope.spans) for scope in scopes] == [4, 1]


def test_ids_are_hex_and_64_bit_integers_are_strings() -> None:
    document = json.loads(encode_spans(_spans()))
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    span = next(span for span in spans if span["name"] == "POST /v1/chat/completions")
    assert span["traceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert len(span["spanId"]) == 16 and int(span["spanId"], 16)
    assert isinstance(span["startTimeUnixNano"], str)
    values = {attribute["key"]: attribute["value"] for attribute in span["attributes"]}
    assert values["count"] == {"intValue": str(2**40)}


def test_a_recorded_span_ignores_changes_after_it_ended() -> None:
    spans = _spans()
    recorded = next(span for span in spans if span.name == "authorize")
    assert dict(recorded.attributes or {}) == {
        "gateway.policy.rule": "p, bench, m, chat",
        "list": ("a", "b"),
    }
    assert recorded.parent is not None
    server = next(span for span in spans if span.kind is SpanKind.SERVER)
    assert server.context is not None and recorded.context is not None
    assert recorded.parent.span_id == server.context.span_id
    assert recorded.context.trace_id == server.context.trace_id


class _Collector(BaseHTTPRequestHandler):
    statuses: list[int] = []
    received: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        status = self.statuses.pop(0) if self.statuses else 200
        self.send_response(status)
        if status == 503:
            self.send_header("retry-after", "0")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _collector(statuses: list[int]) -> Iterator[str]:
    _Collector.statuses = list(statuses)
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_exporter_reads_the_otlp_variables_and_retries_a_busy_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spans = _spans()
    with _collector([503, 200]) as url:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url + "/")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-scope-orgid=ministere,authorization=Bearer%20t")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        exporter = OtlpJsonSpanExporter.from_environment()
        try:
            assert exporter.export(spans) is SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()
        assert len(_Collector.received) == 2  # the 503, then the retry
        path, headers, body = _Collector.received[-1]
    assert path == "/v1/traces"
    assert headers["content-type"] == "application/json"
    assert headers["x-scope-orgid"] == "ministere"
    assert headers["authorization"] == "Bearer t"
    assert without_link_trace_states(parse_otlp_json(gzip.decompress(body))) == protobuf_encoding(spans)


def test_exporter_drops_a_refused_batch_without_retrying(monkeypatch: pytest.MonkeyPatch) -> None:
    with _collector([400]) as url:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url + "/custom/traces")
        exporter = OtlpJsonSpanExporter.from_environment()
        try:
            assert exporter.export(_spans()) is SpanExportResult.FAILURE
        finally:
            exporter.shutdown()
        assert [path for path, _, _ in _Collector.received] == ["/custom/traces"]
        assert exporter.export(_spans()) is SpanExportResult.FAILURE  # after shutdown: nothing sent
        assert len(_Collector.received) == 1


def test_exporter_gives_up_within_its_timeout_when_nobody_listens() -> None:
    with _collector([]) as url:
        pass  # the port is closed again: connections are refused
    exporter = OtlpJsonSpanExporter(url + "/v1/traces", timeout=1.0)
    try:
        assert exporter.export(_spans()) is SpanExportResult.FAILURE
    finally:
        exporter.shutdown()


def test_bad_compression_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli")
    with pytest.raises(ValueError, match="gzip or none"):
        OtlpJsonSpanExporter.from_environment()
