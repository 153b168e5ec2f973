"""The simulated engine: the state one server shares across requests and each request's life in it.

A request is admitted (a free slot, or a wait in the queue), spends its time to first token and
its inter-token gaps, then finishes or is aborted; every transition updates the scheduler, the
Prometheus metrics and the ``/sim/stats`` counters in one place.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass

from backends.simulator import errors
from backends.simulator.asgi import DisconnectWatch
from backends.simulator.metrics import EngineMetrics
from backends.simulator.prefix_cache import PrefixCache
from backends.simulator.responses_store import StoredResponses
from backends.simulator.scheduler import QueueFullError, Scheduler
from backends.simulator.settings import SimulatorSettings
from backends.simulator.tokenizer import Tokenizer

VLLM_VERSION = "0.32.0"
"""The vLLM release the simulator imitates: the one the real-vLLM tests run (the CPU build)."""

PREFILL_MS_PER_TOKEN = 0.25
"""Extra time to first token per prompt token, at batch size 1 (uncached prefill of a 7-8B model)."""


KV_BYTES_PER_TOKEN = 131072
"""KV-cache bytes per token of a 7-8B model (32 layers, 8 KV heads of 128, keys and values in 16 bits)."""


def system_fingerprint(settings: SimulatorSettings) -> str:
    """``vllm-<version>-<8 hex>`` as vLLM writes it: the hex stands for the engine's configuration."""
    digest = hashlib.sha256(f"{settings.primary_model}:{settings.max_model_len}".encode()).hexdigest()
    return f"vllm-{VLLM_VERSION}-{digest[:8]}"


@dataclass(slots=True)
class LastRequest:
    """What the last generation or embedding request looked like on the wire."""

    path: str
    headers: dict[str, str]
    body: str


@dataclass(slots=True)
class SimulatorStats:
    """Convenience counters for ``/sim/stats`` (the same facts are in ``/metrics``)."""

    requests: int = 0
    """Generation and embedding requests received, whatever became of them."""
    aborted: int = 0
    """Requests given up because the client disconnected."""
    completed: int = 0
    """Requests answered in full."""


@dataclass(slots=True)
class Admission:
    """One request holding an engine slot, with the latencies fixed at admission time."""

    arrival: float
    admitted: float
    prompt_tokens: int
    kv_tokens: int
    cached_prompt_tokens: int
    time_to_first_token: float
    inter_token_latency: float
    first_token_at: float | None = None
    finished: bool = False


