"""Batch jobs: how fast a chat batch runs through the gateway, and what it does to interactive traffic.

    python -m loadtests.bench_batches [--lines 10000] [--max-tokens 16] [--interactive-users 4]

Two vLLM simulators with realistic timings (50 ms to the first token, 15 ms per token), one gateway
process (`gateway serve`, embedded store) in front of them, three phases:

1. interactive alone: `--interactive-users` clients of another department stream chat completions
   back to back for `--interactive-seconds`: their time to first token (p50, p95);
2. the batch alone: `--lines` chat requests uploaded with `POST /v1/files` and run as one batch:
   its completion time (creation to `completed`, polled every 100 ms) and lines per second;
3. both at once: the same batch again, with the interactive clients running until it completes:
   the batch's completion time and the interactive time to first token while it ran.

Every process runs on 127.0.0.1, started and stopped here; the figures go to stdout and, with
`--json`, to a file. The method and the figures measured are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from loadtests.loadgen import percentile
from loadtests.processes import Processes, free_port, wait_until_up

MODEL = "bench-model"
_ROOT = Path(__file__).resolve().parent.parent
_POLL_SECONDS = 0.1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=10_000, help="requests in the batch (default: 10000)")
    parser.add_argument("--max-tokens", type=int, default=16, help="tokens each line generates (default: 16)")
    parser.add_argument("--concurrency", type=int, default=64, help="batches.concurrency (default: 64)")
    parser.add_argument("--interactive-users", type=int, default=4, help="interactive clients (default: 4)")
    parser.add_argument(
        "--interactive-seconds", type=float, default=20.0, help="length of phase 1 (default: 20)"
    )
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--itl-ms", type=float, default=15.0)
    parser.add_argument("--max-num-seqs", type=int, default=256, help="each simulator's (default: 256)")
    parser.add_argument(
        "--no-fair-sharing",
        action="store_true",
        help="leave each backend's max_concurrent unset and admission off: everything is forwarded at "
        "once and queues in the backends (default: max_concurrent = --max-num-seqs)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser


def _write_config(
    directory: Path, simulators: Sequence[int], port: int, concurrency: int, capacity: int | None
) -> Path:
    """The gateway's configuration; `capacity`: each backend's `max_concurrent` (None: admission off)."""
    policies = _ROOT / "policies"
    backend: dict[str, Any] = {} if capacity is None else {"max_concurrent": capacity}
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "models": [
            {"name": MODEL, "backends": [{"url": f"http://127.0.0.1:{sim}", **backend} for sim in simulators]}
        ],
        "admission": {"enabled": capacity is not None},
        "store": {"kind": "embedded", "path": str(directory / "gateway.db")},
        "policy": {"model_file": str(policies / "model.conf"), "policy_file": str(policies / "policy.csv")},
        "metrics": {"enabled": False},
        "batches": {"directory": str(directory / "files"), "concurrency": concurrency, "poll_seconds": 0.2},
    }
    path = directory / "gateway.yaml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


def _create_key(config: Path, department: str) -> str:
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "keys",
            "create",
            "--department",
            department,
            "--service",
            "bench",
            "--json",
        ],
        env={"GATEWAY_CONFIG": str(config), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key: str = json.loads(created.stdout)["key"]
    return key


def _batch_input(lines: int, max_tokens: int) -> bytes:
    rows = []
    for n in range(lines):
        body: dict[str, Any] = {
            "model": MODEL,
            "messages": [{"role": "user", "content": f"Résume le courrier {n}."}],
            "max_tokens": max_tokens,
        }
        rows.append(
            json.dumps(
                {"custom_id": f"line-{n}", "method": "POST", "url": "/v1/chat/completions", "body": body}
            )
        )
    return ("\n".join(rows) + "\n").encode()


async def _interactive(base: str, key: str, users: int, max_tokens: int, stop: asyncio.Event) -> list[float]:
    """Streamed chat completions back to back from `users` clients until `stop`: their TTFTs (s)."""
    ttfts: list[float] = []
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Une question urgente ?"}],
        "max_tokens": max_tokens,
        "stream": True,
    }

    async def user(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            async with client.stream("POST", "/chat/completions", json=body) as answer:
                first = None
                async for chunk in answer.aiter_bytes():
                    if first is None and chunk:
                        first = time.perf_counter() - started
                if answer.status_code == 200 and first is not None:
                    ttfts.append(first)

    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        await asyncio.gather(*(user(client) for _ in range(users)))
    return ttfts


async def _run_batch(base: str, key: str, content: bytes) -> tuple[float, dict[str, Any]]:
    """Upload and run one batch: seconds from its creation to `completed`, and the final object."""
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        uploaded = await client.post(
            "/files", files={"file": ("bench.jsonl", content)}, data={"purpose": "batch"}
        )
        uploaded.raise_for_status()
        started = time.perf_counter()
        created = await client.post(
            "/batches",
            json={
                "input_file_id": uploaded.json()["id"],
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
            },
        )
        created.raise_for_status()
        batch_id = created.json()["id"]
        while True:
            batch: dict[str, Any] = (await client.get(f"/batches/{batch_id}")).json()
            if batch["status"] in ("completed", "failed", "expired", "cancelled"):
                return time.perf_counter() - started, batch
            await asyncio.sleep(_POLL_SECONDS)


def _ttft_ms(ttfts: list[float]) -> dict[str, float]:
    ordered = sorted(ttfts)
    if not ordered:
        return {"requests": 0}
    return {
        "requests": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
        "p95_ms": round(percentile(ordered, 0.95) * 1000, 1),
    }


async def _phases(options: argparse.Namespace, base: str, batch_key: str, user_key: str) -> dict[str, Any]:
    content = _batch_input(options.lines, options.max_tokens)
    figures: dict[str, Any] = {}

    stop = asyncio.Event()
    interactive = asyncio.create_task(
        _interactive(base, user_key, options.interactive_users, options.max_tokens, stop)
    )
    await asyncio.sleep(options.interactive_seconds)
    stop.set()
    figures["interactive_alone"] = _ttft_ms(await interactive)

    seconds, batch = await _run_batch(base, batch_key, content)
    figures["batch_alone"] = {
        "status": batch["status"],
        "lines": batch["request_counts"]["total"],
        "failed": batch["request_counts"]["failed"],
        "seconds": round(seconds, 2),
        "lines_per_second": round(options.lines / seconds, 1),
    }

    stop = asyncio.Event()
    interactive = asyncio.create_task(
        _interactive(base, user_key, options.interactive_users, options.max_tokens, stop)
    )
    seconds, batch = await _run_batch(base, batch_key, content)
    stop.set()
    figures["interactive_during_batch"] = _ttft_ms(await interactive)
    figures["batch_with_interactive"] = {
        "status": batch["status"],
        "failed": batch["request_counts"]["failed"],
        "seconds": round(seconds, 2),
        "lines_per_second": round(options.lines / seconds, 1),
    }
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-batches-") as scratch:
        directory = Path(scratch)
        processes = Processes(directory)
        try:
            simulators = [free_port(), free_port()]
            for index, port in enumerate(simulators):
                arguments = [
                    "-m", "gateway", "sim", "--port", str(port), "--model", MODEL,
                    "--ttft-ms", str(options.ttft_ms), "--itl-ms", str(options.itl_ms),
                    "--max-num-seqs", str(options.max_num_seqs), "--seed", str(index),
                ]  # fmt: skip
                process = processes.start(f"simulator-{index}", arguments, None)
                if not wait_until_up(process, port, "/health", 30):
                    raise SystemExit(
                        f"simulator {index} did not start:\n{processes.log_tail(f'simulator-{index}')}"
                    )
            port = free_port()
            capacity = None if options.no_fair_sharing else options.max_num_seqs
            config = _write_config(directory, simulators, port, options.concurrency, capacity)
            batch_key = _create_key(config, "dgfip")
            user_key = _create_key(config, "dinum")
            gateway = processes.start(
                "gateway", ["-m", "gateway", "serve", "--config", str(config), "--log-level", "warning"], None
            )
            if not wait_until_up(gateway, port, "/health/ready", 60):
                raise SystemExit(f"the gateway did not start:\n{processes.log_tail('gateway')}")
            figures = asyncio.run(_phases(options, f"http://127.0.0.1:{port}/v1", batch_key, user_key))
        finally:
            processes.stop_all()
    figures["settings"] = {
        key: getattr(options, key)
        for key in (
            "lines",
            "max_tokens",
            "concurrency",
            "interactive_users",
            "ttft_ms",
            "itl_ms",
            "max_num_seqs",
            "no_fair_sharing",
        )
    }
    print(json.dumps(figures, indent=2))
    if options.json is not None:
        options.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
