"""The Python garbage collector, set for a server whose heap is mostly built once, at start.

A worker starts with about 135,000 objects that live as long as it does (the policy, the PII
recognizers' tables, the phone number metadata, the configuration, imported modules). CPython's
full collections walk all of them: under load they ran every second or so and each held the event
loop for 50-70 ms, which showed as stalled streams and as the benchmark's p99. Frozen after start,
those objects are left out of every collection; the young generation's threshold is raised so that
the many short-lived objects of a request are freed by reference counting before a collection
would walk them and promote the survivors.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "freeze_startup_heap"]

YOUNG_THRESHOLD = 20_000
"""Allocations (net of frees) between two collections of the youngest generation (CPython: 700)."""


def freeze_startup_heap() -> None:
    """Collect what start-up left behind, then freeze the rest: called once the worker is ready."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
