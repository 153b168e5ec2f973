"""Benchmark: the delay the gateway adds to each streamed event (target: under 1 ms, every event).

    .venv/bin/python -m loadtests.bench_relay [--concurrency 1,16,64] [--duration 5] [--itl-ms 5]
                                              [--max-tokens 64] [--full] [--json OUT]

Method. One simulator runs with `--stamp-events --ttft-ms 0 --itl-ms <itl>`: the text of each
streamed token is ` @<ns>`, the simulator's `time.monotonic_ns()` taken right before the event is
written (stamped streams are never batched). The load generator (`loadtests.relay_loadgen`, its own
process) keeps `c` streamed chat requests of `--max-tokens` tokens open in a loop and, for every
token event, records `delay = arrival - stamp`, its own `time.monotonic_ns()` when the read that
completes the event reaches it. CLOCK_MONOTONIC is shared by the processes of one machine, so no
clock offset enters. Each concurrency is run straight against the simulator ("direct"), then
through one gateway in front of it, after a warm-up whose events are not recorded. On 2+ CPUs the
gateway runs alone on one CPU; the simulator, the load generator, and with `--full` the Redis server
and the OTLP sink, share the other (as in `loadtests.bench`, whose helpers start them). `--full`
turns on exactly what `loadtests.bench --full` does: API key, 2,000 policy lines, PII
pseudonymization, quotas in Redis, tracing at 100% to a local OTLP sink, metrics, hash-chained audit.

The direct delay is the floor of the measurement (loopback, the simulator's send, the client's own
scheduling on a shared CPU); the gateway's delay adds two loopback hops and everything the gateway
does between reading an event and writing it, including waiting for its event loop while it serves
other requests.

Figures, per target and concurrency c, over the events of the measured window:
    p50 / p99 / p99.9 / max     percentiles of the per-event delay (linear interpolation), in ms.
    added p50 / p99             the gateway run's percentile minus the direct run's at the same c.
    over 1 ms budget            the events of one run cannot be paired with those of the other, so
                                they are paired by rank: sort the gateway run's n delays
                                g(0) <= ... <= g(n-1) and let D(q) be the direct run's delay at
                                quantile q (same c). Event i is over budget when
                                g(i) - D(i / (n-1)) > 1 ms. The share is the count over n: the part of
                                the gateway's delay distribution lying more than 1 ms to the right of
                                the direct one. The target is 0.
    over 1 ms stamp to arrival  the share of events whose whole delay exceeds 1 ms. It needs no
                                baseline, so it also counts what the direct path costs (about 0 for
                                direct runs on a quiet machine); a direct run disturbed by other
                                programs raises the baseline of the share above, not this one.
    gateway CPU / load CPU      the gateway's CPU time, and the busy share of the simulator's CPU, over
                                the window: a saturated CPU queues events whatever the code does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loadtests.bench import (
    MODEL,
    STARTUP_SECONDS,
    Bench,
    Target,
    options_from,
    positive_ints,
    request_body,
    terminate_as_interrupt,
)
from loadtests.processes import CpuLayout, cpu_layout, free_port, pin, wait_for_quiet, wait_until_up
from loadtests.relay_loadgen import RelayResult
from loadtests.relay_report import BUDGET_MS, RelayRun, compare, delay_stats, markdown_table
from loadtests.relay_report import Target as RunTarget

__all__ = ["RelayBench", "RelayOptions", "main"]

# CPU time (in CPUs, over the window) that programs other than ours may take before a run is done again.
_OTHER_CPU_TOLERATED = 0.10


@dataclass(frozen=True, slots=True)
class RelayOptions:
    """What `bench_relay` adds to `loadtests.bench`'s options."""

    full: bool = False
    """Every gateway feature on, as `loadtests.bench --full` sets them."""
    itl_ms: float = 5.0
    max_tokens: int = 64
    warmup: float = 1.0
    quiet_wait: float = 30.0
    """At most this long, wait for a quiet machine before starting and before a run is done again."""
    attempts: int = 3
    """Runs made at most to get one that other programs did not disturb (1: never repeat)."""
    json_out: Path | None = None


