"""Read the load gauges a router needs out of vLLM's Prometheus `/metrics` text.

Both the current names and the ones vLLM renamed are understood: a router that reads only one
set silently reads zeros forever when the backends run another vLLM release.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BackendLoad", "parse_load"]

_RUNNING = "vllm:num_requests_running"
_WAITING = "vllm:num_requests_waiting"
# kv_cache_usage_perc since vLLM 0.9; gpu_cache_usage_perc before. Both are 0-1 fractions.
_KV_NAMES = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")


@dataclass(frozen=True, slots=True)
class BackendLoad:
    running: float
    waiting: float
    kv_cache_usage: float


def _sample_value(line: str) -> float | None:
    # `name{labels} value [timestamp]`; label values may hold spaces, so split after the braces.
    rest = line[line.rfind("}") + 1 :] if "}" in line else line.split(None, 1)[1] if " " in line else ""
    fields = rest.split()
    if not fields:
        return None
    try:
        return float(fields[0])
    except ValueError:
        return None


def parse_load(text: str) -> BackendLoad | None:
    """Sum the gauges over every model the server hosts (they share one engine); None if absent."""
    running = waiting = 0.0
    kv = 0.0
    seen = False
    for line in text.splitlines():
        if not line.startswith("vllm:"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        value = _sample_value(line)
        if value is None or value != value:  # NaN
            continue
        if name == _RUNNING:
            running += value
            seen = True
        elif name == _WAITING:
            waiting += value
            seen = True
        elif name in _KV_NAMES:
            kv = max(kv, value)
            seen = True
    return BackendLoad(running, waiting, kv) if seen else None
