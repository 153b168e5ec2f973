"""Benchmark: does a large prompt under name detection stop a gateway worker from serving?

    .venv/bin/python -m loadtests.bench_pii_loop [--chars 800000] [--budget 10] [--probes 200] [--json]

Starts an echoing simulator and a gateway (`pii: {mode: pseudonymize, name_model: on}`, in threads of
this process, as the tests do), then sends one prompt of `--chars` characters whose every sentence
holds names, and while it is in flight asks `/health/live` and a small chat request with a name in
turn, every 100 ms, `--probes` times at most. It prints the large request's status and duration
and the latencies of the probes made while it was in flight: what review issue 16 measured (an
800 kB prompt held `/health/live` for 18 s) and what the fix must keep far below the large
request's own duration. A gateway without `pii.time_budget_seconds` (before the fix) is run
without it. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from gateway.pii.settings import PiiConfig
from tests.gateway.conftest import SOLO_MODEL, running_gateway, running_simulator

__all__ = ["main"]

SENTENCE = "Madame Sophie Martin, née à Lyon, a écrit au service de Monsieur Karim Benali. "
SMALL_PROMPT = "Merci de rappeler Madame Sophie Martin au sujet de son dossier."
_PROBE_TIMEOUT = 120.0
_STARTUP_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Figures:
    chars: int
    large_status: int
    large_seconds: float
    health_probes: int
    health_p50_ms: float
    health_max_ms: float
    chat_probes: int
    chat_p50_ms: float
    chat_max_ms: float


def _chat(client: httpx.Client, content: str) -> httpx.Response:
    body: dict[str, Any] = {"model": SOLO_MODEL, "messages": [{"role": "user", "content": content}]}
    return client.post("/v1/chat/completions", json=body)


def run(chars: int, budget: float, probes: int) -> Figures:
    pii: dict[str, Any] = {"mode": "pseudonymize", "name_model": "on"}
    if "time_budget_seconds" in PiiConfig.model_fields:
        pii["time_budget_seconds"] = budget
    prompt = SENTENCE * (chars // len(SENTENCE))
    with (
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}], pii=pii, startup_timeout=_STARTUP_TIMEOUT
        ) as gateway,
        httpx.Client(base_url=gateway.url, headers=gateway.headers, timeout=_PROBE_TIMEOUT) as client,
        httpx.Client(base_url=gateway.url, headers=gateway.headers, timeout=_PROBE_TIMEOUT) as large_client,
    ):
        _chat(client, SMALL_PROMPT).raise_for_status()  # warm: the model has read a first text
        outcome: dict[str, Any] = {}

        def send_large() -> None:
            start = time.perf_counter()
            outcome["status"] = _chat(large_client, prompt).status_code
            outcome["seconds"] = time.perf_counter() - start

        sender = threading.Thread(target=send_large, daemon=True)
        sender.start()
        time.sleep(0.2)  # the body is in and its detection under way
        health: list[float] = []
        chats: list[float] = []
        for probe in range(probes):
            if not sender.is_alive():
                break
            start = time.perf_counter()
            if probe % 2 == 0:
                client.get("/health/live").raise_for_status()
                health.append(time.perf_counter() - start)
            else:
                _chat(client, SMALL_PROMPT).raise_for_status()
                chats.append(time.perf_counter() - start)
            time.sleep(0.1)
        sender.join(_PROBE_TIMEOUT)
    return Figures(
        chars=len(prompt),
        large_status=outcome.get("status", 0),
        large_seconds=outcome.get("seconds", float("nan")),
        health_probes=len(health),
        health_p50_ms=statistics.median(health) * 1000 if health else float("nan"),
        health_max_ms=max(health) * 1000 if health else float("nan"),
        chat_probes=len(chats),
        chat_p50_ms=statistics.median(chats) * 1000 if chats else float("nan"),
        chat_max_ms=max(chats) * 1000 if chats else float("nan"),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chars", type=int, default=800_000, help="size of the large prompt")
    parser.add_argument("--budget", type=float, default=10.0, help="pii.time_budget_seconds, when it exists")
    parser.add_argument(
        "--probes", type=int, default=200, help="probes at most while the prompt is in flight"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.chars, args.budget, args.probes)
    if args.json:
        print(json.dumps(asdict(figures), indent=2))
        return 0
    print(
        f"large prompt: {figures.chars} characters, HTTP {figures.large_status} after {figures.large_seconds:.2f} s\n"
        f"meanwhile /health/live: {figures.health_probes} probes, p50 {figures.health_p50_ms:.1f} ms, "
        f"max {figures.health_max_ms:.1f} ms\n"
        f"meanwhile a small chat with a name: {figures.chat_probes} probes, p50 {figures.chat_p50_ms:.1f} ms, "
        f"max {figures.chat_max_ms:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
