"""`loadtests.bench_script_batch`, briefly: every timed call is a round trip of its own to a private
redis-server, answered with its own reply, and the process gets its CPUs back."""

from __future__ import annotations

import os

from loadtests.bench_script_batch import time_calls


def test_every_call_is_timed_alone_and_the_cpus_are_given_back() -> None:
    allowed = os.sched_getaffinity(0)
    figures = time_calls(calls=100, repeat=2)
    assert os.sched_getaffinity(0) == allowed
    # The warm-up's NOSCRIPT and reload, then one round trip per call: none shared a pipeline.
    assert figures["round_trips"] == 2 + 100 * 2
    runs = figures["cpu_runs_us"]
    assert isinstance(runs, list) and len(runs) == 2 and all(run > 0 for run in runs)
    wall, cpu = figures["wall_us_per_call"], figures["cpu_us_per_call"]
    assert isinstance(wall, float) and isinstance(cpu, float) and wall > 0 and cpu > 0
