"""The upstream call has one owner: closing its reply ends it, exactly once, on every path.

Whatever happens to a request once it went upstream (answered whole, streamed, refused by the backend,
timed out, retried until no backend is left, abandoned by its client), the CLIENT span is ended once
and only once, and every backend's `in_flight` count is back to 0 afterwards.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway.app import create_app
from gateway.config import TimeoutConfig
from gateway.errors import UpstreamAnswerTooLarge
from gateway.routing.backend import Backend
from gateway.telemetry.recorded_span import RecordedSpan
from gateway.upstream.forward import UpstreamReply
from tests.gateway.conftest import SOLO_MODEL, gateway_config, issue_key, running_simulator
from tests.servers import serve_in_thread
from tests.waiting import wait_for

_CHAT = [{"role": "user", "content": "Bonjour à tous"}]


@dataclass
class _Traced:
    url: str
    headers: dict[str, str]
    backends: list[Backend]
    exporter: InMemorySpanExporter
    flush: Any
    ends: list[RecordedSpan]
    """Every call of `end()` on a CLIENT span, the repeated ones included."""

    def post(self, **body: Any) -> httpx.Response:
        return httpx.post(
            f"{self.url}/v1/chat/completions",
            json={"model": SOLO_MODEL, "messages": _CHAT, **body},
            headers=self.headers,
            timeout=10,
        )

    def client_span(self) -> ReadableSpan:
        """The one CLIENT span exported for the last request, once its SERVER span is out too."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.flush()
            spans = list(self.exporter.get_finished_spans())
            if any(span.kind is SpanKind.SERVER for span in spans):
                clients = [span for span in spans if span.kind is SpanKind.CLIENT]
                assert len(clients) == 1, clients
                return clients[0]
            time.sleep(0.02)
        raise AssertionError("the request's SERVER span was never exported")

    def assert_ended_once(self) -> dict[str, Any]:
        span = self.client_span()
        assert len(self.ends) == 1, f"the CLIENT span was ended {len(self.ends)} times"
        assert wait_for(lambda: all(backend.in_flight == 0 for backend in self.backends), 2.0), [
            backend.in_flight for backend in self.backends
        ]
        return dict(span.attributes or {})


@contextmanager
def _traced(monkeypatch: pytest.MonkeyPatch, backends: list[str], **model: Any) -> Iterator[_Traced]:
    ends: list[RecordedSpan] = []
    end = RecordedSpan.end

    def counted_end(span: RecordedSpan) -> None:
        if span._kind is SpanKind.CLIENT:
            ends.append(span)
        end(span)

    monkeypatch.setattr(RecordedSpan, "end", counted_end)
    exporter = InMemorySpanExporter()
    with tempfile.TemporaryDirectory(prefix="gateway-test-") as folder:
        config = gateway_config(
            [{"name": SOLO_MODEL, "backends": [{"url": url} for url in backends], **model}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            # No health check may take a backend out first: each request must meet what it meets.
            health={"interval": 3600, "metrics_interval": 0},
            tracing={"enabled": True},
        )
        key = issue_key(config)
        app = create_app(config, span_exporter=exporter)
        gateway = app.state.gateway

        def flush() -> None:
            tracer_provider = app.state.worker.tracer_provider
            assert tracer_provider is not None
            tracer_provider.force_flush()

        with serve_in_thread(app) as url:
            yield _Traced(url, {"authorization": f"Bearer {key}"}, gateway.backends, exporter, flush, ends)


def test_a_whole_answer_ends_the_call_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with running_simulator(SOLO_MODEL) as sim, _traced(monkeypatch, [sim]) as traced:
        assert traced.post(max_tokens=3).status_code == 200
        attributes = traced.assert_ended_once()
    assert attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert attributes["gateway.upstream.attempts"] == 1
    assert "error.type" not in attributes


def test_a_streamed_answer_ends_the_call_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with running_simulator(SOLO_MODEL) as sim, _traced(monkeypatch, [sim]) as traced:
        response = traced.post(max_tokens=3, stream=True)
        assert response.status_code == 200 and response.text.endswith("data: [DONE]\n\n")
        attributes = traced.assert_ended_once()
    assert attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert attributes["gen_ai.response.time_to_first_chunk"] > 0


def test_a_client_leaving_mid_stream_ends_the_call_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        running_simulator(SOLO_MODEL, itl_ms=50.0) as sim,
        _traced(monkeypatch, [sim]) as traced,
        httpx.stream(
            "POST",
            f"{traced.url}/v1/chat/completions",
            json={"model": SOLO_MODEL, "messages": _CHAT, "max_tokens": 100, "stream": True},
            headers=traced.headers,
            timeout=10,
        ) as response,
    ):
        for _ in response.iter_raw():
            break  # one piece, then hang up
        response.close()
        traced.assert_ended_once()


