"""Per-event relay delays: percentiles, the gateway's added delay, the 1 ms budget, a markdown table.

`loadtests.bench_relay`'s docstring defines every figure computed here.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from loadtests.loadgen import percentile

__all__ = ["DelayStats", "RelayRun", "compare", "delay_stats", "markdown_table", "over_budget_share"]

BUDGET_MS = 1.0
"""The project's target: every event leaves the gateway within 1 ms of arriving."""
_NS_PER_MS = 1_000_000

Target = Literal["direct", "gateway"]


@dataclass(frozen=True, slots=True)
class DelayStats:
    """The distribution of one run's per-event delays, in milliseconds."""

    events: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    over_1ms: float
    """Share of events whose whole delay, stamp to arrival, exceeds 1 ms (NaN when there are none)."""


def delay_stats(ordered_ns: Sequence[int]) -> DelayStats:
    """Percentiles (linear interpolation) of sorted delays in nanoseconds; NaN when there are none."""
    count = len(ordered_ns)
    p50, p99, p999 = (percentile(ordered_ns, q) / _NS_PER_MS for q in (0.5, 0.99, 0.999))
    if not count:
        return DelayStats(0, p50, p99, p999, math.nan, math.nan)
    within = bisect.bisect_right(ordered_ns, BUDGET_MS * _NS_PER_MS)
    return DelayStats(count, p50, p99, p999, ordered_ns[-1] / _NS_PER_MS, (count - within) / count)


def over_budget_share(
    gateway_ns: Sequence[int], direct_ns: Sequence[int], budget_ms: float = BUDGET_MS
) -> float | None:
    """The share of gateway events more than `budget_ms` later than the direct event of the same rank.

    Both sequences sorted. The i-th smallest of n gateway delays sits at quantile i/(n-1); it is over
    budget when it exceeds the direct run's delay at that same quantile by more than the budget.
    None when either run measured nothing.
    """
    count = len(gateway_ns)
    if not count or not direct_ns:
        return None
    budget_ns = budget_ms * _NS_PER_MS
    last = max(count - 1, 1)
    over = sum(
        1 for rank, delay in enumerate(gateway_ns) if delay - percentile(direct_ns, rank / last) > budget_ns
    )
    return over / count


@dataclass(slots=True)
class RelayRun:
    """One run at one concurrency, straight to the simulator or through the gateway."""

    target: Target
    concurrency: int
    delays: DelayStats
    requests: int
    errors: int
    elapsed_s: float
    gateway_cpu: float | None
    """The gateway's CPU time over the window, in CPUs (1.0: one CPU fully busy); None for direct."""
    load_cpu: float | None
    """Busy share of the CPU the simulator and the load generator share; None when not pinned."""
    negative_delays: int = 0
    """Events stamped after they arrived: any would mean the clocks are not comparable."""
    other_cpu: float = 0.0
    """CPU time of programs the benchmark did not start (and kernel work outside them), in CPUs."""
    attempts: int = 1
    """Runs made to get this one: a run disturbed by other programs is repeated."""
    added_p50_ms: float | None = None
    added_p99_ms: float | None = None
    over_budget: float | None = None
    """Gateway runs: `over_budget_share` against the direct run of the same concurrency."""

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["delays"] = {name: _finite_or_none(value) for name, value in document["delays"].items()}
        return document


def _finite_or_none(value: float) -> float | None:
    # JSON has no NaN: an empty run's percentiles are written as null.
    return value if math.isfinite(value) else None


def compare(direct: RelayRun, gateway: RelayRun, direct_ns: Sequence[int], gateway_ns: Sequence[int]) -> None:
    """Set the gateway run's added percentiles and over-budget share (delays sorted, in ns)."""
    gateway.added_p50_ms = _finite_or_none(gateway.delays.p50_ms - direct.delays.p50_ms)
    gateway.added_p99_ms = _finite_or_none(gateway.delays.p99_ms - direct.delays.p99_ms)
    gateway.over_budget = over_budget_share(gateway_ns, direct_ns)


def _ms(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.3f}"


def _share(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f} %"


def markdown_table(runs: Sequence[RelayRun]) -> str:
    """One row per run: the delay percentiles, what the gateway added, and the share over budget."""
    header = (
        "| target | c | events | p50 ms | p99 ms | p99.9 ms | max ms | added p50 ms | added p99 ms "
        "| over 1 ms budget | over 1 ms stamp to arrival | gateway CPU | load CPU | errors |"
    )
    lines = [header, "|" + "---|" * header.count(" | ") + "---|"]
    for run in runs:
        delays = run.delays
        lines.append(
            f"| {run.target} | {run.concurrency} | {delays.events:,} | {_ms(delays.p50_ms)} "
            f"| {_ms(delays.p99_ms)} | {_ms(delays.p999_ms)} | {_ms(delays.max_ms)} "
            f"| {_ms(run.added_p50_ms)} | {_ms(run.added_p99_ms)} | {_share(run.over_budget, 3)} "
            f"| {_share(_finite_or_none(delays.over_1ms), 3)} "
            f"| {_share(run.gateway_cpu, 0)} | {_share(run.load_cpu, 0)} | {run.errors} |"
        )
    return "\n".join(lines)
