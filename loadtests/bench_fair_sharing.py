"""Benchmark: sharing two saturated backends between an interactive department and a batch flood.

    .venv/bin/python -m loadtests.bench_fair_sharing [--duration 60] [--a-rate 2] [--b-concurrency 64]
                                                     [--weights 2:1] [--json OUT]

Method. Two simulators, each running 8 requests at once (`--max-num-seqs 8`), with realistic times
(`--ttft-ms 50 --itl-ms 15`); every request asks for 200 tokens (the simulator writes exactly that
many). One gateway (one worker, embedded store) serves them as one model; department `a` and
department `b` each have a key. The load generator is this process (asyncio and httpx):

  - A: streamed chat, always the same conversation (so prefix affinity applies), one request every
    1 / `--a-rate` seconds, open loop. Its TTFT is the time from sending the request to the first
    event carrying generated text.
  - B: `--b-concurrency` closed loops of non-streamed chat, each with a prompt of its own, sent with
    `x-gateway-priority: batch`.

Phases, `--duration` seconds each; requests sent in a phase's warm-up (15 s, or 10 % of a longer
phase, or half of a shorter one) are not counted, nor the tokens of requests that ended in it:

  1. unloaded          A alone, through the gateway with fair sharing (backends' `max_concurrent: 8`).
  2. flood, no sharing B's flood and A together, `admission.enabled: false` and no `max_concurrent`
                       (what the gateway did before: everything forwarded at once, vLLM queues).
  3. flood, sharing    the same load, with fair sharing on (A interactive, B batch).
  4. shares            both departments flood in the same class (`--b-concurrency` loops each, both
                       `standard`), weights `--weights` (A:B); each department's share of the
                       tokens generated in the window, against its weight's share.

Reported: A's TTFT p50/p95 per phase; requests answered, shed (429 `pool_saturated`) and lost (any
other failure: an error status or a broken connection); the mean number of requests running on the
two simulators over the window (the pool's occupancy, of 16); the token shares of phase 4; the
gateway's CPU seconds over each whole phase (mostly relaying streams); and the scheduler's own CPU cost per request, measured
in process on the gateway's real `Admission` and `ModelPool` (`scheduler_cost`): a request admitted at
once (choose a backend with room, take and hand over the slot) and a request that waits (queued,
woken by a freed slot, granted), each over 20,000 requests.

Targets (issue 20): unloaded, A's TTFT p95 within 2x its p50; with fair sharing, A's TTFT p95 under the
flood within 1.5x its unloaded p95; shares within 5 points of the weights; no request lost; the
scheduler under 50 us of CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loadtests.processes import Processes, free_port, process_cpu_seconds, wait_until_up

__all__ = ["main", "scheduler_cost"]

_ROOT = Path(__file__).resolve().parent.parent
MODEL = "bench-model"
_STARTUP_SECONDS = 60.0
_REQUEST_TIMEOUT = 300.0
_MAX_TOKENS = 200
_WARM_UP_SECONDS = 15.0
_A_PROMPT = "Résume la note de service sur les congés d'été en trois points."


@dataclass
class Tally:
    """What one department's requests did in a phase's measured window."""

    ttfts: list[float] = field(default_factory=list)
    answered: int = 0
    shed: int = 0
    lost: int = 0
    tokens: int = 0
    lost_reasons: dict[str, int] = field(default_factory=dict)

    def lose(self, reason: str) -> None:
        self.lost += 1
        self.lost_reasons[reason] = self.lost_reasons.get(reason, 0) + 1


@dataclass
class PhaseResult:
    name: str
    a: Tally
    b: Tally
    gateway_cpu_seconds: float
    occupancy: float
    """Mean requests running on the two simulators (of 16) over the window."""

    def summary(self) -> dict[str, Any]:
        return {
            "phase": self.name,
            "a_ttft_p50_ms": _percentile(self.a.ttfts, 0.50) * 1000 if self.a.ttfts else None,
            "a_ttft_p95_ms": _percentile(self.a.ttfts, 0.95) * 1000 if self.a.ttfts else None,
            "a_answered": self.a.answered,
            "b_answered": self.b.answered,
            "shed": self.a.shed + self.b.shed,
            "lost": self.a.lost + self.b.lost,
            "lost_reasons": {**self.a.lost_reasons, **self.b.lost_reasons},
            "a_tokens": self.a.tokens,
            "b_tokens": self.b.tokens,
            "mean_running_of_16": round(self.occupancy, 1),
            "gateway_cpu_seconds_whole_phase": round(self.gateway_cpu_seconds, 2),
        }


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Load:
    """The two departments' traffic against one gateway, for one phase."""

    def __init__(self, url: str, keys: dict[str, str], window: tuple[float, float]) -> None:
        self._url = f"{url}/v1/chat/completions"
        self._keys = keys
        self.window = window
        self.occupancy = 0.0
        self.tallies = {"a": Tally(), "b": Tally()}
        self._client = httpx.AsyncClient(
            timeout=_REQUEST_TIMEOUT,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=1000),
        )

    async def close(self) -> None:
        await self._client.aclose()

    def _counted(self, started: float) -> bool:
        return self.window[0] <= started < self.window[1]

    async def stream_once(self, department: str, prompt: str, headers: dict[str, str]) -> None:
        """One streamed request: its TTFT and its tokens (from the usage chunk)."""
        tally = self.tallies[department]
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": _MAX_TOKENS,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        started = time.monotonic()
        first: float | None = None
        tokens = 0
        try:
            async with self._client.stream(
                "POST", self._url, json=body, headers={**headers, **self._auth(department)}
            ) as answer:
                if answer.status_code != 200:
                    await answer.aread()
                    self._refused(tally, started, answer)
                    return
                async for line in answer.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[6:])
                    if first is None and any(
                        (choice.get("delta") or {}).get("content") for choice in chunk.get("choices") or ()
                    ):
                        first = time.monotonic()
                    usage = chunk.get("usage")
                    if usage:
                        tokens = usage.get("completion_tokens", 0)
        except httpx.HTTPError as exc:
            if self._counted(started):
                tally.lose(type(exc).__name__)
            return
        if not self._counted(started):
            return
        if first is None or tokens != _MAX_TOKENS:
            tally.lose("incomplete stream")
            return
        tally.answered += 1
        tally.tokens += tokens
        tally.ttfts.append(first - started)

    async def whole_once(self, department: str, prompt: str, headers: dict[str, str]) -> None:
        """One non-streamed request: its tokens."""
        tally = self.tallies[department]
        body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], "max_tokens": _MAX_TOKENS}
        started = time.monotonic()
        try:
            answer = await self._client.post(
                self._url, json=body, headers={**headers, **self._auth(department)}
            )
        except httpx.HTTPError as exc:
            if self._counted(started):
                tally.lose(type(exc).__name__)
            return
        if answer.status_code != 200:
            self._refused(tally, started, answer)
            if answer.status_code == 429:
                # A shed request's client waits as told (at most a second here) before its next one.
                await asyncio.sleep(min(1.0, float(answer.headers.get("retry-after", "1"))))
            return
        # Tokens count when they were generated: a request that ends in the window counts there.
        if self.window[0] <= time.monotonic() < self.window[1]:
            tally.answered += 1
            tally.tokens += answer.json()["usage"]["completion_tokens"]

    def _refused(self, tally: Tally, started: float, answer: httpx.Response) -> None:
        if not self._counted(started):
            return
        if answer.status_code == 429 and b"pool_saturated" in answer.content:
            tally.shed += 1
        else:
            tally.lose(f"status {answer.status_code}")

    def _auth(self, department: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self._keys[department]}"}

    async def open_loop(self, department: str, rate: float, until: float, headers: dict[str, str]) -> None:
        """A's traffic: one streamed request every 1/rate seconds, whatever the answers take."""
        tasks = []
        next_at = time.monotonic()
        while next_at < until:
            tasks.append(asyncio.create_task(self.stream_once(department, _A_PROMPT, headers)))
            next_at += 1.0 / rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await asyncio.gather(*tasks)

    async def closed_loop(self, department: str, index: int, until: float, headers: dict[str, str]) -> None:
        """One of a flood's loops: a request, then the next, until the phase ends."""
        sent = 0
        while time.monotonic() < until:
            prompt = f"Traite le dossier {department}-{index}-{sent}: vérifie les pièces et rédige l'avis."
            await self.whole_once(department, prompt, headers)
            sent += 1


