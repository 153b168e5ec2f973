"""What one request may make the gateway or a backend do is bounded: the choices it asks for, the size
of a non-streamed answer the gateway holds, the nesting it makes the gateway walk."""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends.simulator import SimulatorSettings
from backends.simulator import create_app as create_simulator
from tests.gateway.conftest import (
    CHAT_MODEL,
    DEPARTMENT,
    SERVICE,
    Deployment,
    running_gateway,
    running_simulator,
    sim_stats,
)
from tests.servers import serve_in_thread


def _chat(gateway_v1: str, headers: dict[str, str], **fields: Any) -> httpx.Response:
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Bonjour"}], **fields}
    return httpx.post(f"{gateway_v1}/chat/completions", json=body, headers=headers, timeout=30)


def _invalid(response: httpx.Response, param: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    return error


def _generation_requests(*simulators: str) -> int:
    return sum(sim_stats(url)["requests"] for url in simulators)


def test_n_above_the_default_limit_never_reaches_a_backend(deployment: Deployment) -> None:
    gateway, simulators = deployment.gateway, (deployment.sim_a, deployment.sim_b)
    before = _generation_requests(*simulators)

    for n in (10**18, 129):
        error = _invalid(_chat(gateway.v1, gateway.headers, n=n), "n")
        assert "Expected a value <= 128" in error["message"]
    assert _generation_requests(*simulators) == before

    allowed = _chat(gateway.v1, gateway.headers, n=128, max_tokens=1)
    assert allowed.status_code == 200, allowed.text
    assert len(allowed.json()["choices"]) == 128
    assert _generation_requests(*simulators) == before + 1


def test_the_limit_on_n_is_configurable_and_applies_to_completions() -> None:
    with (
        running_simulator(CHAT_MODEL) as sim,
        running_gateway([{"name": CHAT_MODEL, "backends": [{"url": sim}]}], server={"max_choices": 4}) as gw,
    ):
        _invalid(_chat(gw.v1, gw.headers, n=5), "n")
        completion = {"model": CHAT_MODEL, "prompt": "Bonjour", "max_tokens": 1}
        refused = httpx.post(
            f"{gw.v1}/completions", json={**completion, "n": 5}, headers=gw.headers, timeout=30
        )
        _invalid(refused, "n")
        assert _generation_requests(sim) == 0
        assert _chat(gw.v1, gw.headers, n=4, max_tokens=1).status_code == 200
        allowed = httpx.post(
            f"{gw.v1}/completions", json={**completion, "n": 4}, headers=gw.headers, timeout=30
        )
        assert len(allowed.json()["choices"]) == 4


def test_a_non_streamed_answer_above_the_limit_is_a_502_and_is_charged_its_reservation() -> None:
    limit = 64 * 1024
    with tempfile.TemporaryDirectory() as folder:
        with (
            running_simulator(CHAT_MODEL) as sim,
            running_gateway(
                [{"name": CHAT_MODEL, "backends": [{"url": sim}]}],
                upstream={"max_response_bytes": limit},
                quotas={"services": {f"{DEPARTMENT}/{SERVICE}": {"tokens_per_day": 1_000_000}}},
                audit={"enabled": True, "path": f"{folder}/audit.jsonl"},
            ) as gw,
        ):
            # 16 choices of 1,000 tokens: well over 64 KiB of JSON (the simulator writes exactly max_tokens).
            response = _chat(gw.v1, gw.headers, n=16, max_tokens=1000)
            assert response.status_code == 502, response.text[:300]
            error = response.json()["error"]
            assert (error["type"], error["code"]) == ("server_error", "upstream_response_too_large")
            assert f"{limit} bytes" in error["message"]
            assert "stream" in error["message"]  # what the client can do about it
            assert _chat(gw.v1, gw.headers, max_tokens=5).status_code == 200
        # The gateway stopped: every audit record is written.
        records = [json.loads(line) for line in Path(folder, "audit.jsonl").read_text().splitlines()]
    cut = records[0]
    # The backend did generate the answer: the request pays what it reserved (16 x 1,000 output tokens).
    assert (cut["status"], cut["completion_tokens"]) == (502, 16_000)
    assert cut["prompt_tokens"] > 0


class _EndlessAnswer:
    """A backend whose chat answer never ends: a non-streamed body (chunked, no length) or, for a
    stream, one event that never gets its blank line. A simulator answers everything else. It notes
    whether the gateway hung up on it."""

    CHUNK = b" " * 65536

    def __init__(self, simulator: Any) -> None:
        self._simulator = simulator
        self.sent = 0
        self.disconnected = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/chat/completions":
            await self._simulator(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        stream = json.loads(body).get("stream") is True
        watcher = asyncio.ensure_future(receive())  # the next message is http.disconnect
        media_type = b"text/event-stream" if stream else b"application/json"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", media_type)]})
        opening = b'data: {"choices": [' if stream else b'{"choices": ['
        await send({"type": "http.response.body", "body": opening, "more_body": True})
        deadline = time.monotonic() + 30
        for _ in range(100_000):  # 6.5 GB at most; the gateway must stop reading long before
            if watcher.done() or time.monotonic() > deadline:
                break
            await send({"type": "http.response.body", "body": self.CHUNK, "more_body": True})
            self.sent += len(self.CHUNK)
            await asyncio.sleep(0)
        if watcher.done():
            self.disconnected.set()
        watcher.cancel()


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_an_endless_answer_is_cut_off_and_its_connection_closed(transport: str) -> None:
    limit = 1024 * 1024
    backend = _EndlessAnswer(create_simulator(SimulatorSettings(models=(CHAT_MODEL,), ttft_ms=0, itl_ms=0)))
    with (
        serve_in_thread(backend) as url,
        running_gateway(
            [{"name": CHAT_MODEL, "backends": [{"url": url}]}],
            upstream={"max_response_bytes": limit, "transport": transport},
        ) as gw,
    ):
        started = time.monotonic()
        response = _chat(gw.v1, gw.headers)
        assert response.status_code == 502, response.text[:300]
        assert response.json()["error"]["code"] == "upstream_response_too_large"
        assert time.monotonic() - started < 20
        assert backend.disconnected.wait(10), "the gateway kept the connection open"
        # Flow control stops the backend soon after the gateway stops reading: far less than was possible.
        assert backend.sent < 64 * limit


def test_an_endless_stream_event_is_cut_off_with_an_error_event() -> None:
    limit = 1024 * 1024
    backend = _EndlessAnswer(create_simulator(SimulatorSettings(models=(CHAT_MODEL,), ttft_ms=0, itl_ms=0)))
    with (
        serve_in_thread(backend) as url,
        running_gateway(
            [{"name": CHAT_MODEL, "backends": [{"url": url}]}], upstream={"max_response_bytes": limit}
        ) as gw,
    ):
        started = time.monotonic()
        response = _chat(gw.v1, gw.headers, stream=True)
        assert response.status_code == 200  # the stream had started; its end says what happened
        events = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        assert json.loads(events[-2])["error"]["code"] == "upstream_response_too_large"
        assert time.monotonic() - started < 20
        assert backend.disconnected.wait(10), "the gateway kept the connection open"
        assert backend.sent < 64 * limit
