"""A local OTLP/HTTP receiver that accepts trace exports and counts their spans: the benchmark's collector.

python -m loadtests.otlp_sink --port 4318

It takes protobuf and JSON bodies (`OTEL_EXPORTER_OTLP_PROTOCOL` http/protobuf or http/json) and
answers `GET /stats` with `{"exports": N, "spans": M}`, so that the benchmark can tell spans the
gateway dropped (a full export queue) from spans it delivered.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


# Only what counting needs from an OTLP/JSON body; msgspec skips the rest without building it.
class _ScopeSpans(msgspec.Struct):
    spans: list[msgspec.Raw] = msgspec.field(default_factory=list)


class _ResourceSpans(msgspec.Struct, rename="camel"):
    scope_spans: list[_ScopeSpans] = msgspec.field(default_factory=list)


class _SpanCount(msgspec.Struct, rename="camel"):
    resource_spans: list[_ResourceSpans] = msgspec.field(default_factory=list)


def count_spans(body: bytes, content_type: str) -> int:
    if content_type.startswith("application/json"):
        document = msgspec.json.decode(body, type=_SpanCount)
        return sum(len(scope.spans) for resource in document.resource_spans for scope in resource.scope_spans)
    message = ExportTraceServiceRequest()
    message.ParseFromString(body)
    return sum(len(scope.spans) for resource in message.resource_spans for scope in resource.scope_spans)


class _Sink(BaseHTTPRequestHandler):
    lock = threading.Lock()
    exports = 0
    spans = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        spans = count_spans(body, self.headers.get("content-type", ""))
        with self.lock:
            type(self).exports += 1
            type(self).spans += spans
        self._answer(b"", self.headers.get("content-type", "application/x-protobuf"))

    def do_GET(self) -> None:
        with self.lock:
            stats = {"exports": self.exports, "spans": self.spans}
        self._answer(json.dumps(stats).encode(), "application/json")

    def _answer(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(prog="loadtests.otlp_sink")
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    with ThreadingHTTPServer(("127.0.0.1", port), _Sink) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
