"""``gateway sim``: parse vLLM-like flags and serve the simulator with uvicorn."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

import uvicorn

from backends.simulator.app import create_app
from backends.simulator.settings import SimulatorSettings

RESPONSES_STORE_ENV = "VLLM_ENABLE_RESPONSES_API_STORE"
"""vLLM turns its in-memory store of responses on with this variable, not a flag; the simulator reads
it too, so a script that starts either server sets it once."""


def _env_flag(name: str) -> bool:
    """vLLM reads its boolean variables as ``bool(int(value))``: ``1`` is on, unset or ``0`` off."""
    value = os.environ.get(name, "0").strip()
    return value.isdigit() and int(value) != 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (flag names follow ``vllm serve`` where one exists)."""
    parser = argparse.ArgumentParser(
        prog="gateway sim",
        description="A fast simulator of vLLM 0.32's OpenAI-compatible server (no GPU needed).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, required=True, help="port to bind")
    parser.add_argument(
        "--model", action="append", default=[], help="served generation model name (repeatable)"
    )
    parser.add_argument(
        "--embedding-model", action="append", default=[], help="served embedding model name (repeatable)"
    )
    parser.add_argument(
        "--rerank-model",
        "--cross-encoder-model",
        dest="rerank_model",
        action="append",
        default=[],
        help="served cross-encoder (rerank, score, classify) model name (repeatable)",
    )
    parser.add_argument(
        "--transcription-model",
        action="append",
        default=[],
        help="served speech-to-text (Whisper-like) model name (repeatable)",
    )
    parser.add_argument(
        "--enable-responses-store",
        action="store_true",
        default=_env_flag(RESPONSES_STORE_ENV),
        help=f"keep /v1/responses answers asked with store=true (default: ${RESPONSES_STORE_ENV}, as vLLM)",
    )
    parser.add_argument(
        "--max-model-len", type=int, default=8192, help="context length (default: %(default)s)"
    )
    parser.add_argument(
        "--max-num-seqs", type=int, default=256, help="requests running at once (default: %(default)s)"
    )
    parser.add_argument(
        "--max-queue",
        type=int,
        default=1024,
        help="waiting requests before 503, vLLM's --max-num-queued-reqs",
    )
    parser.add_argument(
        "--ttft-ms", type=float, default=30.0, help="base time to first token (default: %(default)s)"
    )
    parser.add_argument(
        "--itl-ms", type=float, default=13.0, help="inter-token latency (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="server seed (default: %(default)s)")
    parser.add_argument(
        "--mode", choices=("random", "echo"), default="random", help="answer mode (default: random)"
    )
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of generation requests failing with 500"
    )
    parser.add_argument("--api-key", default=None, help="require this bearer key on /v1 paths")
    parser.add_argument(
        "--embedding-dim", type=int, default=384, help="embedding length (default: %(default)s)"
    )
    parser.add_argument(
        "--kv-cache-tokens",
        type=int,
        default=0,
        help="KV-cache capacity in tokens (default: 2048 x max-num-seqs)",
    )
    parser.add_argument(
        "--legacy-metric-names",
        action="store_true",
        help="expose vllm:gpu_cache_usage_perc and vllm:time_per_output_token_seconds (pre-0.9 names)",
    )
    parser.add_argument(
        "--scheduling-policy",
        choices=("fcfs", "priority"),
        default="fcfs",
        help="order of the waiting queue: arrival, or the requests' priority field (default: %(default)s)",
    )
    parser.add_argument(
        "--stamp-events",
        action="store_true",
        help="streamed tokens carry their send time (' @<monotonic ns>'), to measure relay delays",
    )
    return parser


def settings_from_args(argv: Sequence[str] | None = None) -> SimulatorSettings:
    """Parse ``argv`` into settings; exits with status 2 on bad flags, like argparse does."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return SimulatorSettings(
            models=tuple(args.model),
            embedding_models=tuple(args.embedding_model),
            rerank_models=tuple(args.rerank_model),
            transcription_models=tuple(args.transcription_model),
            responses_store=args.enable_responses_store,
            host=args.host,
            port=args.port,
            max_model_len=args.max_model_len,
            max_num_seqs=args.max_num_seqs,
            max_queue=args.max_queue,
            scheduling_policy=args.scheduling_policy,
            ttft_ms=args.ttft_ms,
            itl_ms=args.itl_ms,
            seed=args.seed,
            mode=args.mode,
            error_rate=args.error_rate,
            api_key=args.api_key,
            embedding_dim=args.embedding_dim,
            legacy_metric_names=args.legacy_metric_names,
            kv_cache_tokens=args.kv_cache_tokens,
            stamp_events=args.stamp_events,
        )
    except ValueError as error:
        parser.error(str(error))


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until interrupted; 0 on a clean stop."""
    settings = settings_from_args(argv)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    with _replayed_signals_ignored():
        uvicorn.Server(config).run()
    return 0


@contextmanager
def _replayed_signals_ignored() -> Iterator[None]:
    """Make an interrupted run end with status 0.

    uvicorn catches SIGINT/SIGTERM to shut down gracefully, then restores the previous handlers and
    raises the signal again; with Python's defaults that becomes a ``KeyboardInterrupt`` or a kill
    by SIGTERM. Handlers that ignore the replay let ``main`` return normally.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _ignore_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore_signal(signum: int, frame: FrameType | None) -> None:
    """The signal was already handled by uvicorn's graceful shutdown."""
