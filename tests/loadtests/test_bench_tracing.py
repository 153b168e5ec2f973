"""`loadtests.bench_tracing`, briefly: every span of every timed request reaches the exporter."""

from __future__ import annotations

import argparse

import pytest

from loadtests.arguments import bounded_count
from loadtests.bench_tracing import time_requests


def test_every_span_of_every_request_is_exported_and_timed() -> None:
    figures = time_requests(requests=300, repeat=2)
    spans = figures["spans_per_request"]
    assert spans == 8  # six steps, the upstream CLIENT span and the SERVER span
    assert figures["spans_exported"] == 300 * 2 * spans
    runs = figures["runs_us"]
    assert isinstance(runs, list) and len(runs) == 2 and all(run > 0 for run in runs)
    median = figures["us_per_request"]
    assert isinstance(median, float) and min(runs) - 0.1 <= median <= max(runs) + 0.1
    encode = figures["encode_us_per_span"]
    assert isinstance(encode, float) and encode > 0


@pytest.mark.parametrize("text", ["0", "-1", "1000001", "ten", ""])
def test_counts_are_whole_and_bounded(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        bounded_count(1_000_000)(text)


def test_a_count_within_bounds_is_taken() -> None:
    assert bounded_count(10)("10") == 10 and bounded_count(10)("1") == 1
