"""What quotas add to a request: one reserve and one settle, on each ledger.

    .venv/bin/python -m tests.quotas.measure [--requests 5000]

Runs a private redis-server (tests/redis_server.py) and a SQLite file in a temporary directory, plans
and reserves and settles `--requests` requests one after the other on a service limited at every
level (five counters: department month budget and requests per minute, service day budget and tokens
per minute, concurrency), and prints the latency of plan, reserve and settle in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from gateway.quotas import EmbeddedLedger, Ledger, Planner, QuotaConfig, Reservation
from gateway.quotas.redis_ledger import RedisLedger
from tests.redis_server import running_redis

QUOTAS = {
    "departments": {"dgfip": {"tokens_per_month": 10**15, "requests_per_minute": 10**9}},
    "services": {
        "dgfip/svc": {"tokens_per_day": 10**15, "tokens_per_minute": 10**15, "max_concurrent": 1000}
    },
}


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1e6
    p99 = ordered[int(len(ordered) * 0.99)] * 1e6
    return f"p50 {p50:7.0f} µs   p99 {p99:7.0f} µs"


async def measure(name: str, ledger: Ledger, requests: int) -> None:
    planner = Planner(QuotaConfig.model_validate(QUOTAS))
    plans, reserves, settles = [], [], []
    for index in range(requests + 200):
        started = time.perf_counter()
        request = planner.plan("dgfip", "svc", "abcdefgh2345", "small", 100, 400, time.time())
        planned = time.perf_counter()
        reservation = await ledger.reserve(request)
        reserved = time.perf_counter()
        assert isinstance(reservation, Reservation)
        await ledger.settle(reservation, 100, 200)
        settled = time.perf_counter()
        if index >= 200:  # warm-up: connections, scripts loaded, caches filled
            plans.append(planned - started)
            reserves.append(reserved - planned)
            settles.append(settled - reserved)
    round_trips = [reserve + settle for reserve, settle in zip(reserves, settles, strict=True)]
    print(f"{name:9} plan            {_percentiles(plans)}")
    print(f"{name:9} reserve         {_percentiles(reserves)}")
    print(f"{name:9} settle          {_percentiles(settles)}")
    print(f"{name:9} reserve+settle  {_percentiles(round_trips)}")


async def main(requests: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        embedded = await EmbeddedLedger.open(Path(directory) / "gateway.db")
        try:
            await measure("sqlite", embedded, requests)
        finally:
            await embedded.close()
    with running_redis() as url:
        ledger = RedisLedger.from_url(url)
        try:
            await measure("redis", ledger, requests)
        finally:
            await ledger.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=5000)
    asyncio.run(main(parser.parse_args().requests))