async def _occupancy(simulators: list[int], window: tuple[float, float]) -> float:
    """Mean requests running on the simulators together over the window (sampled every 0.5 s)."""
    samples: list[int] = []
    async with httpx.AsyncClient(timeout=5) as client:
        await asyncio.sleep(max(0.0, window[0] - time.monotonic()))
        while time.monotonic() < window[1]:
            running = 0
            for port in simulators:
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    running += (await client.get(f"http://127.0.0.1:{port}/sim/stats")).json()["running"]
            samples.append(running)
            await asyncio.sleep(0.5)
    return sum(samples) / len(samples) if samples else 0.0


async def _run_phase(
    url: str,
    keys: dict[str, str],
    duration: float,
    simulators: list[int],
    *,
    a_rate: float,
    a_flood: int,
    b_flood: int,
    a_headers: dict[str, str],
    b_headers: dict[str, str],
) -> Load:
    now = time.monotonic()
    until = now + duration
    # The warm-up: until the first requests' slots have turned over (a 200-token answer takes about 6 s
    # on a full backend), so that the window sees the scheduler's steady state, not the first fill.
    warm_up = min(max(duration * 0.1, _WARM_UP_SECONDS), duration / 2)
    load = Load(url, keys, (now + warm_up, until))
    try:
        work = [load.closed_loop("b", i, until, b_headers) for i in range(b_flood)]
        work += [load.closed_loop("a", i, until, a_headers) for i in range(a_flood)]
        if a_rate > 0:
            work.append(load.open_loop("a", a_rate, until, a_headers))
        sampler = asyncio.create_task(_occupancy(simulators, load.window))
        await asyncio.gather(*work)
        load.occupancy = await sampler
    finally:
        await load.close()
    return load


