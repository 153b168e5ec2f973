"""Request tracing: the span tree, its attributes, propagation to the backend, and export over OTLP."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway.app import create_app
from gateway.telemetry.tracing import TracingConfig, TracingSetupError, build_tracing
from tests.gateway.conftest import (
    DEPARTMENT,
    SERVICE,
    SOLO_MODEL,
    gateway_config,
    issue_key,
    last_request,
    running_simulator,
)
from tests.servers import serve_in_thread
from tests.telemetry.otlp import parse_otlp_json

EMAIL = "claire.dupont@interieur.gouv.fr"
PROMPT = f"Merci d'écrire à {EMAIL} au sujet du dossier."
STEPS = ["authenticate", "authorize", "redact", "reserve", "route", f"chat {SOLO_MODEL}", "restore", "settle"]


@dataclass
class Traced:
    url: str
    sim: str
    key: str
    exporter: InMemorySpanExporter
    flush: Any
    sdk: openai.OpenAI

    def client(self) -> openai.OpenAI:
        return self.sdk

    def spans(self, count: int) -> list[ReadableSpan]:
        """The spans of the last request, once its SERVER span (ended last) is exported."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.flush()
            spans = list(self.exporter.get_finished_spans())
            if sum(1 for span in spans if span.kind is SpanKind.SERVER) >= count:
                return spans
            time.sleep(0.02)
        raise AssertionError("the request's SERVER span was never exported")


@contextmanager
def traced_gateway(
    quotas: dict[str, Any] | None = None,
    itl_ms: float = 0.0,
    health: dict[str, Any] | None = None,
    **tracing: Any,
) -> Iterator[Traced]:
    exporter = InMemorySpanExporter()
    with (
        running_simulator(SOLO_MODEL, mode="echo", itl_ms=itl_ms) as sim,
        tempfile.TemporaryDirectory(prefix="gateway-test-") as folder,
    ):
        config = gateway_config(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            pii={"mode": "pseudonymize", "names": "off"},
            quotas=quotas or {},
            tracing={"enabled": True, **tracing},
            **({"health": health} if health is not None else {}),
        )
        key = issue_key(config)
        app = create_app(config, span_exporter=exporter)

        def flush() -> None:
            # The worker exists once the app has started, which is before any test flushes.
            tracer_provider = app.state.worker.tracer_provider
            assert tracer_provider is not None
            tracer_provider.force_flush()

        with (
            serve_in_thread(app) as url,
            openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0) as sdk,
        ):
            yield Traced(url, sim, key, exporter, flush, sdk)


@pytest.fixture(scope="module")
def traced() -> Iterator[Traced]:
    with traced_gateway() as running:
        yield running


def _tree(spans: list[ReadableSpan]) -> tuple[ReadableSpan, list[ReadableSpan]]:
    servers = [span for span in spans if span.kind is SpanKind.SERVER]
    assert len(servers) == 1
    server = servers[0]
    assert server.context is not None
    children = [
        span for span in spans if span.parent is not None and span.parent.span_id == server.context.span_id
    ]
    assert len(children) == len(spans) - 1, "every other span is a direct child of the SERVER span"
    return server, sorted(children, key=lambda span: span.start_time or 0)


def _names(children: list[ReadableSpan]) -> list[str]:
    return [span.name for span in children]


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


@pytest.mark.parametrize("stream", [False, True])
def test_one_span_per_step_with_genai_attributes(traced: Traced, stream: bool) -> None:
    traced.exporter.clear()
    client = traced.client()
    messages: Any = [{"role": "user", "content": PROMPT}]
    if stream:
        events = client.chat.completions.create(
            model=SOLO_MODEL, messages=messages, stream=True, max_tokens=100
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in events if chunk.choices)
    else:
        reply = client.chat.completions.with_raw_response.create(
            model=SOLO_MODEL, messages=messages, max_tokens=100
        )
        text = reply.parse().choices[0].message.content or ""
        assert reply.headers["x-trace-id"]
    assert text == PROMPT
    server, children = _tree(traced.spans(1))
    assert _names(children) == STEPS
    server_attributes = _attributes(server)
    assert server.name == "POST /v1/chat/completions"
    assert server_attributes["http.response.status_code"] == 200
    assert server_attributes["gateway.department"] == DEPARTMENT
    assert server_attributes["gateway.service"] == SERVICE
    assert server_attributes["gateway.key_id"]
    steps = {span.name: span for span in children}
    assert _attributes(steps["authorize"])["gateway.policy.rule"].startswith("p, ")
    assert _attributes(steps["redact"])["gateway.pii.EMAIL"] == 1
    upstream = steps[f"chat {SOLO_MODEL}"]
    assert upstream.kind is SpanKind.CLIENT
    attributes = _attributes(upstream)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "vllm"
    assert attributes["gen_ai.request.model"] == SOLO_MODEL
    assert attributes["gen_ai.request.max_tokens"] == 100
    assert attributes["gen_ai.request.stream"] is stream
    assert attributes["gen_ai.response.model"] == SOLO_MODEL
    assert attributes["gen_ai.response.id"].startswith("chatcmpl-")
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert attributes["gen_ai.response.time_to_first_chunk"] >= 0
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == int(traced.sim.rsplit(":", 1)[1])
    assert attributes["gateway.backend"] == traced.sim
    assert attributes["gateway.upstream.attempts"] == 1


