"""One gateway worker of the multiprocess metrics test, started with PROMETHEUS_MULTIPROC_DIR set.

Reads one JSON line on stdin: {"index", "flush_interval"}. Records the known traffic of worker
`index` (below, also read by the test to compute the sums), sets its view of the backends, prints
`ready`, then answers commands, one per line: `render` prints the exposition as one JSON string (as
the worker answering a scrape would render it); `exit` stops the metrics as a worker's shutdown does
and prints `bye`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from gateway.routing import build_pools
from gateway.telemetry import GatewayMetrics, MetricsConfig
from tests.telemetry.helpers import BACKEND_A, BACKEND_B, CHAT_MODEL, EMBEDDING_MODEL, deployment_config

DEPARTMENT = "dgfip"
SERVICE = "assistant-courrier"
# What every worker read from vLLM's /metrics: the same server, so the same figures.
RUNNING, WAITING, KV_CACHE_USAGE = 7.0, 3.0, 0.42

Finished = tuple[str, str, str, str, int, float, float | None, int, int]


def finished_requests(index: int) -> list[Finished]:
    """Worker `index` finishes `index + 2` chat requests and one embeddings request."""
    chats: list[Finished] = []
    for n in range(1, index + 3):
        duration, ttft, input_tokens, output_tokens = 0.05 * n, 0.02 * n, 100 * (index + 1), 10 * n
        chats.append(
            (DEPARTMENT, SERVICE, CHAT_MODEL, "chat", 200, duration, ttft, input_tokens, output_tokens)
        )
    return [*chats, (DEPARTMENT, "recherche", EMBEDDING_MODEL, "embeddings", 200, 0.015, None, 16, 0)]


def unfinished_requests(index: int) -> int:
    """Chat requests worker `index` leaves in flight."""
    return index + 1


def backend_a_in_flight(index: int) -> int:
    return 10 * (index + 1)


async def serve(index: int, flush_interval: float) -> None:
    pools, backends = build_pools(deployment_config())
    by_url = {backend.url: backend for backend in backends}
    metrics = GatewayMetrics(
        pools, MetricsConfig(flush_interval_seconds=flush_interval, allow_anonymous=True)
    )
    if not metrics.multiprocess:
        print(json.dumps("not in multiprocess mode"), flush=True)
        return
    await metrics.start()
    for request in finished_requests(index):
        metrics.request_started(request[2])
        metrics.request_finished(*request)
    for _ in range(unfinished_requests(index)):
        metrics.request_started(CHAT_MODEL)
    metrics.request_rejected("", "", "", "chat", 401)

    a, b = by_url[BACKEND_A], by_url[BACKEND_B]
    a.in_flight = backend_a_in_flight(index)
    a.record_load(running=RUNNING, waiting=WAITING, kv_cache_usage=KV_CACHE_USAGE)
    if index == 1:
        b.record_health(False)  # only this worker has seen B fail
    if index == 2:
        a.record_failure(time.monotonic(), eject_after=1, eject_seconds=600)  # only this one ejected A
    print("ready", flush=True)

    while True:
        command = (await asyncio.to_thread(sys.stdin.readline)).strip()
        if command == "render":
            body, _ = metrics.render()
            print(json.dumps(body.decode()), flush=True)
        else:  # `exit`, or stdin closed
            await metrics.stop()
            print("bye", flush=True)
            return


def main() -> int:
    brief = json.loads(sys.stdin.readline())
    asyncio.run(serve(int(brief["index"]), float(brief["flush_interval"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
