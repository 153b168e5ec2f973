"""A lean closed-loop HTTP/1.1 load generator, run in its own process by `loadtests.bench`.

Each of `--concurrency` keep-alive connections sends one request, waits for the whole answer, and
sends the next, until `--duration` seconds have passed or `--requests` requests have been sent.
Connections are opened before the clock starts, so the figures are those of a warm pool.

Two clients are available because the generator must never be the bottleneck and shares its core
with the simulator: `raw` (the default) is a hand-written client on an asyncio Protocol with
httptools' C parser and uvloop; `aiohttp` is one `ClientSession`. `raw` spends less CPU per request
(docs/performance.md has the comparison). The result is one JSON object on stdout.

    python -m loadtests.loadgen --url http://127.0.0.1:8001/v1/chat/completions \
        --body '{"model": "m", "messages": [...]}' --concurrency 16 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import aiohttp
import httptools
import uvloop

from loadtests.processes import CpuMeter

__all__ = [
    "LOOPBACK_HOSTS",
    "Budget",
    "LoadResult",
    "LoadSpec",
    "RawConnection",
    "main",
    "percentile",
    "raw_request",
    "run_load",
]

ClientName = Literal["raw", "aiohttp"]
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
# How many bytes of a stream's end are kept to check that it closed with `data: [DONE]`.
_TAIL_BYTES = 32
_DONE_MARKER = b"[DONE]"


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """One load run: where, what, how many at once, and its bounds in time and count."""

    url: str
    body: bytes
    concurrency: int
    duration: float
    max_requests: int
    stream: bool
    api_key: str | None = None
    """Sent as `Authorization: Bearer` (the gateway requires a key; the simulator ignores it)."""
    timeout: float = 30.0
    """Longest wait for one answer; a request that takes longer counts as an error."""


@dataclass(slots=True)
class Sample:
    """What one exchange took, in seconds from the moment its request was written."""

    latency: float
    first_byte: float
    ok: bool


@dataclass(slots=True)
class LoadResult:
    """The summary of one run, in milliseconds and requests per second."""

    requests: int
    errors: int
    elapsed_s: float
    rps: float
    latency_ms: dict[str, float]
    ttft_ms: dict[str, float] | None
    client: str
    client_cpu_s: float = 0.0
    """CPU time the generator itself used during the run (to check that it is not the bottleneck)."""
    watched_cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU time of each process named by `--watch-pid` (gateway, simulator) during the run, by PID."""
    cpu_busy_s: dict[str, float] = field(default_factory=dict)
    """Non-idle seconds of each CPU during the run, keyed by CPU number."""
    error_examples: list[str] = field(default_factory=list)


class Budget:
    """Hands out request slots until the deadline or the request cap, whichever comes first."""

    def __init__(self, max_requests: int) -> None:
        self.deadline = 0.0
        self.remaining = max_requests

    def start(self, duration: float) -> float:
        now = time.perf_counter()
        self.deadline = now + duration
        return now

    def take(self) -> bool:
        if self.remaining <= 0 or time.perf_counter() >= self.deadline:
            return False
        self.remaining -= 1
        return True


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile of an already sorted sequence (fraction in 0-1)."""
    if not ordered:
        return float("nan")
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _summary_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {name: percentile(ordered, q) * 1000 for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}


class RawConnection(asyncio.Protocol):
    """One keep-alive connection; `exchange` sends a prepared request and waits for its answer.

    httptools calls the `on_*` methods while `data_received` feeds it, so the timestamps are taken
    as the bytes arrive rather than when the waiting coroutine is next scheduled.
    """

    def __init__(self, stream: bool) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._stream = stream
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._first_byte_at = 0.0
        self._done_at = 0.0
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without inheriting from it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"unparsable response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._fail(ConnectionError("connection closed by the server"))

    def on_body(self, body: bytes) -> None:
        if not self._first_byte_at:
            self._first_byte_at = time.perf_counter()
        if self._stream:
            self._tail = (self._tail + body)[-_TAIL_BYTES:]

    def on_message_complete(self) -> None:
        self._done_at = time.perf_counter()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)

    @property
    def usable(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def exchange(self, request: bytes) -> Sample:
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._first_byte_at = self._done_at = 0.0
        self._tail = b""
        started = time.perf_counter()
        self._transport.write(request)
        await self._waiter
        ok = self._parser.get_status_code() == 200 and (not self._stream or _DONE_MARKER in self._tail)
        first_byte = (self._first_byte_at or self._done_at) - started
        return Sample(self._done_at - started, first_byte, ok)


def _headers(spec: LoadSpec) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
    if spec.api_key:
        headers["Authorization"] = f"Bearer {spec.api_key}"
    return headers


def raw_request(spec: LoadSpec) -> bytes:
    """The request's bytes, built once: every exchange on every connection sends the same ones."""
    parts = urlsplit(spec.url)
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in _headers(spec).items()]
    lines.append(f"Content-Length: {len(spec.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + spec.body


async def _open_raw(spec: LoadSpec) -> RawConnection:
    parts = urlsplit(spec.url)
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: RawConnection(spec.stream), parts.hostname or "127.0.0.1", parts.port or 80
    )
    return protocol


async def _reopen(spec: LoadSpec, errors: list[str]) -> RawConnection | None:
    try:
        return await _open_raw(spec)
    except OSError as exc:
        errors.append(f"reconnect failed: {exc}")
        return None


