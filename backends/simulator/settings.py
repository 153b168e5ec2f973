"""The simulator's configuration: one frozen dataclass, one docstring per field."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Literal

GenerationMode = Literal["random", "echo"]


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    """Everything that shapes one simulated vLLM server.

    The defaults match the command-line defaults of ``gateway sim`` and approximate a 7-8B model on
    one H100 (see ``backends/README.md``).
    """

    models: tuple[str, ...] = ()
    """Served names of generation models (``/v1/chat/completions``, ``/v1/completions``)."""

    embedding_models: tuple[str, ...] = ()
    """Served names of embedding models (``/v1/embeddings``, ``/v2/embed``, ``/pooling``, score, rerank)."""

    rerank_models: tuple[str, ...] = ()
    """Served names of cross-encoder models (rerank, score, ``/classify``, ``/pooling``)."""

    transcription_models: tuple[str, ...] = ()
    """Served names of speech-to-text models like Whisper (``/v1/audio/transcriptions`` and
    ``/v1/audio/translations``)."""

    host: str = "127.0.0.1"
    """Interface the CLI binds to (unused by ``create_app``)."""

    port: int = 8000
    """Port the CLI binds to (unused by ``create_app``)."""

    max_model_len: int = 8192
    """Context length: prompt plus output tokens may not exceed it."""

    max_num_seqs: int = 256
    """Requests generating at once; the others wait in the queue."""

    scheduling_policy: str = "fcfs"
    """vLLM's ``--scheduling-policy``: ``fcfs`` serves waiting requests by arrival; ``priority`` by
    their ``priority`` field (lower first), then arrival. Under ``fcfs`` a non-zero ``priority`` is
    refused with a 400, as vLLM does."""

    max_queue: int = 1024
    """Waiting requests allowed (vLLM's ``--max-num-queued-reqs``); beyond it the server answers 503."""

    ttft_ms: float = 30.0
    """Base time to first token in milliseconds; 0.25 ms per prompt token is added."""

    itl_ms: float = 13.0
    """Inter-token latency in milliseconds."""

    seed: int = 0
    """Server seed: mixed into every generated text and into the error-injection draw."""

    mode: GenerationMode = "random"
    """``random``: seeded words; ``echo``: answer with the last user message or the prompt."""

    error_rate: float = 0.0
    """Fraction (0-1) of generation requests answered with vLLM's 500 internal error."""

    api_key: str | None = None
    """When set, ``/v1`` and ``/v2`` paths need ``Authorization: Bearer <key>`` like vLLM's ``--api-key``."""

    embedding_dim: int = 384
    """Length of the vectors ``/v1/embeddings`` returns."""

    legacy_metric_names: bool = False
    """Expose pre-0.9 metric names (``vllm:gpu_cache_usage_perc``, ``vllm:time_per_output_token_seconds``)."""

    kv_cache_tokens: int = 0
    """KV-cache capacity in tokens used for ``vllm:kv_cache_usage_perc``; 0 means ``2048 * max_num_seqs``."""

    responses_store: bool = False
    """Keep ``/v1/responses`` answers asked with ``store: true`` in memory, for ``GET /v1/responses/{id}``
    and ``POST /v1/responses/{id}/cancel``, like vLLM with ``VLLM_ENABLE_RESPONSES_API_STORE=1``."""

    stamp_events: bool = False
    """Streams only: every generated text token becomes `` @<time.monotonic_ns()>``, taken as its event is
    sent (events are then sent one by one, never batched), so a client on the same machine can tell how
    long each event took to reach it. Role, tool-call, usage and final events are unchanged."""

    def __post_init__(self) -> None:
        if not self.served_models:
            raise ValueError(
                "at least one --model, --embedding-model, --rerank-model or --transcription-model is required"
            )
        kinds = {
            "generation": self.models,
            "embedding": self.embedding_models,
            "cross-encoder": self.rerank_models,
            "transcription": self.transcription_models,
        }
        for first, second in combinations(kinds, 2):
            duplicates = set(kinds[first]) & set(kinds[second])
            if duplicates:
                raise ValueError(f"a model cannot be both {first} and {second}: {sorted(duplicates)}")
        positive = {
            "max_model_len": self.max_model_len,
            "max_num_seqs": self.max_num_seqs,
            "embedding_dim": self.embedding_dim,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.max_queue < 0:
            raise ValueError(f"max_queue must not be negative, got {self.max_queue}")
        if self.ttft_ms < 0 or self.itl_ms < 0:
            raise ValueError("latencies must not be negative")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be between 0 and 1, got {self.error_rate}")
        if self.kv_cache_tokens < 0:
            raise ValueError(f"kv_cache_tokens must not be negative, got {self.kv_cache_tokens}")
        if self.scheduling_policy not in ("fcfs", "priority"):
            raise ValueError(
                f"scheduling_policy must be 'fcfs' or 'priority', got {self.scheduling_policy!r}"
            )
        if self.mode not in ("random", "echo"):
            raise ValueError(f"mode must be 'random' or 'echo', got {self.mode!r}")

    @property
    def primary_model(self) -> str:
        """The ``model_name`` label of every metric: vLLM labels its metrics with its first served name."""
        return self.served_models[0]

    @property
    def served_models(self) -> tuple[str, ...]:
        """Every served name, generation models first (the order of ``/v1/models``)."""
        return (*self.models, *self.embedding_models, *self.rerank_models, *self.transcription_models)

    @property
    def kv_capacity_tokens(self) -> int:
        """KV-cache capacity in tokens, resolved from ``kv_cache_tokens``."""
        return self.kv_cache_tokens or 2048 * self.max_num_seqs