class RelayBench(Bench):
    """`loadtests.bench`'s session (processes, Redis, OTLP sink, key, gateway) with stamped streams."""

    def __init__(
        self, concurrencies: tuple[int, ...], duration: float, relay: RelayOptions, work: Path
    ) -> None:
        # loadtests.bench's own parser turns --full into its options, so both benchmarks mean the same.
        argv = ["--concurrency", ",".join(map(str, concurrencies)), "--duration", str(duration)]
        argv += ["--stream", "on", "--repeat", "1", "--max-tokens", str(relay.max_tokens)]
        super().__init__(options_from([*argv, "--full"] if relay.full else argv), cpu_layout(), work)
        self.relay = relay

    def start_simulator(self) -> Target:
        port = free_port()
        arguments = ["-m", "gateway", "sim", "--port", str(port), "--model", MODEL, "--seed", "1"]
        arguments += ["--stamp-events", "--ttft-ms", "0", "--itl-ms", str(self.relay.itl_ms)]
        # Every stream runs at once: a queued request would delay its first token, not its events.
        arguments += ["--max-num-seqs", str(max(256, 2 * max(self.options.concurrencies)))]
        process = self.processes.start("simulator", arguments, self.layout.load)
        if not wait_until_up(process, port, "/health", STARTUP_SECONDS):
            raise RuntimeError(f"the simulator did not start:\n{self.processes.log_tail('simulator')}")
        return Target(port, process.pid)

    def measure_relay(self, target: Target, concurrency: int) -> RelayResult:
        """One run of the load generator, in its own process on the load CPU."""
        options, relay = self.options, self.relay
        command = [sys.executable, "-m", "loadtests.relay_loadgen"]
        command += ["--url", f"http://127.0.0.1:{target.port}/v1/chat/completions"]
        command += ["--body", request_body(True, relay.max_tokens), "--concurrency", str(concurrency)]
        command += ["--duration", str(options.duration), "--warmup", str(relay.warmup)]
        # This process's tree (every server it started, and the load generator) tells ours from other work.
        command += ["--watch-pid", str(os.getpid()), "--watch-pid", str(target.simulator_pid)]
        if target.gateway_pid is not None:
            command += ["--watch-pid", str(target.gateway_pid)]
        out = self.run_load_program(command, relay.warmup + options.duration)
        return RelayResult(**json.loads(out))

    def run_target(self, name: RunTarget, target: Target) -> list[tuple[RelayRun, list[int]]]:
        """Every concurrency against one target: each run's figures, and its delays sorted."""
        runs = []
        for concurrency in self.options.concurrencies:
            result, attempts = self.measure_relay_undisturbed(target, concurrency)
            ordered = sorted(result.delays_ns)
            run = relay_run(name, concurrency, result, ordered, target, self.layout)
            run.attempts = attempts
            print(
                f"  {name} c={concurrency}: {run.delays.events:,} events, p50 {run.delays.p50_ms:.3f} ms, "
                f"p99 {run.delays.p99_ms:.3f} ms, max {run.delays.max_ms:.3f} ms, errors {run.errors}",
                flush=True,
            )
            for example in result.error_examples:
                print(f"    error: {example}", flush=True)
            runs.append((run, ordered))
        return runs

    def measure_relay_undisturbed(self, target: Target, concurrency: int) -> tuple[RelayResult, int]:
        """A run during which other programs left the CPUs alone, if one can be had in a few attempts.

        Tails are what this benchmark is about, and another program on a 2-CPU machine makes them.
        """
        attempts = self.relay.attempts
        for attempt in range(1, attempts + 1):
            result = self.measure_relay(target, concurrency)
            other = other_cpu(result)
            if other <= _OTHER_CPU_TOLERATED:
                break
            print(f"    other programs used {other * 100:.0f}% of a CPU; ", end="", flush=True)
            if attempt < attempts:
                print("running it again", flush=True)
                wait_for_quiet(self.relay.quiet_wait)
            else:
                print("kept as it is", flush=True)
        return result, attempt

    def run_relay(self) -> list[RelayRun]:
        """Start everything, measure direct then through the gateway, and stop everything, whatever happens."""
        options = self.options
        try:
            if self.relay.quiet_wait > 0 and not wait_for_quiet(self.relay.quiet_wait):
                print("warning: the machine is busy with other programs; figures may be disturbed")
            simulator = self.start_simulator()
            if options.quotas == "redis":
                self.start_redis()
            if options.observe:
                self.start_otlp_sink()
            self.create_api_key(simulator)
            print("direct: the simulator alone", flush=True)
            direct = self.run_target("direct", simulator)
            print(f"gateway: upstream transport {options.transports[0]}", flush=True)
            gateway_target, _ = self.start_gateway(simulator, options.transports[0])
            gateway = self.run_target("gateway", gateway_target)
        finally:
            self.processes.stop_all()
        runs: list[RelayRun] = []
        for (direct_run, direct_ns), (gateway_run, gateway_ns) in zip(direct, gateway, strict=True):
            compare(direct_run, gateway_run, direct_ns, gateway_ns)
            runs += [direct_run, gateway_run]
        return runs