def test_traceparent_makes_the_backend_a_child_of_the_client_span(traced: Traced) -> None:
    traced.exporter.clear()
    traced.client().chat.completions.create(
        model=SOLO_MODEL, messages=[{"role": "user", "content": "Bonjour"}]
    )
    server, children = _tree(traced.spans(1))
    upstream = next(span for span in children if span.kind is SpanKind.CLIENT)
    assert upstream.context is not None and server.context is not None
    traceparent = last_request(traced.sim)["headers"]["traceparent"]
    version, trace_id, parent_id, flags = traceparent.split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled
    assert int(trace_id, 16) == server.context.trace_id
    assert int(parent_id, 16) == upstream.context.span_id


def test_incoming_traceparent_is_ignored_unless_trusted(traced: Traced) -> None:
    theirs = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    traced.exporter.clear()
    httpx.post(
        f"{traced.url}/v1/chat/completions",
        json={"model": SOLO_MODEL, "messages": [{"role": "user", "content": "Bonjour"}]},
        headers={"authorization": f"Bearer {traced.key}", "traceparent": theirs},
        timeout=10,
    )
    server, _ = _tree(traced.spans(1))
    assert server.context is not None and server.parent is None
    assert format(server.context.trace_id, "032x") != "ab" * 16

    with traced_gateway(trust_incoming_traceparent=True) as trusting:
        reply = httpx.post(
            f"{trusting.url}/v1/chat/completions",
            json={"model": SOLO_MODEL, "messages": [{"role": "user", "content": "Bonjour"}]},
            headers={"authorization": f"Bearer {trusting.key}", "traceparent": theirs},
            timeout=10,
        )
        assert reply.headers["x-trace-id"] == "ab" * 16
        server, _ = _tree(trusting.spans(1))
        assert server.parent is not None and server.parent.span_id == int("cd" * 8, 16)


def test_backend_error_is_recorded_on_the_client_and_server_spans() -> None:
    # No health check may find the backend dead first: the request must reach it and get its 500.
    with traced_gateway(health={"interval": 3600, "metrics_interval": 0}) as running:
        httpx.post(f"{running.sim}/sim/dead", json={"dead": True}, timeout=5)
        with pytest.raises(openai.InternalServerError):
            running.client().chat.completions.create(
                model=SOLO_MODEL, messages=[{"role": "user", "content": "Bonjour"}]
            )
        server, children = _tree(running.spans(1))
    upstream = next(span for span in children if span.kind is SpanKind.CLIENT)
    assert _attributes(upstream)["error.type"] == "500"
    assert _attributes(server)["http.response.status_code"] == 500
    assert _names(children)[-1] == "settle"


def test_quota_refusal_ends_the_trace_at_reserve() -> None:
    with traced_gateway(quotas={"departments": {DEPARTMENT: {"tokens_per_day": 200}}}) as running:
        client = running.client()
        for _ in range(20):  # bounded: the department's 200 tokens a day run out well before
            running.exporter.clear()
            try:
                client.chat.completions.create(
                    model=SOLO_MODEL, messages=[{"role": "user", "content": "Bonjour"}], max_tokens=60
                )
            except openai.RateLimitError:
                break
            running.spans(1)  # this request's trace is complete before the next one starts
        else:
            pytest.fail("the quota never refused")
        server, children = _tree(running.spans(1))
    assert _names(children) == ["authenticate", "authorize", "redact", "reserve"]
    assert _attributes(children[-1])["error.type"] == "insufficient_quota"
    assert _attributes(server)["http.response.status_code"] == 429


def test_no_key_and_no_personal_data_in_any_span(traced: Traced) -> None:
    traced.exporter.clear()
    traced.client().chat.completions.create(model=SOLO_MODEL, messages=[{"role": "user", "content": PROMPT}])
    dumped = json.dumps([json.loads(span.to_json()) for span in traced.spans(1)])
    assert EMAIL not in dumped
    assert traced.key not in dumped and traced.key.split("_", 2)[2] not in dumped
    assert "dossier" not in dumped  # no prompt text at all by default


