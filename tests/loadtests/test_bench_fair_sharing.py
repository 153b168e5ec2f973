"""`loadtests.bench_fair_sharing`, briefly: its in-process measure of the scheduler runs the gateway's
own admission through both paths (a free slot, and a wait woken by a freed slot) and leaves nothing
queued; its percentile is the one the report uses."""

from __future__ import annotations

from loadtests.bench_fair_sharing import _percentile, scheduler_cost


def test_the_scheduler_cost_covers_both_paths() -> None:
    figures = scheduler_cost(requests=300)
    assert set(figures) == {"immediate_us", "waiting_us"}
    assert figures["immediate_us"] > 0


def test_percentiles_interpolate() -> None:
    assert _percentile([0.1, 0.2, 0.3, 0.4, 0.5], 0.5) == 0.3
    assert _percentile([1.0, 2.0], 0.95) == 1.95