def _config(
    directory: Path, name: str, port: int, simulators: list[int], *, sharing: bool, weights: dict[str, float]
) -> Path:
    backends: list[dict[str, Any]] = [{"url": f"http://127.0.0.1:{p}"} for p in simulators]
    if sharing:
        for backend in backends:
            backend["max_concurrent"] = 8  # the simulators' --max-num-seqs
    config: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port},
        "models": [{"name": MODEL, "backends": backends, "kind": "generative"}],
        "health": {"interval": 5, "metrics_interval": 1},
        "store": {"kind": "embedded", "path": str(directory / "keys.db")},
        "policy": {
            "model_file": str(_ROOT / "policies" / "model.conf"),
            "policy_file": str(_ROOT / "policies" / "policy.csv"),
        },
        "metrics": {"enabled": False},
        "admission": {
            "enabled": sharing,
            "departments": {"a": "interactive"},
            "weights": weights,
            "classes": {"batch": {"max_wait_seconds": 600, "max_queue_length": 10000}},
        },
    }
    path = directory / f"gateway-{name}.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


def _create_key(config: Path, department: str, work: Path) -> str:
    command = [sys.executable, "-m", "gateway", "keys", "create", "--config", str(config)]
    command += ["--department", department, "--service", "bench", "--label", "bench-fair-sharing"]
    created = subprocess.run(command, cwd=work, capture_output=True, timeout=_STARTUP_SECONDS, check=False)
    if created.returncode != 0:
        raise RuntimeError(created.stderr.decode(errors="replace")[-500:])
    return created.stdout.decode().strip()