class _Receiver(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.path == "/v1/traces":
            if self.headers["content-type"] == "application/json":
                self.received.append(parse_otlp_json(body))
            else:
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
                self.received.append(message)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_export_to_a_real_otlp_http_receiver(monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "gateway-under-test")
        with running_simulator(SOLO_MODEL) as sim, tempfile.TemporaryDirectory() as folder:
            config = gateway_config(
                [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
                store={"kind": "embedded", "path": f"{folder}/gateway.db"},
                tracing={"enabled": True},
            )
            key = issue_key(config)
            app = create_app(config)
            with (
                serve_in_thread(app) as url,
                openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0) as client,
            ):
                client.chat.completions.create(
                    model=SOLO_MODEL, messages=[{"role": "user", "content": "Bonjour"}]
                )
            # The server stopped: shutdown flushed the batch processor.
        names = {
            span.name
            for message in _Receiver.received
            for resource in message.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        }
        services = {
            attribute.value.string_value
            for message in _Receiver.received
            for resource in message.resource_spans
            for attribute in resource.resource.attributes
            if attribute.key == "service.name"
        }
        assert {"POST /v1/chat/completions", f"chat {SOLO_MODEL}", "authorize"} <= names
        assert services == {"gateway-under-test"}
        # The SDK's SERVER span and the recorded children share one instrumentation scope.
        scopes = [
            resource.scope_spans for message in _Receiver.received for resource in message.resource_spans
        ]
        assert all(len(scope_spans) == 1 for scope_spans in scopes)
    finally:
        server.shutdown()
        server.server_close()


def test_opted_in_content_is_the_redacted_text_only() -> None:
    with traced_gateway(record_content=True) as running:
        running.client().chat.completions.create(
            model=SOLO_MODEL, messages=[{"role": "user", "content": PROMPT}]
        )
        _, children = _tree(running.spans(1))
    upstream = next(span for span in children if span.kind is SpanKind.CLIENT)
    attributes = _attributes(upstream)
    assert "<EMAIL_1>" in attributes["gen_ai.input.messages"]
    assert "<EMAIL_1>" in attributes["gen_ai.output.messages"]  # what the backend answered, before restoring
    dumped = json.dumps([json.loads(span.to_json()) for span in children])
    assert EMAIL not in dumped


def test_a_sampled_out_request_records_nothing_but_keeps_its_trace_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    with traced_gateway() as running:
        reply = running.client().chat.completions.with_raw_response.create(
            model=SOLO_MODEL, messages=[{"role": "user", "content": "Bonjour"}]
        )
        trace_id = reply.headers["x-trace-id"]
        traceparent = last_request(running.sim)["headers"]["traceparent"]
        running.flush()
        assert running.exporter.get_finished_spans() == ()
    _, sent_trace_id, _, flags = traceparent.split("-")
    assert sent_trace_id == trace_id
    assert int(flags, 16) & 1 == 0  # not sampled: vLLM records nothing either


def test_tracing_never_falls_back_to_an_unnamed_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(TracingSetupError, match="no collector is named"):
        build_tracing(TracingConfig(enabled=True))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml")
    with pytest.raises(TracingSetupError, match="not supported"):
        build_tracing(TracingConfig(enabled=True))
    assert build_tracing(TracingConfig(enabled=False)) is None


def test_client_leaving_mid_stream_ends_every_span_once() -> None:
    # 50 ms per token and 100 words to echo: the stream would last 5 s if nobody stopped it.
    long_prompt = " ".join(["mot"] * 100)
    with traced_gateway(itl_ms=50.0) as running:
        body = {"model": SOLO_MODEL, "messages": [{"role": "user", "content": long_prompt}], "stream": True}
        headers = {"authorization": f"Bearer {running.key}"}
        with httpx.stream(
            "POST", f"{running.url}/v1/chat/completions", json=body, headers=headers, timeout=10
        ) as r:
            for _ in r.iter_raw():
                break  # one piece, then hang up
        server, children = _tree(running.spans(1))
    assert _names(children) == [name for name in STEPS if name != "restore"]  # no value to restore
    assert _attributes(server)["http.response.status_code"] == 499
    assert _attributes(server)["error.type"] == "client_disconnected"
    upstream = next(span for span in children if span.kind is SpanKind.CLIENT)
    assert upstream.end_time is not None and server.end_time is not None
