"""Turn measured runs into medians, the gateway's added latency, and a markdown table."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Case", "CaseResult", "Run", "added_latency", "markdown_table", "transport_summary"]

Target = Literal["direct", "gateway"]


@dataclass(frozen=True, slots=True)
class Case:
    """One cell of the benchmark: where the load goes, streamed or not, at which concurrency."""

    target: Target
    transport: str
    """The gateway's upstream transport; "-" for runs straight against the simulator."""
    stream: bool
    concurrency: int

    def label(self) -> str:
        mode = "stream" if self.stream else "plain"
        return f"{self.target}/{self.transport}/{mode}/c={self.concurrency}"


@dataclass(slots=True)
class Run:
    """One load run of a case, as the load generator and /proc saw it."""

    rps: float
    requests: int
    errors: int
    elapsed_s: float
    latency_ms: dict[str, float]
    ttft_ms: dict[str, float] | None
    client_cpu_s: float
    """CPU time of the load generator during the run."""
    simulator_cpu_s: float
    gateway_cpu_s: float | None
    """CPU time of the gateway process during the run (None for direct runs)."""
    other_cpu_s: float
    """Busy time of the machine's CPUs not spent by the three processes above (kernel work outside
    them, or another program disturbing the run)."""
    attempts: int = 1
    """Runs made to get this one: a run disturbed by other programs is repeated."""
    error_examples: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CaseResult:
    """The runs of one case and the medians reported for it."""

    case: Case
    runs: list[Run]
    added_p50_ms: float | None = None
    added_p99_ms: float | None = None

    def median(self, pick: Any) -> float:
        values = [value for value in (pick(run) for run in self.runs) if value is not None]
        return statistics.median(values) if values else math.nan

    @property
    def rps(self) -> float:
        return self.median(lambda run: run.rps)

    def latency(self, name: str) -> float:
        return self.median(lambda run: run.latency_ms[name])

    def ttft(self, name: str) -> float:
        return self.median(lambda run: run.ttft_ms[name] if run.ttft_ms else None)

    @property
    def errors(self) -> int:
        return sum(run.errors for run in self.runs)

    @property
    def gateway_cpu_ms_per_request(self) -> float:
        return self.median(
            lambda run: (
                run.gateway_cpu_s * 1000 / run.requests if run.gateway_cpu_s and run.requests else None
            )
        )

    @property
    def gateway_cpu_percent(self) -> float:
        return self.median(lambda run: run.gateway_cpu_s * 100 / run.elapsed_s if run.gateway_cpu_s else None)

    @property
    def load_cpu_percent(self) -> float:
        """CPU used by the simulator and the load generator, in percent of one CPU."""
        return self.median(lambda run: (run.simulator_cpu_s + run.client_cpu_s) * 100 / run.elapsed_s)

    @property
    def other_cpu_percent(self) -> float:
        return self.median(lambda run: run.other_cpu_s * 100 / run.elapsed_s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.case.target,
            "transport": self.case.transport,
            "stream": self.case.stream,
            "concurrency": self.case.concurrency,
            "median": {
                "rps": self.rps,
                "latency_ms": {name: self.latency(name) for name in ("p50", "p95", "p99")},
                "ttft_ms": {name: self.ttft(name) for name in ("p50", "p95", "p99")}
                if self.case.stream
                else None,
                "added_p50_ms": self.added_p50_ms,
                "added_p99_ms": self.added_p99_ms,
                "gateway_cpu_ms_per_request": _or_none(self.gateway_cpu_ms_per_request),
                "gateway_cpu_percent": _or_none(self.gateway_cpu_percent),
                "load_cpu_percent": self.load_cpu_percent,
                "other_cpu_percent": self.other_cpu_percent,
            },
            "errors": self.errors,
            "runs": [_run_dict(run) for run in self.runs],
        }


def _or_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def _run_dict(run: Run) -> dict[str, Any]:
    return {name: getattr(run, name) for name in Run.__slots__}


def added_latency(results: Sequence[CaseResult]) -> None:
    """Fill in, for every gateway case, its median p50/p99 minus the direct case's of the same shape."""
    direct = {(r.case.stream, r.case.concurrency): r for r in results if r.case.target == "direct"}
    for result in results:
        baseline = direct.get((result.case.stream, result.case.concurrency))
        if result.case.target != "gateway" or baseline is None:
            continue
        result.added_p50_ms = result.latency("p50") - baseline.latency("p50")
        result.added_p99_ms = result.latency("p99") - baseline.latency("p99")


def _number(value: float | None, digits: int = 2) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


_HEADER = (
    "| target | transport | stream | c | req/s | p50 ms | p95 ms | p99 ms | TTFT p50 ms | TTFT p99 ms "
    "| added p50 ms | added p99 ms | gw CPU ms/req | gw CPU % | sim+gen CPU % | other CPU % | errors |"
)


def _row(result: CaseResult) -> str:
    case = result.case
    ttft = (result.ttft("p50"), result.ttft("p99")) if case.stream else (None, None)
    cells = [
        case.target,
        case.transport,
        "yes" if case.stream else "no",
        str(case.concurrency),
        _number(result.rps, 0),
        _number(result.latency("p50")),
        _number(result.latency("p95")),
        _number(result.latency("p99")),
        _number(ttft[0]),
        _number(ttft[1]),
        _number(result.added_p50_ms),
        _number(result.added_p99_ms),
        _number(result.gateway_cpu_ms_per_request, 3),
        _number(result.gateway_cpu_percent, 0),
        _number(result.load_cpu_percent, 0),
        _number(result.other_cpu_percent, 0),
        str(result.errors),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown_table(results: Sequence[CaseResult]) -> str:
    ordered = sorted(
        results,
        key=lambda r: (r.case.stream, r.case.concurrency, r.case.target != "direct", r.case.transport),
    )
    separator = "|" + "---|" * _HEADER.count(" | ") + "---|"
    return "\n".join([_HEADER, separator, *(_row(result) for result in ordered)])


def transport_summary(results: Sequence[CaseResult]) -> list[str]:
    """One line per shape measured on both transports: which served more requests, by how much."""
    by_shape: dict[tuple[bool, int], dict[str, CaseResult]] = {}
    for result in results:
        if result.case.target == "gateway":
            by_shape.setdefault((result.case.stream, result.case.concurrency), {})[result.case.transport] = (
                result
            )
    lines = []
    for (stream, concurrency), transports in sorted(by_shape.items()):
        if {"aiohttp", "httpx"} <= transports.keys():
            fast, slow = transports["aiohttp"], transports["httpx"]
            ratio = fast.rps / slow.rps if slow.rps else math.inf
            lines.append(
                f"{'stream' if stream else 'plain'} c={concurrency}: aiohttp {fast.rps:,.0f} req/s "
                f"(p99 {fast.latency('p99'):.1f} ms) vs httpx {slow.rps:,.0f} req/s "
                f"(p99 {slow.latency('p99'):.1f} ms): x{ratio:.2f}"
            )
    return lines
