"""The load generator of `loadtests.bench_relay`: streamed chats whose tokens carry their send time.

Each of `--concurrency` keep-alive connections sends one streamed chat request, reads its events as
they arrive, and sends the next, for `--warmup` plus `--duration` seconds (and at most `--requests`
requests). The simulator behind runs with `--stamp-events`: each token's text is ` @<ns>`, its
`time.monotonic_ns()` when the event was sent. For every token event that completes during the
measured `--duration` (after the warm-up), the delay `arrival - stamp` is recorded, in nanoseconds.

The arrival is `time.monotonic_ns()` read at the top of `data_received`, before the response is
parsed, for the read that brings the event's last byte: what parsing costs is the client's, not the
relay's. CLOCK_MONOTONIC is one clock for all the processes of a machine, so the two readings
compare. The result is one JSON object on stdout (`RelayResult`).

It reuses `loadtests.loadgen`'s raw HTTP/1.1 client (asyncio Protocol, httptools, uvloop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import uvloop

from loadtests.loadgen import LOOPBACK_HOSTS, Budget, LoadSpec, RawConnection, raw_request
from loadtests.processes import CpuMeter

__all__ = ["RelayResult", "main", "measure_delays"]

# A stamped chat token, as the simulator writes it and the gateway relays it (compact JSON).
_STAMP = re.compile(rb'"content":" @(\d+)"')
_EVENT_END = b"\n\n"
_MAX_ERROR_EXAMPLES = 5
# Beyond the run itself: the longest a stream in flight at the end may take to finish.
_END_GRACE_SECONDS = 10.0


@dataclass(slots=True)
class RelayResult:
    """What one run measured."""

    delays_ns: list[int]
    """`arrival - stamp` of every token event completed during the measured window."""
    requests: int
    """Streams completed with a 200, `[DONE]` and every token stamped."""
    errors: int
    elapsed_s: float
    client_cpu_s: float = 0.0
    watched_cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU time of each `--watch-pid` process (gateway, simulator) during the window, by PID."""
    cpu_busy_s: dict[str, float] = field(default_factory=dict)
    """Non-idle seconds of each CPU during the window, by CPU number."""
    error_examples: list[str] = field(default_factory=list)


class _DelayLog:
    """The delays of the measured window; events outside it are counted by their stream only."""

    def __init__(self) -> None:
        self.recording = False
        self.delays_ns: list[int] = []


class _StampedConnection(RawConnection):
    """A raw keep-alive connection that reads the stamp of each token event as the event completes."""

    def __init__(self, log: _DelayLog) -> None:
        super().__init__(stream=True)
        self._log = log
        self._arrived_ns = 0
        self._partial = b""
        self.stamps = 0
        """Stamped events of the current exchange (checked against the tokens asked for)."""

    def data_received(self, data: bytes) -> None:
        self._arrived_ns = time.monotonic_ns()
        super().data_received(data)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        data = self._partial + body if self._partial else body
        cut = data.rfind(_EVENT_END)
        if cut < 0:
            # No event completes in this read: its stamp is read with the bytes that complete it.
            self._partial = data
            return
        cut += len(_EVENT_END)
        complete, self._partial = data[:cut], data[cut:]
        stamps = _STAMP.findall(complete)
        self.stamps += len(stamps)
        if self._log.recording:
            arrived = self._arrived_ns
            self._log.delays_ns.extend(arrived - int(stamp) for stamp in stamps)

    async def exchange_stamped(self, request: bytes) -> bool:
        """One streamed request; True when it ended well (200 and `[DONE]`)."""
        self._partial = b""
        self.stamps = 0
        sample = await self.exchange(request)
        return sample.ok


async def _open(spec: LoadSpec, log: _DelayLog) -> _StampedConnection:
    parts = urlsplit(spec.url)
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: _StampedConnection(log), parts.hostname or "127.0.0.1", parts.port or 80
    )
    return protocol


