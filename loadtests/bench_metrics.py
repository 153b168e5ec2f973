"""Benchmark: what the Prometheus metrics cost per request, with one worker and with several.

    .venv/bin/python -m loadtests.bench_metrics [--calls 200000] [--repeats 5] [--label-sets 64]

prometheus_client chooses its mode when it is first imported, so each mode is measured in a
process of its own: `single` as with one worker, `multiprocess` with PROMETHEUS_MULTIPROC_DIR set to
a temporary directory, as `gateway serve --workers N` sets it. Each process times:

- request_finished     one call with a streamed chat request's figures (status, duration, time to
                       first token, input and output tokens), cycling over `--label-sets`
                       (department, service, status) combinations;
- started+finished     the two calls every request that reaches a backend makes;
- request_rejected     a refusal before the reservation (401, 403, 429 ...);
- unbatched            for comparison: the same figures written straight into prometheus_client's
                       labelled children (cached, no `.labels()`): 3 counter increments, 4
                       histogram observations and 2 gauge changes per request;
- flush                handing what `--calls` requests left to prometheus_client (at each scrape;
                       with several workers also once per `flush_interval_seconds`), per flush;
- render               one scrape's exposition.

Per-call figures are the loop's time over `--calls` calls divided by the calls, best and median of
`--repeats` runs, in nanoseconds, loop included (an empty loop costs some 20 ns per turn here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main"]

_MODES = ("single", "multiprocess")
_ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
_CHAT_MODEL = "mistral-small"


def _per_call(run: Callable[[int], None], calls: int, repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        run(calls)
        times.append((time.perf_counter_ns() - started) / calls)
    return {"best": min(times), "median": statistics.median(times)}


def _once(run: Callable[[], object], repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        run()
        times.append(time.perf_counter_ns() - started)
    return {"best": min(times), "median": statistics.median(times)}


def measure(calls: int, repeats: int, label_sets: int) -> dict[str, Any]:
    """Time the calls in this process, in whatever mode prometheus_client is in."""
    from gateway.config import GatewayConfig
    from gateway.routing import build_pools
    from gateway.telemetry import GatewayMetrics
    from gateway.telemetry.families import create_families

    config = GatewayConfig.model_validate(
        {
            "models": [
                {
                    "name": _CHAT_MODEL,
                    "backends": [{"url": "http://127.0.0.1:9"}, {"url": "http://127.0.0.1:10"}],
                },
                {"name": "bge-m3", "backends": [{"url": "http://127.0.0.1:9"}]},
            ]
        }
    )
    pools, _ = build_pools(config)
    metrics = GatewayMetrics(pools)
    statuses = (200, 200, 200, 429)
    labels = [
        (f"department-{n % 8}", f"service-{n % 16}", statuses[n % len(statuses)]) for n in range(label_sets)
    ]
    cycle = [labels[n % label_sets] for n in range(calls)]
    finished, started, rejected = metrics.request_finished, metrics.request_started, metrics.request_rejected

    def run_finished(count: int) -> None:
        for department, service, status in cycle[:count]:
            finished(department, service, _CHAT_MODEL, "chat", status, 1.7, 0.2, 500, 120)

    def run_pair(count: int) -> None:
        for department, service, status in cycle[:count]:
            started(_CHAT_MODEL)
            finished(department, service, _CHAT_MODEL, "chat", status, 1.7, 0.2, 500, 120)

    def run_rejected(count: int) -> None:
        for department, service, status in cycle[:count]:
            rejected(department, service, _CHAT_MODEL, "chat", status)

    # The comparison: the same writes, made on every request with prometheus_client's own calls.
    families = create_families(None)
    direct = {
        key: (
            families.requests.labels(key[0], key[1], _CHAT_MODEL, "chat", str(key[2])),
            families.tokens.labels(key[0], key[1], _CHAT_MODEL, "input"),
            families.tokens.labels(key[0], key[1], _CHAT_MODEL, "output"),
        )
        for key in labels
    }
    in_flight = families.requests_in_flight.labels(_CHAT_MODEL)
    input_usage = families.request_tokens.labels(_CHAT_MODEL, "input")
    output_usage = families.request_tokens.labels(_CHAT_MODEL, "output")
    duration = families.request_duration.labels(_CHAT_MODEL, "chat")
    ttft = families.time_to_first_token.labels(_CHAT_MODEL)

    def run_unbatched(count: int) -> None:
        for key in cycle[:count]:
            in_flight.inc()
            requests, input_tokens, output_tokens = direct[key]
            requests.inc()
            input_tokens.inc(500)
            output_tokens.inc(120)
            input_usage.observe(500)
            output_usage.observe(120)
            duration.observe(1.7)
            ttft.observe(0.2)
            in_flight.dec()

    figures: dict[str, Any] = {"mode": "multiprocess" if metrics.multiprocess else "single"}
    run_pair(min(calls, 10_000))  # warm: every series made, every child taken
    metrics.flush()
    figures["request_finished"] = _per_call(run_finished, calls, repeats)
    figures["started+finished"] = _per_call(run_pair, calls, repeats)
    figures["request_rejected"] = _per_call(run_rejected, calls, repeats)
    figures["unbatched"] = _per_call(run_unbatched, calls, repeats)

    def pending_then_flush() -> None:
        run_pair(calls)
        started_at = time.perf_counter_ns()
        metrics.flush()
        flush_times.append(time.perf_counter_ns() - started_at)

    flush_times: list[int] = []
    for _ in range(repeats):
        pending_then_flush()
    figures["flush"] = {"best": min(flush_times), "median": statistics.median(flush_times)}
    figures["render"] = _once(metrics.render, repeats)
    figures["label_sets"] = label_sets
    return figures


def _child(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    environment = {key: value for key, value in os.environ.items() if key != _ENVIRONMENT}
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as directory:
        if mode == "multiprocess":
            environment[_ENVIRONMENT] = directory
        command = [
            sys.executable,
            "-m",
            "loadtests.bench_metrics",
            "--measure",
            f"--calls={args.calls}",
            f"--repeats={args.repeats}",
            f"--label-sets={args.label_sets}",
        ]
        done = subprocess.run(
            command, env=environment, capture_output=True, text=True, check=True, timeout=600
        )
    figures: dict[str, Any] = json.loads(done.stdout)
    if figures["mode"] != mode:
        raise RuntimeError(f"asked for {mode}, measured {figures['mode']}")
    return figures


def report(results: Sequence[dict[str, Any]], calls: int) -> None:
    print(f"ns per call, {calls} calls per run, best / median of the runs")
    print(f"{'':20}" + "".join(f"{result['mode']:>24}" for result in results))
    for name in ("request_finished", "started+finished", "request_rejected", "unbatched"):
        row = "".join(f"{result[name]['best']:>12.0f}{result[name]['median']:>12.0f}" for result in results)
        print(f"{name:20}{row}")
    print(f"\nµs per call, best / median ({results[0]['label_sets']} request label sets pending)")
    for name in ("flush", "render"):
        row = "".join(
            f"{result[name]['best'] / 1000:>12.1f}{result[name]['median'] / 1000:>12.1f}"
            for result in results
        )
        print(f"{name:20}{row}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--label-sets", type=int, default=64)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.calls, args.repeats, args.label_sets)))
        return 0
    report([_child(mode, args) for mode in _MODES], args.calls)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
