"""The relay's bound on each upstream read (`idle`) and on the whole stream (`total`): one timer per
stream, moved lazily, must end a silent backend's stream as `asyncio.timeout` around every read did,
and nothing else: not a slow client, not a stream that keeps coming."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from gateway.routing.backend import Backend
from gateway.telemetry.request_trace import NO_TRACE
from gateway.upstream.forward import UpstreamReply
from gateway.upstream.relay import StreamRelay

pytestmark = pytest.mark.asyncio

_EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}\n\n'
_DONE = b"data: [DONE]\n\n"


class _Paced(httpx.AsyncByteStream):
    """A backend's stream: each chunk after its delay (seconds); `closed` once the relay lets go."""

    def __init__(self, chunks: Sequence[tuple[float, bytes]]) -> None:
        self._chunks = chunks
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for delay, chunk in self._chunks:
            await asyncio.sleep(delay)
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def _relay(
    stream: _Paced, *, idle: float, total: float = 30.0, response: httpx.Response | None = None
) -> StreamRelay:
    response = response or httpx.Response(200, stream=stream)
    backend = Backend("http://127.0.0.1:9")
    backend.in_flight = 1
    reply = UpstreamReply(
        backend, response, attempts=1, span=NO_TRACE.step("x"), opened_at=0.0, max_bytes=1024 * 1024
    )
    return StreamRelay(reply, strip_usage=True, idle=idle, total=total)


async def _drain(relay: StreamRelay, pause: float = 0.0) -> list[bytes]:
    out = []
    async with asyncio.timeout(10):  # the test's own bound
        async for chunk in relay:
            out.append(chunk)
            await asyncio.sleep(pause)
    return out


async def test_a_backend_that_goes_silent_is_cut_after_idle() -> None:
    stream = _Paced([(0.0, _EVENT), (5.0, _EVENT)])
    relay = _relay(stream, idle=0.2)
    started = time.monotonic()
    out = await _drain(relay)
    elapsed = time.monotonic() - started
    assert out[0] == _EVENT
    assert b'"code":"upstream_timeout"' in out[-1] and out[-1].endswith(_DONE)
    assert 0.18 <= elapsed < 2.0
    assert relay.ended_upstream and stream.closed


async def test_events_closer_than_idle_run_past_idle_several_times() -> None:
    # 12 events 50 ms apart: the stream lasts three times `idle` and no wait reaches it.
    stream = _Paced([(0.05, _EVENT)] * 12 + [(0.0, _DONE)])
    relay = _relay(stream, idle=0.2)
    out = await _drain(relay)
    assert b"".join(out) == _EVENT * 12 + _DONE
    assert relay.events == 13 and not any(b"error" in chunk for chunk in out)


async def test_a_slow_client_is_not_the_backends_silence() -> None:
    # The client takes 0.3 s per event, beyond `idle`: only the waits for the backend count.
    stream = _Paced([(0.0, _EVENT)] * 3 + [(0.0, _DONE)])
    relay = _relay(stream, idle=0.2)
    out = await _drain(relay, pause=0.3)
    assert b"".join(out) == _EVENT * 3 + _DONE


async def test_total_ends_a_stream_that_keeps_coming() -> None:
    stream = _Paced([(0.05, _EVENT)] * 100)
    relay = _relay(stream, idle=1.0, total=0.4)
    started = time.monotonic()
    out = await _drain(relay)
    elapsed = time.monotonic() - started
    assert b'"code":"upstream_timeout"' in out[-1]
    # The events relayed before the deadline (fewer on a loaded machine, never all of them).
    assert 1 <= len(out) - 1 <= 9
    assert 0.38 <= elapsed < 2.0 and stream.closed


async def test_a_cancellation_from_elsewhere_is_not_a_timeout() -> None:
    stream = _Paced([(0.0, _EVENT), (5.0, _EVENT)])
    relay = _relay(stream, idle=0.2)
    reader = asyncio.create_task(_drain(relay))
    await asyncio.sleep(0.05)  # the relay now waits for the second event
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await relay.aclose()
    assert stream.closed and not relay.ended_upstream  # the client left first


async def test_a_closed_relay_leaves_no_timer_behind() -> None:
    stream = _Paced([(0.0, _EVENT), (0.0, _DONE)])
    response = httpx.Response(200, stream=stream)
    relay = _relay(stream, idle=60.0, response=response)
    assert b"".join(await _drain(relay)) == _EVENT + _DONE
    reference = weakref.ref(response)
    del relay, response
    gc.collect()
    # A pending 60 s timer would hold the relay (and its upstream reply) until it fired.
    assert reference() is None