@dataclass(slots=True)
class _Outcome:
    """What the workers report: good streams, and errors with a few examples."""

    requests: int = 0
    errors: int = 0
    examples: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.errors += 1
        if len(self.examples) < _MAX_ERROR_EXAMPLES:
            self.examples.append(message)


async def _worker(
    connection: _StampedConnection, spec: LoadSpec, tokens: int, budget: Budget, outcome: _Outcome
) -> None:
    request = raw_request(spec)
    try:
        while budget.take():
            if not connection.usable:
                outcome.fail("connection closed by the server between requests")
                return
            try:
                async with asyncio.timeout(spec.timeout):
                    ok = await connection.exchange_stamped(request)
            except (TimeoutError, ConnectionError, OSError) as exc:
                # The connection is dead or mid-answer: this worker stops, the others go on.
                outcome.fail(f"{type(exc).__name__}: {exc}")
                return
            if not ok:
                outcome.fail("non-200 status or stream without [DONE]")
            elif connection.stamps != tokens:
                outcome.fail(f"{connection.stamps} stamped events, {tokens} tokens asked for")
            else:
                outcome.requests += 1
    finally:
        connection.close()


async def measure_delays(
    spec: LoadSpec, tokens: int, warmup: float, watch_pids: Sequence[int] = ()
) -> RelayResult:
    """Run the load for `warmup + spec.duration` seconds and record delays during the last `duration`."""
    if urlsplit(spec.url).hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"refusing to load {spec.url!r}: only 127.0.0.1 is a target")
    log = _DelayLog()
    outcome = _Outcome()
    meter = CpuMeter(watch_pids)
    # Connections are opened before any clock starts, so connecting is not measured.
    connections = await asyncio.gather(*(_open(spec, log) for _ in range(spec.concurrency)))
    budget = Budget(spec.max_requests)
    budget.start(warmup + spec.duration)
    tasks = [asyncio.ensure_future(_worker(each, spec, tokens, budget, outcome)) for each in connections]
    try:
        async with asyncio.timeout(warmup + spec.duration + spec.timeout + _END_GRACE_SECONDS):
            await asyncio.sleep(warmup)
            log.recording = True
            meter.start()
            started = time.perf_counter()
            await asyncio.sleep(spec.duration)
            # Streams still running finish unrecorded: fewer are left then than the run's concurrency.
            log.recording = False
            elapsed = time.perf_counter() - started
            usage = meter.stop()
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for connection in connections:
            connection.close()
    return RelayResult(
        delays_ns=log.delays_ns,
        requests=outcome.requests,
        errors=outcome.errors,
        elapsed_s=elapsed,
        client_cpu_s=usage.own_s,
        watched_cpu_s={str(pid): seconds for pid, seconds in usage.watched_s.items()},
        cpu_busy_s={str(cpu): seconds for cpu, seconds in usage.busy_s.items()},
        error_examples=outcome.examples,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loadtests.relay_loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, help="JSON chat request with stream and max_tokens")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before")
    parser.add_argument("--requests", type=int, default=100_000, help="request cap (upper bound)")
    parser.add_argument("--watch-pid", type=int, action="append", default=[], help="report its CPU time")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    body = json.loads(args.body)
    if body.get("stream") is not True or not isinstance(body.get("max_tokens"), int):
        raise SystemExit("loadtests.relay_loadgen: the body must ask for a stream of max_tokens tokens")
    spec = LoadSpec(
        url=args.url,
        body=args.body.encode(),
        concurrency=max(1, args.concurrency),
        duration=args.duration,
        max_requests=args.requests,
        stream=True,
        # The key comes through the environment rather than the command line, which `ps` shows.
        api_key=os.environ.get("LOADGEN_API_KEY") or None,
    )
    result = uvloop.run(measure_delays(spec, body["max_tokens"], max(0.0, args.warmup), args.watch_pid))
    json.dump(asdict(result), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
