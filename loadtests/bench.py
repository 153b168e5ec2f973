"""Benchmark: the vLLM simulator driven directly and through the gateway, streamed and not.

    .venv/bin/python -m loadtests.bench [--concurrency 1,16,64] [--duration 5] [--transport aiohttp,httpx]
                                        [--stream both|on|off] [--repeat 3] [--json OUT] [--profile OUT]

One simulator (no artificial latency: `--ttft-ms 0 --itl-ms 0`, so it answers as fast as it can)
and one gateway in front of it are started on 127.0.0.1. On a machine with 2+ CPUs the gateway
runs alone on the first one, the simulator and the load generator share the second, so what the
gateway costs shows up as its own CPU time and not as contention with its upstream. Each case
(target x stream x concurrency) is run `--repeat` times after a warm-up and the median of each
figure is reported. The gateway's added latency is its median p50/p99 minus the direct run's of
the same case. docs/performance.md explains the method and holds the measured tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from loadtests.bench_authz import generate_policy
from loadtests.generators import GeneratorResult, comparison_table, from_load_result, run_wrk
from loadtests.loadgen import LoadResult
from loadtests.processes import (
    CpuLayout,
    Processes,
    cpu_layout,
    free_port,
    pin,
    wait_for_quiet,
    wait_until_up,
)
from loadtests.profiling import summarize_collapsed
from loadtests.report import Case, CaseResult, Run, added_latency, markdown_table, transport_summary

__all__ = [
    "MODEL",
    "STARTUP_SECONDS",
    "Bench",
    "BenchOptions",
    "Target",
    "main",
    "options_from",
    "positive_ints",
    "request_body",
    "terminate_as_interrupt",
]

_ROOT = Path(__file__).resolve().parent.parent
MODEL = "bench-model"
STARTUP_SECONDS = 60.0
# Headroom for the load generator's own start-up and per-request timeout beyond the run's duration.
_LOADGEN_GRACE_SECONDS = 60.0
# CPU time (in CPUs, over the run) that other programs may take before a run is done again.
_OTHER_CPU_TOLERATED = 0.10
_MAX_ATTEMPTS = 3
_QUIET_WAIT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class BenchOptions:
    concurrencies: tuple[int, ...] = (1, 16, 64)
    duration: float = 5.0
    max_requests: int = 200_000
    transports: tuple[str, ...] = ("aiohttp",)
    streams: tuple[bool, ...] = (False, True)
    repeat: int = 3
    warmup: float = 1.0
    max_tokens: int = 16
    client: str = "raw"
    json_out: Path | None = None
    profile_out: Path | None = None
    compare_generators: bool = False
    quotas: str = "off"
    """`off`; `embedded` or `redis`: a per-service quota every request reserves and settles, in that store."""
    observe: bool = False
    """Tracing at 100% (batch export to a local OTLP receiver), metrics and a hash-chained audit log;
    off, metrics are switched off too, so the difference is what observing costs."""
    pii: str = "off"
    """`off` or `pseudonymize`: the redact step scans every request (which holds no personal data)."""
    policy_lines: int = 0
    """A generated policy of this many lines (loadtests.bench_authz's generator) instead of the
    repository's few; 0 keeps the repository's."""
    workers: int = 1
    """`gateway serve --workers N`; above 1 the gateway's workers get every CPU, shared with the load."""
    otlp_protocol: str = "http/json"
    """How the gateway exports spans to the local receiver (`OTEL_EXPORTER_OTLP_PROTOCOL`)."""
    memory_requests: int = 0
    """After the cases, send this many more requests at c=64 and report the gateway's resident
    memory after a fifth of them and after all (0: no memory check)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a run sends its load, and the processes whose CPU time is read around it."""

    port: int
    simulator_pid: int
    gateway_pid: int | None = None


def resident_kib(pid: int) -> int:
    """A process's resident set size (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def request_body(stream: bool, max_tokens: int) -> str:
    """A short chat request; the streamed one is the same with `stream: true`."""
    body: dict[str, object] = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Tu es un assistant de l'administration."},
            {
                "role": "user",
                "content": "Résume en une phrase la procédure de renouvellement d'un passeport.",
            },
        ],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    if stream:
        body["stream"] = True
    return json.dumps(body, ensure_ascii=False)


def write_config(
    directory: Path,
    simulator_port: int,
    gateway_port: int,
    transport: str,
    *,
    with_keys: bool,
    redis_url: str | None = None,
    quotas: bool = False,
    observe: bool = False,
    pii: str = "off",
    policy_lines: int = 0,
) -> Path:
    # JSON is valid YAML, and json.dumps needs no quoting rules of our own.
    config: dict[str, object] = {
        "server": {"host": "127.0.0.1", "port": gateway_port},
        "models": [{"name": MODEL, "backends": [{"url": f"http://127.0.0.1:{simulator_port}"}]}],
        "upstream": {"transport": transport},
        "health": {"interval": 5, "metrics_interval": 1},
    }
    if with_keys:
        # A throwaway key store in the scratch directory, shared by the gateways of every transport,
        # and the repository's default policies (relative paths would be taken from the scratch directory).
        config["store"] = (
            {"kind": "redis", "url": redis_url}
            if redis_url is not None
            else {"kind": "embedded", "path": str(directory / "keys.db")}
        )
        if quotas:
            # Limits the load never reaches: every request pays a reservation and a settlement on every
            # kind of counter (rolling minute, day, month, requests, concurrency) without being refused.
            config["quotas"] = {
                "departments": {"bench": {"tokens_per_month": 10**12, "requests_per_minute": 10**8}},
                "services": {
                    "bench/loadtests": {
                        "tokens_per_day": 10**11,
                        "tokens_per_minute": 10**10,
                        "max_concurrent": 10_000,
                    }
                },
            }
        policies = _ROOT / "policies"
        policy_file = policies / "policy.csv"
        if policy_lines:
            # The generated departments, plus the repository's lines that let the bench's key in.
            policy_file = directory / "policy.csv"
            lines = generate_policy(policy_lines, departments=50)
            lines += (policies / "policy.csv").read_text(encoding="utf-8").splitlines()
            policy_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        config["policy"] = {"model_file": str(policies / "model.conf"), "policy_file": str(policy_file)}
    config["metrics"] = {"enabled": observe}
    if observe:
        config["tracing"] = {"enabled": True}
        # One chained file per worker (`{worker}`): a chain has one writer.
        config["audit"] = {
            "enabled": True,
            "path": str(directory / "audit-{worker}.jsonl"),
            "hash_chain": True,
        }
    if pii != "off":
        config["pii"] = {"mode": pii, "names": "off"}
    path = directory / f"gateway-{transport}.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


class Bench:
    """One benchmark session: its options, CPU layout, scratch directory and child processes."""

    def __init__(self, options: BenchOptions, layout: CpuLayout, work: Path) -> None:
        self.options = options
        self.layout = layout
        self.work = work
        self.processes = Processes(work)
        self.api_key: str | None = None
        self.redis_url: str | None = None
        self.otlp_port: int | None = None
        # The Redis server and the OTLP receiver the gateway under test uses, when started.
        self.service_pids: list[int] = []
        # Requests answered by the gateway under test, warm-ups included: what its spans are counted against.
        self.gateway_requests = 0

    # -- load runs ------------------------------------------------------------------------------

    def loadgen_command(
        self, port: int, stream: bool, concurrency: int, duration: float, client: str | None = None
    ) -> list[str]:
        options = self.options
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        command = [sys.executable, "-m", "loadtests.loadgen", "--url", url]
        command += ["--body", request_body(stream, options.max_tokens), "--client", client or options.client]
        command += ["--concurrency", str(concurrency), "--duration", str(duration)]
        command += ["--requests", str(options.max_requests)]
        return [*command, "--stream"] if stream else command

    def run_load_program(self, command: list[str], seconds: float) -> bytes:
        """Run a load generator in its own process, on the load CPU, and return what it printed."""
        # The key goes through the environment rather than the command line, which `ps` shows.
        environment = {**os.environ, "LOADGEN_API_KEY": self.api_key or ""}
        process = subprocess.Popen(
            command, cwd=_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        pin(process.pid, self.layout.load)
        try:
            out, err = process.communicate(timeout=seconds + _LOADGEN_GRACE_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if process.returncode != 0:
            message = err.decode(errors="replace")[-2000:]
            raise RuntimeError(f"the load generator failed ({process.returncode}): {message}")
        return out

    def run_loadgen(self, command: list[str], duration: float) -> LoadResult:
        """Run the load generator and read its JSON result."""
        result = LoadResult(**json.loads(self.run_load_program(command, duration)))
        self.gateway_requests += result.requests + result.errors
        return result

    def measure(self, case: Case, target: Target) -> Run:
        """One load run; the generator also reads the CPU time of every process and CPU around it."""
        command = self.loadgen_command(target.port, case.stream, case.concurrency, self.options.duration)
        command += ["--watch-pid", str(target.simulator_pid)]
        if target.gateway_pid is not None:
            command += ["--watch-pid", str(target.gateway_pid)]
        for pid in self.service_pids:
            command += ["--watch-pid", str(pid)]
        result = self.run_loadgen(command, self.options.duration)
        simulator_cpu = result.watched_cpu_s[str(target.simulator_pid)]
        gateway_cpu = result.watched_cpu_s.get(str(target.gateway_pid)) if target.gateway_pid else None
        # The benchmark's own Redis and OTLP receiver are part of the setup, not a disturbance.
        services_cpu = sum(result.watched_cpu_s.get(str(pid), 0.0) for pid in self.service_pids)
        ours = result.client_cpu_s + simulator_cpu + (gateway_cpu or 0.0) + services_cpu
        return Run(
            rps=result.rps,
            requests=result.requests,
            errors=result.errors,
            elapsed_s=result.elapsed_s,
            latency_ms=result.latency_ms,
            ttft_ms=result.ttft_ms,
            client_cpu_s=result.client_cpu_s,
            simulator_cpu_s=simulator_cpu,
            gateway_cpu_s=gateway_cpu,
            other_cpu_s=max(0.0, sum(result.cpu_busy_s.values()) - ours),
            error_examples=result.error_examples,
        )

    def measure_undisturbed(self, case: Case, target: Target) -> Run:
        """A run during which no other program took a noticeable share of the CPUs, if one can be had.

        The machine may be shared (another session's tests): a disturbed run is repeated once the
        machine has been quiet for a second, a bounded number of times, and kept as it is after that.
        """
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            run = self.measure(case, target)
            run.attempts = attempt
            if run.other_cpu_s <= _OTHER_CPU_TOLERATED * run.elapsed_s:
                break
            share = run.other_cpu_s * 100 / run.elapsed_s
            print(f"  {case.label()}: other programs used {share:.0f}% of a CPU; ", end="", flush=True)
            if attempt < _MAX_ATTEMPTS:
                print("running it again", flush=True)
                wait_for_quiet(_QUIET_WAIT_SECONDS)
            else:
                print("kept as it is", flush=True)
        return run

    def warm_up(self, target: Target) -> None:
        """Open every connection the largest case needs and let both servers reach a steady state."""
        if self.options.warmup <= 0:
            return
        for stream in self.options.streams:
            concurrency = max(self.options.concurrencies)
            command = self.loadgen_command(target.port, stream, concurrency, self.options.warmup)
            self.run_loadgen(command, self.options.warmup)

    def run_cases(self, cases: list[Case], target: Target) -> list[CaseResult]:
        """Every case `repeat` times, in rounds, so that a slow moment does not hit one case's runs only."""
        results = [CaseResult(case, []) for case in cases]
        for round_number in range(1, self.options.repeat + 1):
            for result in results:
                run = self.measure_undisturbed(result.case, target)
                result.runs.append(run)
                print(
                    f"  round {round_number}/{self.options.repeat} {result.case.label()}: "
                    f"{run.rps:,.0f} req/s, p50 {run.latency_ms['p50']:.2f} ms, "
                    f"p99 {run.latency_ms['p99']:.2f} ms, errors {run.errors}",
                    flush=True,
                )
        return results

    def cases(self, target: str, transport: str) -> list[Case]:
        return [
            Case("direct" if target == "direct" else "gateway", transport, stream, concurrency)
            for stream in self.options.streams
            for concurrency in self.options.concurrencies
        ]

    # -- processes ------------------------------------------------------------------------------

    def start_simulator(self) -> Target:
        port = free_port()
        arguments = ["-m", "gateway", "sim", "--port", str(port), "--model", MODEL]
        arguments += ["--ttft-ms", "0", "--itl-ms", "0", "--seed", "1", "--max-num-seqs", "256"]
        process = self.processes.start("simulator", arguments, self.layout.load)
        if not wait_until_up(process, port, "/health", STARTUP_SECONDS):
            raise RuntimeError(f"the simulator did not start:\n{self.processes.log_tail('simulator')}")
        return Target(port, process.pid)

    def wait_for_port(self, process: subprocess.Popen[bytes], port: int, name: str) -> None:
        """Until the process accepts connections on its port (bounded), or fail with its log."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not start:\n{self.processes.log_tail(name)}")

    def start_otlp_sink(self) -> None:
        """The collector the gateway's batch exporter sends to; the gateway inherits its address."""
        port = free_port()
        process = self.processes.start(
            "otlp-sink", ["-m", "loadtests.otlp_sink", "--port", str(port)], self.layout.load
        )
        self.wait_for_port(process, port, "otlp-sink")
        self.service_pids.append(process.pid)
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
        os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = self.options.otlp_protocol
        self.otlp_port = port

    def spans_received(self) -> int | None:
        """Spans the local receiver has counted so far (None without one)."""
        if self.otlp_port is None:
            return None
        with urllib.request.urlopen(f"http://127.0.0.1:{self.otlp_port}/stats", timeout=10) as answer:
            return int(json.load(answer)["spans"])

    def start_redis(self) -> None:
        """A private redis-server on the load CPU (a shared store is a separate machine in production)."""
        port = free_port()
        arguments = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = self.processes.start(
            "redis", [*arguments, "--dir", str(self.work)], self.layout.load, program="redis-server"
        )
        self.wait_for_port(process, port, "redis")
        self.service_pids.append(process.pid)
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        # The Redis store needs a pepper; the gateways and `gateway keys` inherit it.
        os.environ.setdefault("GATEWAY_KEY_PEPPER", "loadtests-bench-pepper-" + "0" * 16)

    def create_api_key(self, simulator: Target) -> None:
        """An ordinary user key, made with `gateway keys create` in the scratch key store.

        Every request, direct ones included, carries it, so that both send the same bytes. A gateway
        without API keys (no `keys` command) is measured without one.
        """
        probe = [sys.executable, "-m", "gateway", "keys", "--help"]
        if subprocess.run(probe, cwd=self.work, capture_output=True, timeout=STARTUP_SECONDS).returncode:
            print("this gateway has no API keys: requests are sent without one", flush=True)
            return
        transport = self.options.transports[0]
        config = write_config(
            self.work, simulator.port, free_port(), transport, with_keys=True, redis_url=self.redis_url
        )
        command = [sys.executable, "-m", "gateway", "keys", "create", "--config", str(config)]
        command += ["--department", "bench", "--service", "loadtests", "--label", "loadtests.bench"]
        created = subprocess.run(command, cwd=self.work, capture_output=True, timeout=STARTUP_SECONDS)
        if created.returncode != 0:
            message = created.stderr.decode(errors="replace").strip()[-500:]
            raise RuntimeError(f"could not create an API key for the benchmark: {message}")
        self.api_key = created.stdout.decode().strip()

    def start_gateway(self, simulator: Target, transport: str) -> tuple[Target, subprocess.Popen[bytes]]:
        port = free_port()
        config = write_config(
            self.work,
            simulator.port,
            port,
            transport,
            with_keys=self.api_key is not None,
            redis_url=self.redis_url,
            quotas=self.options.quotas != "off",
            observe=self.options.observe,
            pii=self.options.pii,
            policy_lines=self.options.policy_lines,
        )
        name = f"gateway-{transport}"
        arguments = ["-m", "gateway", "serve", "--config", str(config), "--port", str(port)]
        arguments += ["--workers", str(self.options.workers), "--log-level", "warning"]
        cpus = self.layout.proxy
        if self.options.workers > 1 and self.layout.proxy is not None and self.layout.load is not None:
            cpus = self.layout.proxy | self.layout.load
        process = self.processes.start(name, arguments, cpus)
        if not wait_until_up(process, port, "/health/ready", STARTUP_SECONDS):
            raise RuntimeError(f"the gateway did not become ready:\n{self.processes.log_tail(name)}")
        return Target(port, simulator.simulator_pid, process.pid), process

    # -- the benchmark --------------------------------------------------------------------------

    def direct_results(self, simulator: Target) -> list[CaseResult]:
        print("direct: the simulator alone", flush=True)
        self.warm_up(simulator)
        return self.run_cases(self.cases("direct", "-"), simulator)

    def gateway_results(self, simulator: Target, transport: str) -> list[CaseResult]:
        print(f"gateway: upstream transport {transport}", flush=True)
        target, process = self.start_gateway(simulator, transport)
        self.gateway_requests = 0
        spans_before = self.spans_received()
        try:
            self.warm_up(target)
            results = self.run_cases(self.cases("gateway", transport), target)
            if self.options.profile_out is not None and transport == self.options.transports[0]:
                self.profile_gateway(target, self.options.profile_out)
            if self.options.memory_requests and transport == self.options.transports[0]:
                self.memory_growth(target)
            return results
        finally:
            self.processes.stop(process)  # its batch processor exports what it holds as it stops
            self.report_spans(spans_before)

    def report_spans(self, before: int | None) -> None:
        """Spans delivered per request: nine or ten unless the gateway's export queue overflowed."""
        after = self.spans_received()
        if before is None or after is None or not self.gateway_requests:
            return
        spans = after - before
        print(
            f"tracing: the receiver got {spans:,} spans for {self.gateway_requests:,} requests "
            f"({spans / self.gateway_requests:.2f} per request, {self.options.otlp_protocol})",
            flush=True,
        )

    def memory_growth(self, target: Target) -> None:
        """Resident memory of the gateway after a fifth of `memory_requests` and after all of them."""
        assert target.gateway_pid is not None
        total = self.options.memory_requests
        readings: list[tuple[int, int]] = []
        sent = 0
        for batch in (total // 5, total - total // 5):
            command = self.loadgen_command(target.port, False, 64, 3600.0)
            command[command.index("--requests") + 1] = str(batch)
            result = self.run_loadgen(command, 3600.0)
            sent += result.requests
            readings.append((sent, resident_kib(target.gateway_pid)))
        (first_sent, first), (last_sent, last) = readings
        growth = (last - first) / first * 100
        print(
            f"memory: {first / 1024:.1f} MiB after {first_sent:,} requests, {last / 1024:.1f} MiB after "
            f"{last_sent:,} ({growth:+.1f} %)",
            flush=True,
        )

    def run(self) -> list[CaseResult]:
        """Start everything, measure every case, and stop everything, whatever happens."""
        try:
            if not wait_for_quiet(_QUIET_WAIT_SECONDS):
                print("warning: the machine is busy with other programs; figures may be disturbed")
            simulator = self.start_simulator()
            if self.options.quotas == "redis":
                self.start_redis()
            if self.options.observe:
                self.start_otlp_sink()
            self.create_api_key(simulator)
            results = self.direct_results(simulator)
            for transport in self.options.transports:
                results += self.gateway_results(simulator, transport)
        finally:
            self.processes.stop_all()
        added_latency(results)
        return results

    def profile_gateway(self, target: Target, output: Path) -> None:
        """py-spy samples the gateway during one extra non-streamed run at the highest concurrency."""
        assert target.gateway_pid is not None
        py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if py_spy is None:
            print("profile skipped: py-spy is not installed (.venv/bin/pip install py-spy)")
            return
        seconds = max(1, round(self.options.duration))
        record = ["record", "--pid", str(target.gateway_pid), "--duration", str(seconds), "--rate", "200"]
        # Only the thread holding the GIL: idle pool threads (the key store's) would otherwise count.
        record.append("--gil")
        spy = subprocess.Popen(
            [py_spy, *record, "--format", "raw", "--output", str(output)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        pin(spy.pid, self.layout.load)
        try:
            # The load outlasts the recording by a second so that every sample is taken under load.
            command = self.loadgen_command(target.port, False, max(self.options.concurrencies), seconds + 1)
            self.run_loadgen(command, seconds + 1)
            _, err = spy.communicate(timeout=seconds + _LOADGEN_GRACE_SECONDS)
        finally:
            if spy.poll() is None:
                spy.kill()
                spy.wait()
        if spy.returncode != 0 or not output.exists():
            print(f"profile failed: {err.decode(errors='replace')[-500:]}")
            return
        print(f"\nProfile of the gateway (py-spy, raw stacks in {output}):")
        print(summarize_collapsed(output.read_text()))

    def compare_generators(self) -> str:
        """Each load generator against the simulator alone, non-streamed: a markdown table."""
        results: list[GeneratorResult] = []
        try:
            simulator = self.start_simulator()
            self.warm_up(simulator)
            url = f"http://127.0.0.1:{simulator.port}/v1/chat/completions"
            body = request_body(False, self.options.max_tokens)
            for concurrency in self.options.concurrencies:
                for client in ("raw", "aiohttp"):
                    command = self.loadgen_command(
                        simulator.port, False, concurrency, self.options.duration, client
                    )
                    result = self.run_loadgen(command, self.options.duration)
                    results.append(from_load_result(result, concurrency))
                wrk = run_wrk(url, body, concurrency, self.options.duration, self.layout)
                if wrk is None:
                    print("wrk is not installed (apt-get install wrk): compared the Python clients only")
                else:
                    results.append(wrk)
        finally:
            self.processes.stop_all()
        return comparison_table(results)


def positive_ints(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(",") if part.strip())
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers separated by commas, e.g. 1,16,64")
    return values


def _transports(text: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in text.split(",") if part.strip())
    if not values or not set(values) <= {"aiohttp", "httpx"}:
        raise argparse.ArgumentTypeError("expected aiohttp, httpx or aiohttp,httpx")
    return values


_STREAMS = {"both": (False, True), "on": (True,), "off": (False,)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loadtests.bench", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--concurrency", type=positive_ints, default=(1, 16, 64), help="default 1,16,64")
    add("--duration", type=float, default=5.0, help="seconds per run (default 5)")
    add("--requests", type=int, default=200_000, help="request cap per run (default 200000)")
    add("--transport", type=_transports, default=("aiohttp",), help="aiohttp, httpx or aiohttp,httpx")
    add("--stream", choices=sorted(_STREAMS), default="both")
    add("--repeat", type=int, default=3, help="runs per case; medians are reported (default 3)")
    add("--warmup", type=float, default=1.0, help="warm-up seconds per target and mode (default 1)")
    add("--max-tokens", type=int, default=16, help="tokens generated per request (default 16)")
    add("--client", choices=["raw", "aiohttp"], default="raw", help="load generator client (default raw)")
    add("--json", type=Path, help="write every run and the medians to this file")
    add("--profile", type=Path, help="py-spy the gateway at the highest concurrency, to this file")
    add(
        "--quotas",
        choices=["off", "embedded", "redis"],
        default="off",
        help="a quota on every request, in that store",
    )
    add("--observe", action="store_true", help="tracing at 100%%, metrics and the audit log on")
    add("--policy-lines", type=int, default=0, help="a generated policy of this many lines")
    add("--memory", type=int, default=0, help="then this many requests at c=64: resident memory growth")
    add(
        "--full",
        action="store_true",
        help="every feature: --observe --pii pseudonymize --quotas redis --policy-lines 2000",
    )
    add("--pii", choices=["off", "pseudonymize"], default="off", help="the redact step on every request")
    add("--workers", type=int, default=1, help="gateway worker processes (default 1: one core)")
    add(
        "--otlp-protocol",
        choices=["http/json", "http/protobuf", "grpc"],
        default="http/json",
        help="how spans are exported to the local receiver (default http/json)",
    )
    add(
        "--compare-generators",
        action="store_true",
        help="only compare the load generators (raw, aiohttp, wrk) on the simulator alone",
    )
    return parser


def options_from(argv: Sequence[str] | None) -> BenchOptions:
    args = _parser().parse_args(argv)
    if not 0 < args.duration <= 600 or not 1 <= args.repeat <= 20 or args.requests < 1:
        raise SystemExit(
            "loadtests.bench: --duration must be in (0, 600], --repeat in [1, 20], --requests >= 1"
        )
    if not 1 <= args.workers <= 64:
        raise SystemExit("loadtests.bench: --workers must be in [1, 64]")
    return BenchOptions(
        concurrencies=args.concurrency,
        duration=args.duration,
        max_requests=args.requests,
        transports=args.transport,
        streams=_STREAMS[args.stream],
        repeat=args.repeat,
        warmup=min(max(args.warmup, 0.0), 30.0),
        max_tokens=args.max_tokens,
        client=args.client,
        json_out=args.json,
        profile_out=args.profile,
        compare_generators=args.compare_generators,
        quotas="redis" if args.full else args.quotas,
        observe=args.observe or args.full,
        pii="pseudonymize" if args.full else args.pii,
        policy_lines=2000 if args.full and not args.policy_lines else args.policy_lines,
        memory_requests=max(0, args.memory),
        otlp_protocol=args.otlp_protocol,
        workers=args.workers,
    )


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGINT unwind like Ctrl-C, so the `finally` blocks stop every child process.

    SIGINT is set too because a shell starts background jobs with it ignored, and Python then
    leaves it ignored.
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _write_json(path: Path, options: BenchOptions, results: list[CaseResult], layout: CpuLayout) -> None:
    document = {
        "options": {
            "concurrency": list(options.concurrencies),
            "duration_s": options.duration,
            "repeat": options.repeat,
            "max_tokens": options.max_tokens,
            "client": options.client,
            "transports": list(options.transports),
        },
        "cpu_layout": layout.describe(),
        "results": [result.as_dict() for result in results],
    }
    path.write_text(json.dumps(document, indent=2))


def _report(options: BenchOptions, results: list[CaseResult], layout: CpuLayout) -> None:
    print(f"\n{options.repeat} run(s) of {options.duration:g} s per case, medians; {layout.describe()}\n")
    print(markdown_table(results))
    for line in transport_summary(results):
        print(line)
    if options.json_out is not None:
        _write_json(options.json_out, options, results, layout)
        print(f"\nwrote {options.json_out}")


def main(argv: Sequence[str] | None = None) -> int:
    options = options_from(argv)
    started = time.monotonic()
    layout = cpu_layout()
    # This process and the load generators it starts share the load CPU; only the gateway gets the other.
    pin(0, layout.load)
    print(f"CPU layout: {layout.describe()}", flush=True)
    try:
        with terminate_as_interrupt(), tempfile.TemporaryDirectory(prefix="gateway-bench-") as scratch:
            bench = Bench(options, layout, Path(scratch))
            if options.compare_generators:
                print(bench.compare_generators())
                return 0
            results = bench.run()
    except KeyboardInterrupt:
        print("\ninterrupted: every process was stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"loadtests.bench: {exc}", file=sys.stderr)
        return 1
    _report(options, results, layout)
    print(f"\ntotal time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
