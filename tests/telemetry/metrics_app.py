"""A small app served by uvicorn with several workers, set up the way `gateway serve` sets up metrics.

    python -m tests.telemetry.metrics_app --port PORT --workers N

The parent enters `multiprocess_metrics` (shared directory, `PROMETHEUS_MULTIPROC_DIR`), then
uvicorn starts the workers, each of which builds its app with `create_app`: a `GatewayMetrics`
started and stopped with the app, the `/metrics` route, and `POST /hit`, which counts one finished
chat request and answers with the worker's pid. The directory is printed on the first line.
"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn
from litestar import Litestar, post

from gateway.telemetry import GatewayMetrics, MetricsConfig, metrics_routes, multiprocess_metrics
from tests.telemetry.helpers import CHAT_MODEL, deployment_pools

CONFIG = MetricsConfig(flush_interval_seconds=0.05, allow_anonymous=True)


def create_app() -> Litestar:
    pools, _ = deployment_pools()
    metrics = GatewayMetrics(pools, CONFIG)

    @post("/hit", status_code=200)
    async def hit() -> dict[str, int]:
        metrics.request_started(CHAT_MODEL)
        metrics.request_finished("dgfip", "courrier", CHAT_MODEL, "chat", 200, 0.1, 0.01, 10, 2)
        return {"pid": os.getpid(), "multiprocess": int(metrics.multiprocess)}

    return Litestar(
        route_handlers=[hit, *metrics_routes(metrics, CONFIG)],
        on_startup=[metrics.start],
        on_shutdown=[metrics.stop],
        openapi_config=None,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with multiprocess_metrics(CONFIG, args.workers) as directory:
        print(directory, flush=True)
        uvicorn.run(
            "tests.telemetry.metrics_app:create_app",
            factory=True,
            host="127.0.0.1",
            port=args.port,
            workers=args.workers,
            log_level="warning",
            access_log=False,
            # Bounded, as `gateway serve` bounds it: a connection left open cannot hold the exit.
            timeout_graceful_shutdown=5,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