class Session:
    """The simulators, the keys, and one gateway at a time."""

    def __init__(self, work: Path, weights: dict[str, float]) -> None:
        self.work = work
        self.weights = weights
        self.processes = Processes(work)
        self.simulators: list[int] = []
        self.keys: dict[str, str] = {}

    def start_simulators(self) -> None:
        for index in range(2):
            port = free_port()
            arguments = ["-m", "gateway", "sim", "--port", str(port), "--model", MODEL, "--seed", str(index)]
            arguments += ["--max-num-seqs", "8", "--ttft-ms", "50", "--itl-ms", "15"]
            process = self.processes.start(f"simulator-{index}", arguments, None)
            if not wait_until_up(process, port, "/health", _STARTUP_SECONDS):
                raise RuntimeError(self.processes.log_tail(f"simulator-{index}"))
            self.simulators.append(port)

    def start_gateway(self, sharing: bool) -> tuple[str, subprocess.Popen[bytes]]:
        port = free_port()
        name = "sharing" if sharing else "no-sharing"
        config = _config(self.work, name, port, self.simulators, sharing=sharing, weights=self.weights)
        if not self.keys:
            self.keys = {department: _create_key(config, department, self.work) for department in ("a", "b")}
        arguments = ["-m", "gateway", "serve", "--config", str(config), "--port", str(port)]
        process = self.processes.start(f"gateway-{name}", [*arguments, "--log-level", "warning"], None)
        if not wait_until_up(process, port, "/health/ready", _STARTUP_SECONDS):
            raise RuntimeError(self.processes.log_tail(f"gateway-{name}"))
        return f"http://127.0.0.1:{port}", process

    def phase(
        self,
        name: str,
        sharing: bool,
        duration: float,
        *,
        a_rate: float = 0.0,
        a_flood: int = 0,
        b_flood: int = 0,
        a_class: str | None = None,
        b_class: str = "batch",
    ) -> PhaseResult:
        url, gateway = self.start_gateway(sharing)
        try:
            a_headers = {"x-gateway-priority": a_class} if a_class else {}
            b_headers = {"x-gateway-priority": b_class}
            print(f"{name}: {duration:g} s", flush=True)
            cpu_before = process_cpu_seconds(gateway.pid)
            load = asyncio.run(
                _run_phase(
                    url,
                    self.keys,
                    duration,
                    self.simulators,
                    a_rate=a_rate,
                    a_flood=a_flood,
                    b_flood=b_flood,
                    a_headers=a_headers,
                    b_headers=b_headers,
                )
            )
            cpu = process_cpu_seconds(gateway.pid) - cpu_before
        finally:
            self.processes.stop(gateway)
        return PhaseResult(name, load.tallies["a"], load.tallies["b"], cpu, load.occupancy)