class Engine:
    """Shared state of one simulated vLLM server."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self.tokenizer = Tokenizer()
        self.scheduler = Scheduler(
            max_num_seqs=settings.max_num_seqs,
            max_queue=settings.max_queue,
            kv_capacity_tokens=settings.kv_capacity_tokens,
            by_priority=settings.scheduling_policy == "priority",
        )
        self.metrics = EngineMetrics(
            model_name=settings.primary_model,
            max_model_len=settings.max_model_len,
            legacy_names=settings.legacy_metric_names,
        )
        self.prefix_cache = PrefixCache()
        self.stored_responses = StoredResponses(settings.responses_store)
        self.stats = SimulatorStats()
        self.dead = False
        self.in_flight = 0
        self.last_request: LastRequest | None = None
        self._failure_rng = random.Random(settings.seed)
        self.system_fingerprint = system_fingerprint(settings)
        capacity = settings.kv_capacity_tokens
        # vLLM 0.32's CacheConfig labels (in its sorted order), with a GPU's values for this capacity.
        self.cache_config = {
            "_block_size_resolved": "True",
            "block_size": "16",
            "cache_dtype": "auto",
            "cache_hit_alignment_tokens": "None",
            "effective_attention_block_size": "16",
            "enable_mamba_shared_prefix_checkpoint": "False",
            "enable_prefix_caching": "True",
            "engine": "0",
            "gpu_memory_utilization": "0.9",
            "hash_block_size": "None",
            "is_attention_free": "False",
            "kv_cache_dtype_skip_layers": "[]",
            "kv_cache_layout": "None",
            "kv_cache_max_concurrency": str(capacity / settings.max_model_len),
            "kv_cache_memory_bytes": str(capacity * KV_BYTES_PER_TOKEN),
            "kv_cache_size_tokens": str(capacity),
            "kv_offloading_backend": "native",
            "kv_offloading_size": "None",
            "kv_sharing_fast_prefill": "False",
            "mamba_block_size": "None",
            "mamba_cache_dtype": "auto",
            "mamba_cache_mode": "none",
            "mamba_page_size_padded": "None",
            "mamba_ssm_cache_dtype": "auto",
            "num_cpu_blocks": "None",
            "num_gpu_blocks": str(capacity // 16),
            "num_gpu_blocks_override": "None",
            "prefix_cache_retention_interval": "0",
            "prefix_caching_hash_algo": "sha256",
            "prefix_match_unit": "None",
            "replayssm_buffer_len": "16",
            "skip_page_size_padded": "None",
            "sliding_window": "None",
            "swa_bounded_replay": "True",
            "use_kda_recoverssm": "False",
            "use_replayssm": "False",
            "user_specified_block_size": "False",
        }

    def is_dead(self) -> bool:
        """Whether the engine plays dead (``/sim/dead``); it can change at any ``await``."""
        return self.dead

    def draw_failure(self) -> bool:
        """Whether this generation request fails (``--error-rate``), from a seeded sequence."""
        rate = self.settings.error_rate
        return rate > 0 and self._failure_rng.random() < rate

    def record_failure(self) -> None:
        """Count a request that ended in an engine error."""
        self.metrics.request_success["error"] += 1

    async def admit(
        self,
        watch: DisconnectWatch,
        *,
        prompt: str,
        prompt_tokens: int,
        max_output_tokens: int,
        extra_delay: float,
        priority: int = 0,
    ) -> Admission | None:
        """Take a slot, waiting in the queue if needed; ``None`` if the client left while waiting.

        Raises the 503 queue-overflow error when the queue is full.
        """
        scheduler = self.scheduler
        arrival = time.monotonic()
        if not scheduler.try_acquire():
            try:
                slot = scheduler.enqueue(priority)
            except QueueFullError:
                raise errors.queue_full() from None
            try:
                granted = await watch.wait(slot)
            except BaseException:
                scheduler.abandon(slot)
                raise
            if not granted:
                scheduler.abandon(slot)
                self.stats.aborted += 1
                self.metrics.request_success["abort"] += 1
                return None
        admitted = time.monotonic()
        factor = scheduler.load_factor()
        settings = self.settings
        ttft = (
            (settings.ttft_ms + PREFILL_MS_PER_TOKEN * prompt_tokens) * factor / 1000.0
            if settings.ttft_ms
            else 0.0
        )
        kv_tokens = prompt_tokens + max_output_tokens
        scheduler.kv_tokens += kv_tokens
        cached_fraction = self.prefix_cache.lookup_and_insert(prompt)
        return Admission(
            arrival=arrival,
            admitted=admitted,
            prompt_tokens=prompt_tokens,
            kv_tokens=kv_tokens,
            cached_prompt_tokens=int(prompt_tokens * cached_fraction),
            time_to_first_token=ttft + extra_delay,
            inter_token_latency=settings.itl_ms * factor / 1000.0,
        )

    def first_token(self, admission: Admission, at: float | None = None) -> None:
        """The prefill is done: count the prompt and the time to first token."""
        if admission.first_token_at is not None:
            return
        now = time.monotonic() if at is None else at
        admission.first_token_at = now
        metrics = self.metrics
        metrics.time_to_first_token.observe(now - admission.arrival)
        metrics.prompt_tokens += admission.prompt_tokens
        metrics.prefix_cache_queries += admission.prompt_tokens
        metrics.prefix_cache_hits += admission.cached_prompt_tokens

    def finish(
        self, admission: Admission, *, finish_reasons: list[str], tokens_per_choice: list[int]
    ) -> None:
        """The request completed: free its slot and record it (one ``request_success`` per choice)."""
        if not self._end(admission):
            return
        self.first_token(admission)
        metrics = self.metrics
        generated = sum(tokens_per_choice)
        metrics.generation_tokens += generated
        gaps = sum(max(tokens - 1, 0) for tokens in tokens_per_choice)
        metrics.inter_token_latency.observe(admission.inter_token_latency, gaps)
        for reason in finish_reasons:
            metrics.request_success[reason] += 1
        metrics.request_prompt_tokens.observe(admission.prompt_tokens)
        metrics.request_generation_tokens.observe(generated)
        metrics.e2e_request_latency.observe(time.monotonic() - admission.arrival)
        metrics.request_queue_time.observe(admission.admitted - admission.arrival)
        self.stats.completed += 1

    def abort(self, admission: Admission, *, generated_tokens: int, choices: int = 1) -> None:
        """The client went away (or the request failed) mid-generation: free the slot, count an abort."""
        if not self._end(admission):
            return
        metrics = self.metrics
        if admission.first_token_at is not None:
            metrics.generation_tokens += generated_tokens
        metrics.request_success["abort"] += choices
        metrics.e2e_request_latency.observe(time.monotonic() - admission.arrival)
        metrics.request_queue_time.observe(admission.admitted - admission.arrival)
        self.stats.aborted += 1

    def fail(self, admission: Admission) -> None:
        """The request ended with an engine error (the engine died under it)."""
        if self._end(admission):
            self.record_failure()

    def _end(self, admission: Admission) -> bool:
        if admission.finished:
            return False
        admission.finished = True
        self.scheduler.kv_tokens -= admission.kv_tokens
        self.scheduler.release()
        return True
