"""A local OTLP/HTTP receiver that accepts and counts trace exports: the collector of the benchmark.

python -m loadtests.otlp_sink --port 4318
"""

from __future__ import annotations

import argparse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Sink(BaseHTTPRequestHandler):
    exports = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).exports += 1
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

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