def scheduler_cost(requests: int = 20_000) -> dict[str, float]:
    """CPU microseconds per request spent in admission, on the gateway's own classes: a request let
    through at once, and one that waits for a freed slot (queue, wake-up, grant)."""
    from gateway.admission.scheduler import Admission
    from gateway.config import GatewayConfig
    from gateway.routing.pool import build_pools

    config = GatewayConfig.model_validate(
        {
            "models": [
                {
                    "name": MODEL,
                    "backends": [
                        {"url": "http://127.0.0.1:1", "max_concurrent": 8},
                        {"url": "http://127.0.0.1:2", "max_concurrent": 8},
                    ],
                }
            ],
            "admission": {"weights": {"a": 2, "b": 1}},
        }
    )
    pools, _ = build_pools(config)
    pool = pools[MODEL]
    admission = Admission(config.admission, pools)

    async def measure() -> dict[str, float]:
        started = time.process_time()
        for index in range(requests):
            slot = admission.admit_now(pool, 1, index)  # standard: no class above it is active
            assert slot is not None
            slot.hand_over()
            slot.backend.in_flight += 1  # what the forwarder does
            slot.backend.release()  # the answer is over
        immediate = (time.process_time() - started) / requests

        held = []
        for _ in range(16):  # every slot taken: the next requests wait
            slot = admission.admit_now(pool, 1, None)
            assert slot is not None
            slot.hand_over()
            slot.backend.in_flight += 1
            held.append(slot.backend)
        loop_only = await _task_overhead(requests)
        started = time.process_time()
        for index in range(requests):
            department = "a" if index % 3 else "b"
            waiting = asyncio.ensure_future(admission.wait(pool, 1, department, None))
            await asyncio.sleep(0)  # it queues
            backend = held.pop()
            backend.release()  # a slot frees: the queue hands it out
            slot = await waiting
            slot.hand_over()
            slot.backend.in_flight += 1
            held.append(slot.backend)
        waited = (time.process_time() - started) / requests - loop_only
        return {"immediate_us": immediate * 1e6, "waiting_us": waited * 1e6}

    return asyncio.run(measure())


async def _task_overhead(requests: int) -> float:
    """CPU per request of the asyncio task and the extra turn of the loop the waiting case pays
    anyway (subtracted: a waiting request's task is the request's own in the gateway)."""

    async def nothing() -> None:
        return None

    started = time.process_time()
    for _ in range(requests):
        task = asyncio.ensure_future(nothing())
        await asyncio.sleep(0)
        await task
    return (time.process_time() - started) / requests


def _parse_weights(text: str) -> dict[str, float]:
    a, _, b = text.partition(":")
    return {"a": float(a), "b": float(b)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds per phase (default: %(default)s)"
    )
    parser.add_argument(
        "--a-rate", type=float, default=2.0, help="A's requests per second (default: %(default)s)"
    )
    parser.add_argument("--b-concurrency", type=int, default=64, help="B's flood (default: %(default)s)")
    parser.add_argument(
        "--weights", default="2:1", help="A:B weights for the shares phase (default: %(default)s)"
    )
    parser.add_argument("--json", type=Path, help="write the figures there too")
    options = parser.parse_args(argv)
    weights = _parse_weights(options.weights)
    cost = scheduler_cost()
    print(
        f"scheduler CPU per request: {cost['immediate_us']:.1f} us at once, {cost['waiting_us']:.1f} us waiting",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-fair-") as folder:
        session = Session(Path(folder), weights)
        try:
            session.start_simulators()
            duration, flood = options.duration, options.b_concurrency
            results = [
                session.phase("unloaded", True, duration, a_rate=options.a_rate),
                session.phase("flood, no sharing", False, duration, a_rate=options.a_rate, b_flood=flood),
                session.phase("flood, sharing", True, duration, a_rate=options.a_rate, b_flood=flood),
                session.phase(
                    "shares",
                    True,
                    duration,
                    a_flood=flood,
                    b_flood=flood,
                    a_class="standard",
                    b_class="standard",
                ),
            ]
        finally:
            session.processes.stop_all()
    summaries = [result.summary() for result in results]
    for summary in summaries:
        print(json.dumps(summary), flush=True)
    shares = results[-1]
    total = shares.a.tokens + shares.b.tokens
    share_a = shares.a.tokens / total if total else 0.0
    expected = weights["a"] / (weights["a"] + weights["b"])
    print(f"shares: A {share_a:.1%} of the tokens (weight share {expected:.1%}), B {1 - share_a:.1%}")
    if options.json is not None:
        options.json.write_text(
            json.dumps(
                {
                    "scheduler": cost,
                    "phases": summaries,
                    "share_a": share_a,
                    "weight_share_a": expected,
                    "options": {k: str(v) for k, v in vars(options).items()},
                    "raw_a_ttfts_ms": {r.name: [t * 1000 for t in r.a.ttfts] for r in results},
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