def relay_run(
    name: RunTarget,
    concurrency: int,
    result: RelayResult,
    ordered_ns: list[int],
    target: Target,
    layout: CpuLayout,
) -> RelayRun:
    elapsed = result.elapsed_s
    gateway_cpu = None
    if target.gateway_pid is not None:
        gateway_cpu = result.watched_cpu_s[str(target.gateway_pid)] / elapsed
    load_cpu = None
    if layout.load is not None:
        load_cpu = sum(result.cpu_busy_s.get(str(cpu), 0.0) for cpu in layout.load) / elapsed
    return RelayRun(
        target=name,
        concurrency=concurrency,
        delays=delay_stats(ordered_ns),
        requests=result.requests,
        errors=result.errors,
        elapsed_s=elapsed,
        gateway_cpu=gateway_cpu,
        load_cpu=load_cpu,
        negative_delays=sum(1 for delay in ordered_ns if delay < 0),
        other_cpu=other_cpu(result),
    )


def other_cpu(result: RelayResult) -> float:
    """Busy time of the CPUs beyond this process's tree (servers and load generator), in CPUs."""
    ours = result.watched_cpu_s[str(os.getpid())]
    return max(0.0, sum(result.cpu_busy_s.values()) - ours) / result.elapsed_s


def _write_json(path: Path, bench: RelayBench, runs: list[RelayRun]) -> None:
    options, relay = bench.options, bench.relay
    document = {
        "options": {
            "concurrency": list(options.concurrencies),
            "duration_s": options.duration,
            "warmup_s": relay.warmup,
            "itl_ms": relay.itl_ms,
            "max_tokens": relay.max_tokens,
            "transport": options.transports[0],
            "full": relay.full,
            "quotas": options.quotas,
            "observe": options.observe,
            "pii": options.pii,
            "policy_lines": options.policy_lines,
        },
        "cpu_layout": bench.layout.describe(),
        "budget_ms": BUDGET_MS,
        "runs": [run.as_dict() for run in runs],
    }
    path.write_text(json.dumps(document, indent=2))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loadtests.bench_relay", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--concurrency", type=positive_ints, default=(1, 16, 64), help="default 1,16,64")
    add("--duration", type=float, default=5.0, help="measured seconds per run (default 5)")
    add("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (default 1)")
    add("--itl-ms", type=float, default=5.0, help="the simulator's inter-token latency (default 5)")
    add("--max-tokens", type=int, default=64, help="tokens per stream (default 64)")
    add("--full", action="store_true", help="every gateway feature on, as loadtests.bench --full")
    add("--quiet-wait", type=float, default=30.0, help="longest wait for a quiet machine (default 30 s)")
    add("--attempts", type=int, default=3, help="runs at most per case, when disturbed (default 3)")
    add("--json", type=Path, help="write the figures to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 0 < args.duration <= 600 or not 0 <= args.warmup <= 60 or not 0 < args.itl_ms <= 1000:
        raise SystemExit(
            "loadtests.bench_relay: --duration in (0, 600], --warmup in [0, 60], --itl-ms in (0, 1000]"
        )
    if not 1 <= args.max_tokens <= 4096:
        raise SystemExit("loadtests.bench_relay: --max-tokens in [1, 4096]")
    relay = RelayOptions(
        full=args.full,
        itl_ms=args.itl_ms,
        max_tokens=args.max_tokens,
        warmup=args.warmup,
        quiet_wait=min(max(args.quiet_wait, 0.0), 600.0),
        attempts=min(max(args.attempts, 1), 10),
        json_out=args.json,
    )
    started = time.monotonic()
    try:
        with terminate_as_interrupt(), tempfile.TemporaryDirectory(prefix="gateway-bench-relay-") as scratch:
            bench = RelayBench(args.concurrency, args.duration, relay, Path(scratch))
            # This process and the load generators it starts share the load CPU; the gateway gets the other.
            pin(0, bench.layout.load)
            print(f"CPU layout: {bench.layout.describe()}", flush=True)
            runs = bench.run_relay()
    except KeyboardInterrupt:
        print("\ninterrupted: every process was stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"loadtests.bench_relay: {exc}", file=sys.stderr)
        return 1
    print(f"\nPer-event delay, stamp to arrival; {args.duration:g} s per run; {bench.layout.describe()}\n")
    print(markdown_table(runs))
    if relay.json_out is not None:
        _write_json(relay.json_out, bench, runs)
        print(f"\nwrote {relay.json_out}")
    print(f"\ntotal time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
