"""Which load generator produces the most load: our two Python clients and wrk, on the simulator alone.

The benchmark's generator shares a CPU with the simulator, so the cheaper it is per request, the
more of that CPU is left to the simulator and the less it limits what the gateway is offered.
`python -m loadtests.bench --compare-generators` runs each one against the simulator alone at each
concurrency. wrk (Debian's `wrk` package) is used when it is installed and skipped otherwise; it
cannot time a stream's first token, which is why the benchmark itself uses the Python client.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from loadtests.loadgen import LoadResult
from loadtests.processes import CpuLayout, pin

__all__ = ["GeneratorResult", "comparison_table", "from_load_result", "run_wrk"]

# wrk prints its own report first; `done` adds one JSON line the benchmark can read.
_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "errors": %%d, "p50_us": %%f, "p99_us": %%f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True, slots=True)
class GeneratorResult:
    generator: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float
    """CPU time the generator itself spent per request."""
    errors: int


def from_load_result(result: LoadResult, concurrency: int) -> GeneratorResult:
    return GeneratorResult(
        generator=result.client,
        concurrency=concurrency,
        rps=result.rps,
        p50_ms=result.latency_ms["p50"],
        p99_ms=result.latency_ms["p99"],
        cpu_us_per_request=result.client_cpu_s * 1e6 / result.requests if result.requests else float("nan"),
        errors=result.errors,
    )


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    url: str, body: str, concurrency: int, duration: float, layout: CpuLayout
) -> GeneratorResult | None:
    """One wrk run (one thread, `concurrency` connections), or None when wrk is not installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT % body)
        script.flush()
        seconds = max(1, round(duration))
        command = [wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", "-s", script.name, url]
        cpu_before = _children_cpu_seconds()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pin(process.pid, layout.load)
        out, _ = process.communicate(timeout=seconds + 30)
        cpu = _children_cpu_seconds() - cpu_before
    line = next(line for line in out.decode().splitlines()[::-1] if line.startswith("{"))
    data = json.loads(line)
    requests = int(data["requests"])
    return GeneratorResult(
        generator="wrk",
        concurrency=concurrency,
        rps=requests / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        cpu_us_per_request=cpu * 1e6 / requests if requests else float("nan"),
        errors=int(data["errors"]),
    )


def comparison_table(results: list[GeneratorResult]) -> str:
    lines = [
        "| generator | c | req/s | p50 ms | p99 ms | generator CPU µs/req | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in sorted(results, key=lambda r: (r.concurrency, r.generator)):
        lines.append(
            f"| {result.generator} | {result.concurrency} | {result.rps:,.0f} | {result.p50_ms:.2f} "
            f"| {result.p99_ms:.2f} | {result.cpu_us_per_request:.0f} | {result.errors} |"
        )
    return "\n".join(lines)
