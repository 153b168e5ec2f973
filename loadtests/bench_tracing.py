"""Benchmark: what one request's trace costs the event loop's thread, without the network around it.

    .venv/bin/python -m loadtests.bench_tracing [--requests 20000] [--repeat 7] [--json]

The spans of one traced chat request are made as the pipeline makes them (`Tracing.start`, six
steps, the upstream CLIENT span with its `traceparent`, the SERVER span's annotations and end) and
handed to a `BatchSpanProcessor` whose exporter counts and discards them (the garbage collector set
as `gateway serve` sets it), so that what is timed is the recording and the hand-over, not the
encoding (which happens in the exporter's thread; its cost per span is timed separately, the median
of five encodings of the last batch with the `http/json` encoder).

Each of `--repeat` runs times `--requests` requests (bounded); the median run is reported in
microseconds per request, with the other runs beside it. Running it on an earlier commit (the
`Tracing` API is the same) gives the before figure of a change.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, Tracer, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from gateway.collector import freeze_startup_heap
from gateway.telemetry.otlp_json import encode_spans
from gateway.telemetry.recorded_span import SpanSink
from gateway.telemetry.request_trace import Tracing
from loadtests.arguments import bounded_count

__all__ = ["main", "time_requests"]

_STEPS = ("authenticate", "authorize", "redact", "reserve", "route", "settle")
_UPSTREAM_ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "vllm",
    "gen_ai.request.model": "llama-3.1-8b",
    "gen_ai.request.max_tokens": 16,
    "server.address": "127.0.0.1",
    "server.port": 8001,
}
_MAX_REQUESTS = 1_000_000


class _Discard(SpanExporter):
    """Counts the spans, keeps the last batch (for the encoding figure) and drops the rest."""

    def __init__(self) -> None:
        self.last: Sequence[ReadableSpan] = ()
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.last = spans
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def _one_request(tracing: Tracing) -> None:
    request_trace = tracing.start("POST", "/v1/chat/completions", {}, "req-0123456789abcdef01234567")
    for name in _STEPS:
        with request_trace.step(name) as span:
            span.set_attribute("gateway.step", name)
    headers: dict[str, str] = {}
    upstream = request_trace.upstream("chat llama-3.1-8b", dict(_UPSTREAM_ATTRIBUTES), headers)
    upstream.set_attributes({"gen_ai.usage.input_tokens": 21, "gen_ai.usage.output_tokens": 16})
    upstream.end()
    request_trace.annotate(
        {"gateway.department": "dgfip", "gateway.service": "courrier", "gateway.key_id": "k1"}
    )
    request_trace.finish(200)


def time_requests(requests: int, repeat: int) -> dict[str, object]:
    """Microseconds per request for each run, and of encoding each span of the last batch."""
    exporter = _Discard()
    provider = TracerProvider()
    processor = BatchSpanProcessor(exporter, max_queue_size=16_384, schedule_delay_millis=500)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("gateway")
    assert isinstance(tracer, Tracer)
    sink = SpanSink(processor, provider.resource, InstrumentationScope("gateway", ""))
    tracing = Tracing(tracer, sink, trust_incoming=False, record_content=False)
    freeze_startup_heap()  # the garbage collector as `gateway serve` sets it
    runs: list[float] = []
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(requests):
                _one_request(tracing)
            runs.append((time.perf_counter() - started) / requests * 1e6)
        provider.force_flush()
    finally:
        provider.shutdown()
    spans = exporter.last
    encodings: list[float] = []
    for _ in range(5 if spans else 0):
        started = time.perf_counter()
        encode_spans(spans)
        encodings.append((time.perf_counter() - started) / len(spans) * 1e6)
    encode_us = statistics.median(encodings) if encodings else 0.0
    return {
        "us_per_request": statistics.median(runs),
        "runs_us": [round(run, 1) for run in runs],
        "spans_per_request": len(_STEPS) + 2,
        "spans_exported": exporter.count,
        "encode_us_per_span": round(encode_us, 2),
    }


_count = bounded_count(_MAX_REQUESTS)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="loadtests.bench_tracing", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=_count, default=20_000, help="requests per run")
    parser.add_argument("--repeat", type=_count, default=7, help="runs; the median is reported")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args(argv)
    figures = time_requests(options.requests, options.repeat)
    if options.json:
        print(json.dumps(figures))
        return
    print(
        f"one request's trace ({figures['spans_per_request']} spans): "
        f"{figures['us_per_request']:.1f} µs (median of {options.repeat} runs of {options.requests:,}: "
        f"{figures['runs_us']}); encoding (http/json): {figures['encode_us_per_span']} µs a span"
    )


if __name__ == "__main__":
    main()
