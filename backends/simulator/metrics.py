"""vLLM's Prometheus metrics, kept in plain integers and rendered like ``prometheus_client`` does.

Recording is a few additions and one ``bisect`` per observation, so the request path stays cheap;
the text is only built when ``/metrics`` is scraped. Names, labels (``engine`` and ``model_name``, in
sorted order), bucket bounds and the ``_total`` / ``_created`` / ``_bucket`` series follow vLLM 0.32
(v1 engine, ``PrometheusStatLogger``); the simulator exposes the families a router or a dashboard
reads, not all of them.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from backends.simulator.scheduler import Scheduler

FINISHED_REASONS = ("stop", "length", "abort", "error", "repetition")
"""Values of the ``finished_reason`` label (vLLM's ``FinishReason``, lowercased)."""

TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
INTER_TOKEN_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
REQUEST_LATENCY_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
    40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip

PROMETHEUS_CONTENT_TYPE = b"text/plain; version=1.0.0; charset=utf-8"
"""What vLLM 0.32's ``prometheus_client`` answers; the text itself is the 0.0.4 exposition format."""

WAITING_REASONS = ("capacity", "deferred")
"""Values of ``vllm:num_requests_waiting_by_reason``'s ``reason``: the simulator's queue only waits for
capacity."""


def one_two_five_buckets(max_value: int) -> tuple[int, ...]:
    """1, 2, 5, 10, 20, 50, ... up to ``max_value`` (vLLM's token-count buckets)."""
    buckets: list[int] = []
    scale = 1
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * scale
            if value > max_value:
                return tuple(buckets)
            buckets.append(value)
        scale *= 10


def go_float(value: float) -> str:
    """A number the way Prometheus' Go client writes it (``1.0``, ``+Inf``, ``1e+06``)."""
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(float(value))
    dot = text.find(".")
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return text


def escape_label(value: str) -> str:
    """Escape a label value for the text exposition format."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class Histogram:
    """Bucket counts (not cumulative), sum and count of one labelled histogram."""

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(float(bound) for bound in bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float, times: int = 1) -> None:
        """Record ``value`` ``times`` times (one call for the many equal gaps of a non-streamed answer)."""
        if times <= 0:
            return
        self.counts[bisect_left(self.bounds, value)] += times
        self.total += value * times
        self.count += times


class EngineMetrics:
    """The counters and histograms of one simulated engine (``engine="0"``)."""

    def __init__(self, *, model_name: str, max_model_len: int, legacy_names: bool) -> None:
        self.model_name = model_name
        self.legacy_names = legacy_names
        self.created = time.time()
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.prefix_cache_queries = 0
        self.prefix_cache_hits = 0
        self.preemptions = 0
        self.request_success = dict.fromkeys(FINISHED_REASONS, 0)
        token_buckets = one_two_five_buckets(max_model_len)
        self.request_prompt_tokens = Histogram(token_buckets)
        self.request_generation_tokens = Histogram(token_buckets)
        self.time_to_first_token = Histogram(TTFT_BUCKETS)
        self.inter_token_latency = Histogram(INTER_TOKEN_BUCKETS)
        self.e2e_request_latency = Histogram(REQUEST_LATENCY_BUCKETS)
        self.request_queue_time = Histogram(REQUEST_LATENCY_BUCKETS)

    def render(self, scheduler: Scheduler, cache_config: dict[str, str]) -> bytes:
        """The ``/metrics`` text (Prometheus exposition format 0.0.4)."""
        out = _Writer({"model_name": self.model_name, "engine": "0"}, self.created)
        out.gauge(
            "vllm:num_requests_running", "Number of requests in model execution batches.", scheduler.running
        )
        out.gauge(
            "vllm:num_requests_waiting", "Number of requests waiting to be processed.", scheduler.waiting
        )
        out.labelled_gauge(
            "vllm:num_requests_waiting_by_reason",
            "Number of waiting requests by reason. Reason labels: 'capacity' = waiting for scheduling "
            "capacity; 'deferred' = deferred by transient constraints (LoRA budget, KV transfer, blocked "
            "status). Sum of all reasons equals vllm:num_requests_waiting.",
            "reason",
            [("capacity", scheduler.waiting), ("deferred", 0)],
        )
        if self.legacy_names:
            out.gauge(
                "vllm:gpu_cache_usage_perc",
                "GPU KV-cache usage. 1 means 100 percent usage.",  # as before 0.9, when it was current
                scheduler.kv_usage(),
            )
        else:
            out.gauge(
                "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", scheduler.kv_usage()
            )
        out.counter(
            "vllm:prefix_cache_queries",
            "Prefix cache queries, in terms of number of queried tokens.",
            self.prefix_cache_queries,
        )
        out.counter(
            "vllm:prefix_cache_hits",
            "Prefix cache hits, in terms of number of cached tokens.",
            self.prefix_cache_hits,
        )
        out.counter(
            "vllm:num_preemptions", "Cumulative number of preemption from the engine.", self.preemptions
        )
        out.counter("vllm:prompt_tokens", "Number of prefill tokens processed.", self.prompt_tokens)
        out.counter(
            "vllm:generation_tokens", "Number of generation tokens processed.", self.generation_tokens
        )
        out.labelled_counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            "finished_reason",
            self.request_success.items(),
        )
        out.histogram(
            "vllm:request_prompt_tokens", "Number of prefill tokens processed.", self.request_prompt_tokens
        )
        out.histogram(
            "vllm:request_generation_tokens",
            "Number of generation tokens processed.",
            self.request_generation_tokens,
        )
        out.histogram(
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            self.time_to_first_token,
        )
        if self.legacy_names:
            out.histogram(
                "vllm:time_per_output_token_seconds",
                "Histogram of time per output token in seconds.",
                self.inter_token_latency,
            )
        else:
            out.histogram(
                "vllm:inter_token_latency_seconds",
                "Histogram of inter-token latency in seconds.",
                self.inter_token_latency,
            )
        out.histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            self.e2e_request_latency,
        )
        out.histogram(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            self.request_queue_time,
        )
        out.info("vllm:cache_config_info", "Information of the LLMEngine CacheConfig", cache_config)
        return out.text()


class _Writer:
    """Accumulates exposition lines; every series has the base labels, written in sorted order as
    vLLM 0.32's ``prometheus_client`` writes them."""

    def __init__(self, base: dict[str, str], created: float) -> None:
        self._base = base
        self._plain = self._labels()
        self._created = go_float(created)
        self._lines: list[str] = []

    def _labels(self, **extra: str) -> str:
        labels = {**self._base, **extra}
        return ",".join(f'{key}="{escape_label(labels[key])}"' for key in sorted(labels))

    def _header(self, name: str, help_text: str, kind: str) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")

    def gauge(self, name: str, help_text: str, value: float) -> None:
        self._header(name, help_text, "gauge")
        self._lines.append(f"{name}{{{self._plain}}} {go_float(value)}")

    def labelled_gauge(
        self, name: str, help_text: str, label: str, values: Iterable[tuple[str, float]]
    ) -> None:
        self._header(name, help_text, "gauge")
        for label_value, value in values:
            self._lines.append(f"{name}{{{self._labels(**{label: label_value})}}} {go_float(value)}")

    def counter(self, name: str, help_text: str, value: float) -> None:
        self._header(f"{name}_total", help_text, "counter")
        self._lines.append(f"{name}_total{{{self._plain}}} {go_float(value)}")
        self._header(f"{name}_created", help_text, "gauge")
        self._lines.append(f"{name}_created{{{self._plain}}} {self._created}")

    def labelled_counter(
        self, name: str, help_text: str, label: str, values: Iterable[tuple[str, float]]
    ) -> None:
        rendered = [(self._labels(**{label: label_value}), value) for label_value, value in values]
        self._header(f"{name}_total", help_text, "counter")
        for labels, value in rendered:
            self._lines.append(f"{name}_total{{{labels}}} {go_float(value)}")
        self._header(f"{name}_created", help_text, "gauge")
        for labels, _ in rendered:
            self._lines.append(f"{name}_created{{{labels}}} {self._created}")

    def histogram(self, name: str, help_text: str, histogram: Histogram) -> None:
        self._header(name, help_text, "histogram")
        cumulative = 0
        for bound, count in zip((*histogram.bounds, math.inf), histogram.counts, strict=True):
            cumulative += count
            self._lines.append(f"{name}_bucket{{{self._labels(le=go_float(bound))}}} {go_float(cumulative)}")
        self._lines.append(f"{name}_count{{{self._plain}}} {go_float(histogram.count)}")
        self._lines.append(f"{name}_sum{{{self._plain}}} {go_float(histogram.total)}")
        self._header(f"{name}_created", help_text, "gauge")
        self._lines.append(f"{name}_created{{{self._plain}}} {self._created}")

    def info(self, name: str, help_text: str, labels: dict[str, str]) -> None:
        """An info-like gauge: its own labels only (vLLM's ``cache_config_info`` has no model name)."""
        self._header(name, help_text, "gauge")
        rendered = ",".join(f'{key}="{escape_label(labels[key])}"' for key in sorted(labels))
        self._lines.append(f"{name}{{{rendered}}} 1.0")

    def text(self) -> bytes:
        return ("\n".join(self._lines) + "\n").encode("utf-8")
