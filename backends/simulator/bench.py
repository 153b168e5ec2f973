"""Measure a simulator's throughput: ``python -m backends.simulator.bench --url http://127.0.0.1:8001``.

A deliberately thin HTTP/1.1 client (asyncio streams, keep-alive connections, no parsing beyond
framing) so that the client is not what limits the figure. Run it in its own process, with the
simulator started with ``--ttft-ms 0 --itl-ms 0``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Tally:
    """What the workers counted."""

    requests: int = 0
    tokens: int = 0
    errors: int = 0


def build_request(host: str, port: int, model: str, *, stream: bool, max_tokens: int) -> bytes:
    """One raw chat-completion request."""
    body = json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": "Benchmark prompt: say a few words."}],
            "max_tokens": max_tokens,
            "stream": stream,
        }
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response (content-length or chunked framing)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if b":" in line:
            name, value = line.split(b":", 1)
            headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        return status, await reader.readexactly(int(headers[b"content-length"]))
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def worker(url: str, request: bytes, stream: bool, deadline: float, tally: Tally) -> None:
    """Send requests back to back on one keep-alive connection until the deadline."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        while time.monotonic() < deadline:
            writer.write(request)
            status, body = await read_response(reader)
            if status != 200:
                tally.errors += 1
                continue
            tally.requests += 1
            if stream:
                # One event per token, plus the role chunk and [DONE].
                tally.tokens += body.count(b"data: ") - 2
            else:
                usage = json.loads(body)["usage"]
                tally.tokens += usage["completion_tokens"]
    finally:
        writer.close()
        await writer.wait_closed()


async def run(url: str, model: str, concurrency: int, seconds: float, stream: bool, max_tokens: int) -> Tally:
    """Run ``concurrency`` workers for ``seconds``."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, "the URL needs a host and a port"
    request = build_request(parts.hostname, parts.port, model, stream=stream, max_tokens=max_tokens)
    tally = Tally()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(worker(url, request, stream, deadline, tally) for _ in range(concurrency)))
    return tally


def main(argv: list[str] | None = None) -> int:
    """Print requests/s and tokens/s for one configuration."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", default="bench-model")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args(argv)
    started = time.monotonic()
    tally = asyncio.run(
        run(args.url, args.model, args.concurrency, args.seconds, args.stream, args.max_tokens)
    )
    elapsed = time.monotonic() - started
    mode = "stream" if args.stream else "plain"
    print(
        f"{mode} max_tokens={args.max_tokens} concurrency={args.concurrency}: "
        f"{tally.requests / elapsed:,.0f} requests/s, {tally.tokens / elapsed:,.0f} tokens/s, "
        f"{tally.errors} errors in {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