async def _raw_worker(
    connection: RawConnection, spec: LoadSpec, budget: Budget, samples: list[Sample], errors: list[str]
) -> None:
    request = raw_request(spec)
    current: RawConnection | None = connection
    try:
        while current is not None and budget.take():
            try:
                async with asyncio.timeout(spec.timeout):
                    samples.append(await current.exchange(request))
            except (TimeoutError, ConnectionError, OSError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                current.close()
                # A server that refuses new connections ends this worker; the others go on.
                current = await _reopen(spec, errors)
    finally:
        if current is not None:
            current.close()


async def _aiohttp_exchange(session: aiohttp.ClientSession, spec: LoadSpec) -> Sample:
    started = time.perf_counter()
    async with session.post(spec.url, data=spec.body, headers=_headers(spec)) as response:
        first = await response.content.readany()
        first_byte_at = time.perf_counter()
        tail = first[-_TAIL_BYTES:]
        while chunk := await response.content.readany():
            tail = (tail + chunk)[-_TAIL_BYTES:]
        done_at = time.perf_counter()
        ok = response.status == 200 and (not spec.stream or _DONE_MARKER in tail)
    return Sample(done_at - started, first_byte_at - started, ok)


async def _aiohttp_worker(
    session: aiohttp.ClientSession, spec: LoadSpec, budget: Budget, samples: list[Sample], errors: list[str]
) -> None:
    while budget.take():
        try:
            async with asyncio.timeout(spec.timeout):
                samples.append(await _aiohttp_exchange(session, spec))
        except (TimeoutError, aiohttp.ClientError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")


async def _timed(
    budget: Budget, spec: LoadSpec, meter: CpuMeter, workers: list[Coroutine[Any, Any, None]]
) -> float:
    """Start the clock, run the workers to the end of the budget, and return the elapsed seconds."""
    meter.start()
    started = budget.start(spec.duration)
    tasks = [asyncio.ensure_future(worker) for worker in workers]
    try:
        # A last bound in case a server stops answering: every request has its own timeout too.
        async with asyncio.timeout(spec.duration + spec.timeout + 10):
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        meter.stop()
    finally:
        for task in tasks:
            task.cancel()
    return elapsed


async def _run_workers(
    spec: LoadSpec, client: ClientName, meter: CpuMeter
) -> tuple[list[Sample], list[str], float]:
    budget = Budget(spec.max_requests)
    samples: list[Sample] = []
    errors: list[str] = []
    if client == "aiohttp":
        connector = aiohttp.TCPConnector(limit=spec.concurrency)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
            workers = [
                _aiohttp_worker(session, spec, budget, samples, errors) for _ in range(spec.concurrency)
            ]
            elapsed = await _timed(budget, spec, meter, workers)
        return samples, errors, elapsed
    # Raw connections are opened before the clock starts, so connecting is not measured.
    connections = await asyncio.gather(*(_open_raw(spec) for _ in range(spec.concurrency)))
    raw_workers = [_raw_worker(connection, spec, budget, samples, errors) for connection in connections]
    elapsed = await _timed(budget, spec, meter, raw_workers)
    return samples, errors, elapsed


def summarize(
    samples: list[Sample], errors: list[str], elapsed: float, spec: LoadSpec, client: str
) -> LoadResult:
    good = [sample for sample in samples if sample.ok]
    failed = len(samples) - len(good) + len(errors)
    examples = errors[:3] + (["non-200 status or stream without [DONE]"] if len(good) < len(samples) else [])
    return LoadResult(
        requests=len(good),
        errors=failed,
        elapsed_s=elapsed,
        rps=len(good) / elapsed if elapsed > 0 else 0.0,
        latency_ms=_summary_ms([sample.latency for sample in good]),
        ttft_ms=_summary_ms([sample.first_byte for sample in good]) if spec.stream else None,
        client=client,
        error_examples=examples,
    )


async def run_load(spec: LoadSpec, client: ClientName = "raw", watch_pids: Sequence[int] = ()) -> LoadResult:
    """Drive one run and summarize it, with CPU readings taken around the clocked part.

    Only loopback addresses are accepted.
    """
    host = urlsplit(spec.url).hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"refusing to load {host!r}: only 127.0.0.1 is a target")
    meter = CpuMeter(watch_pids)
    samples, errors, elapsed = await _run_workers(spec, client, meter)
    usage = meter.usage
    result = summarize(samples, errors, elapsed, spec, client)
    result.client_cpu_s = usage.own_s
    result.watched_cpu_s = {str(pid): seconds for pid, seconds in usage.watched_s.items()}
    result.cpu_busy_s = {str(cpu): seconds for cpu, seconds in usage.busy_s.items()}
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loadtests.loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, help="JSON request body")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds (upper bound)")
    parser.add_argument("--requests", type=int, default=1_000_000, help="request cap (upper bound)")
    parser.add_argument("--stream", action="store_true", help="expect an SSE stream ending in [DONE]")
    parser.add_argument("--api-key", help="sent as Authorization: Bearer (default: $LOADGEN_API_KEY)")
    parser.add_argument("--client", choices=["raw", "aiohttp"], default="raw")
    parser.add_argument(
        "--watch-pid",
        type=int,
        action="append",
        default=[],
        help="report this process's CPU time (repeatable)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    spec = LoadSpec(
        url=args.url,
        body=args.body.encode(),
        concurrency=max(1, args.concurrency),
        duration=args.duration,
        max_requests=args.requests,
        stream=args.stream,
        api_key=args.api_key or os.environ.get("LOADGEN_API_KEY"),
    )
    result = uvloop.run(run_load(spec, args.client, args.watch_pid))
    json.dump(asdict(result), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
