"""Benchmark: what one quota script call costs when it travels alone, as at one request at a time.

    .venv/bin/python -m loadtests.bench_script_batch [--calls 4000] [--repeat 5] [--json]

A private redis-server (127.0.0.1, a free port, a scratch directory, on the second CPU) and the
gateway's own Redis client (`connect_redis`: the blocking pool, the retry policy, hiredis) with a
`ScriptBatcher`; this process runs pinned to the first CPU with uvloop, as a worker does. Each of
`--repeat` runs awaits `--calls` script calls one after another (each one round trip) and measures
the wall time and this process's CPU time per call; the median run is reported. Running it on an
earlier commit (the batcher's API is the same) gives the before figure of a change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import redis.asyncio as redis
import uvloop

from gateway.quotas.script_batch import ScriptBatcher
from gateway.storage.redis_client import connect_redis
from loadtests.arguments import bounded_count
from loadtests.processes import Processes, cpu_layout, free_port, pin

__all__ = ["main", "time_calls"]

_ECHO = "return {KEYS[1], ARGV[1]}"
_MAX_CALLS = 1_000_000
_STARTUP_SECONDS = 10.0


async def _wait_for_redis(url: str) -> None:
    client = connect_redis(url, password=None, timeout=1.0, client_name="bench-probe")
    deadline = time.monotonic() + _STARTUP_SECONDS
    try:
        while True:
            try:
                await client.ping()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def _measure(url: str, calls: int, repeat: int) -> dict[str, object]:
    await _wait_for_redis(url)
    client = connect_redis(url, password=None, timeout=2.0, client_name="bench-script-batch")
    assert isinstance(client, redis.Redis)  # standalone: the batcher's topology
    batcher = ScriptBatcher(client)
    echo = batcher.script(_ECHO)
    try:
        await echo(keys=["k"], args=["warm-up"])  # loads the script
        walls: list[float] = []
        cpus: list[float] = []
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            for index in range(calls):
                reply = await echo(keys=["k"], args=[index])
                if reply[1] != str(index):
                    raise AssertionError(f"call {index} got {reply!r}")
            walls.append((time.perf_counter() - wall) / calls * 1e6)
            cpus.append((time.process_time() - cpu) / calls * 1e6)
        sent = batcher.pipelines_sent
    finally:
        await batcher.aclose()
        await client.aclose()
    return {
        "wall_us_per_call": round(statistics.median(walls), 1),
        "cpu_us_per_call": round(statistics.median(cpus), 1),
        "cpu_runs_us": [round(cpu, 1) for cpu in cpus],
        "round_trips": sent,
    }


def time_calls(calls: int, repeat: int) -> dict[str, object]:
    """Per-call figures of `repeat` runs of `calls` lone script calls against a private redis-server."""
    layout = cpu_layout()
    allowed = os.sched_getaffinity(0)
    with tempfile.TemporaryDirectory(prefix="bench-script-batch-") as scratch:
        processes = Processes(Path(scratch))
        try:
            port = free_port()
            arguments = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            processes.start("redis", [*arguments, "--dir", scratch], layout.load, program="redis-server")
            pin(0, layout.proxy)  # this process, as a worker alone on its core
            return uvloop.run(_measure(f"redis://127.0.0.1:{port}/0", calls, repeat))
        finally:
            os.sched_setaffinity(0, allowed)
            processes.stop_all()


_count = bounded_count(_MAX_CALLS)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="loadtests.bench_script_batch", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=_count, default=4_000, help="calls per run")
    parser.add_argument("--repeat", type=_count, default=5, help="runs; the median is reported")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args(argv)
    figures = time_calls(options.calls, options.repeat)
    if options.json:
        print(json.dumps(figures))
        return
    print(
        f"a lone script call: {figures['wall_us_per_call']} µs wall, {figures['cpu_us_per_call']} µs of "
        f"CPU (median of {options.repeat} runs of {options.calls:,}; CPU per run {figures['cpu_runs_us']})"
    )


if __name__ == "__main__":
    main()