def test_a_client_leaving_before_a_whole_answer_ends_the_call_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with running_simulator(SOLO_MODEL, itl_ms=50.0) as sim, _traced(monkeypatch, [sim]) as traced:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{traced.url}/v1/chat/completions",
                json={"model": SOLO_MODEL, "messages": _CHAT, "max_tokens": 100},
                headers=traced.headers,
                timeout=0.3,
            )
        traced.assert_ended_once()


def test_a_backend_error_ends_the_call_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with running_simulator(SOLO_MODEL) as sim, _traced(monkeypatch, [sim]) as traced:
        httpx.post(f"{sim}/sim/dead", json={"dead": True}, timeout=5)
        assert traced.post(max_tokens=3).status_code == 500
        attributes = traced.assert_ended_once()
    assert attributes["error.type"] == "500"


def test_retries_exhausted_end_the_call_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        running_simulator(SOLO_MODEL) as sim_a,
        running_simulator(SOLO_MODEL) as sim_b,
        _traced(monkeypatch, [sim_a, sim_b]) as traced,
    ):
        for sim in (sim_a, sim_b):
            httpx.post(f"{sim}/sim/dead", json={"dead": True}, timeout=5)
        assert traced.post(max_tokens=3).status_code == 500
        attributes = traced.assert_ended_once()
    assert attributes["gateway.upstream.attempts"] == 2
    assert attributes["error.type"] == "500"


def test_no_reachable_backend_ends_the_call_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with running_simulator(SOLO_MODEL) as sim:
        gone = sim  # the simulator is stopped below: its port refuses connections
    with _traced(monkeypatch, [gone]) as traced:
        assert traced.post(max_tokens=3).status_code == 503
        attributes = traced.assert_ended_once()
    assert attributes["error.type"] == "backend_unavailable"


def test_a_backend_that_times_out_ends_the_call_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        running_simulator(SOLO_MODEL, ttft_ms=2000.0) as sim,
        _traced(monkeypatch, [sim], timeouts={"first_byte": 0.3}) as traced,
    ):
        assert traced.post(max_tokens=3).status_code == 504
        attributes = traced.assert_ended_once()
    assert attributes["error.type"] == "upstream_timeout"


def test_a_backend_refusing_the_gateways_credentials_ends_the_call_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with (
        running_simulator(SOLO_MODEL, api_key="not-the-gateways") as sim,
        _traced(monkeypatch, [sim]) as traced,
    ):
        assert traced.post(max_tokens=3).status_code == 502
        attributes = traced.assert_ended_once()
    assert attributes["error.type"] == "401"


class _Span:
    """Counts what the reply does to its span."""

    def __init__(self) -> None:
        self.ends = 0
        self.attributes: dict[str, Any] = {}

    def is_recording(self) -> bool:
        return self.ends == 0

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        self.attributes.update(attributes)

    def end(self) -> None:
        self.ends += 1


def _reply(body: bytes, span: _Span, *, max_bytes: int = 1024) -> tuple[UpstreamReply, Backend]:
    backend = Backend("http://127.0.0.1:9")
    backend.in_flight = 1
    response = httpx.Response(200, stream=httpx.ByteStream(body))
    reply = UpstreamReply(backend, response, attempts=1, opened_at=2.0, max_bytes=max_bytes)
    reply.span, reply.started = span, 1.5  # type: ignore[assignment]
    return reply, backend


@pytest.mark.asyncio
async def test_closing_a_reply_twice_ends_it_once() -> None:
    span = _Span()
    reply, backend = _reply(b"{}", span)
    await reply.aclose(error="upstream_error")
    await reply.aclose()
    assert (span.ends, backend.in_flight, span.attributes["error.type"]) == (1, 0, "upstream_error")
    assert reply.response.is_closed


@pytest.mark.asyncio
async def test_reading_a_whole_answer_closes_the_reply_with_what_it_said() -> None:
    span = _Span()
    body = (
        b'{"id":"x","choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":2}}'
    )
    reply, backend = _reply(body, span)
    assert await reply.read_all(TimeoutConfig()) == body
    assert (span.ends, backend.in_flight) == (1, 0)
    assert reply.usage is not None and reply.usage.completion_tokens == 2
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.response.time_to_first_chunk"] == 0.5


@pytest.mark.asyncio
async def test_an_answer_too_large_closes_the_reply_with_its_error() -> None:
    span = _Span()
    reply, backend = _reply(b"x" * 2048, span)
    with pytest.raises(UpstreamAnswerTooLarge):
        await reply.read_all(TimeoutConfig())
    assert (span.ends, backend.in_flight) == (1, 0)
    assert span.attributes["error.type"] == "upstream_response_too_large"
