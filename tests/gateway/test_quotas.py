"""Quotas through the gateway: reservations settled from what the backend reported, 429s, headers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import openai
import pytest
import redis.asyncio as aioredis

from gateway.quotas import EmbeddedLedger, Planner
from gateway.quotas.redis_ledger import RedisLedger
from tests.gateway.conftest import (
    DEPARTMENT,
    SERVICE,
    SOLO_MODEL,
    RunningGateway,
    last_request,
    running_gateway,
    running_simulator,
    sim_stats,
)
from tests.redis_server import redis_server
from tests.waiting import wait_for


def _outstanding(gw: RunningGateway) -> int:
    """Reservations still held, read through a second connection to the gateway's own store."""

    async def count() -> int:
        ledger = await EmbeddedLedger.open(gw.state.config.store.path)
        try:
            return await ledger.outstanding(DEPARTMENT)
        finally:
            await ledger.close()

    return asyncio.run(count())


async def _save(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        await client.save()
    finally:
        await client.aclose()


def _quotas(**service_limits: Any) -> dict[str, Any]:
    return {"services": {f"{DEPARTMENT}/{SERVICE}": service_limits}}


def _chat(gw: RunningGateway, **extra: Any) -> httpx.Response:
    payload = {"model": SOLO_MODEL, "messages": [{"role": "user", "content": "deux mots"}], **extra}
    return httpx.post(f"{gw.v1}/chat/completions", json=payload, headers=gw.headers, timeout=10)


def test_budget_runs_out_with_a_readable_429_and_is_never_exceeded() -> None:
    budget = 400
    with (
        running_simulator(SOLO_MODEL) as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}], quotas=_quotas(tokens_per_day=budget)
        ) as gw,
    ):
        used = 0
        refusal: openai.RateLimitError | None = None
        with openai.OpenAI(base_url=gw.v1, api_key=gw.api_key, max_retries=0) as client:
            for _ in range(100):
                try:
                    reply = client.chat.completions.create(
                        model=SOLO_MODEL, messages=[{"role": "user", "content": "deux mots"}], max_tokens=10
                    )
                except openai.RateLimitError as exc:
                    refusal = exc
                    break
                assert reply.usage is not None
                used += reply.usage.total_tokens
        assert refusal is not None, "the budget never ran out"
        assert refusal.code == "insufficient_quota"
        assert "day" in refusal.message and "Europe/Paris" in refusal.message
        assert refusal.response.headers["retry-after"].isdigit()
        assert 0 < used <= budget
        assert wait_for(lambda: _outstanding(gw) == 0, 3.0), "a reservation was left behind"


def test_rate_limit_headers_on_every_answer() -> None:
    with (
        running_simulator(SOLO_MODEL) as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            quotas=_quotas(tokens_per_minute=100_000, requests_per_minute=50),
        ) as gw,
    ):
        response = _chat(gw, max_tokens=2)
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit-requests"] == "50"
        assert int(response.headers["x-ratelimit-remaining-requests"]) <= 49
        assert response.headers["x-ratelimit-limit-tokens"] == "100000"
        assert "x-ratelimit-reset-tokens" in response.headers


def test_missing_max_tokens_is_capped_to_what_was_reserved() -> None:
    with (
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            quotas={**_quotas(tokens_per_day=1_000_000), "default_max_tokens": 77},
        ) as gw,
    ):
        assert _chat(gw).status_code == 200
        assert json.loads(last_request(sim)["body"])["max_tokens"] == 77


def test_streams_settle_from_their_usage_chunk_and_failures_release() -> None:
    with (
        running_simulator(SOLO_MODEL) as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}], quotas=_quotas(tokens_per_day=10_000)
        ) as gw,
    ):
        with httpx.stream(
            "POST",
            f"{gw.v1}/chat/completions",
            json={
                "model": SOLO_MODEL,
                "messages": [{"role": "user", "content": "x"}],
                "stream": True,
                "max_tokens": 5,
            },
            headers=gw.headers,
            timeout=10,
        ) as response:
            body = response.read()
        assert b"[DONE]" in body
        assert b'"usage"' not in body, "the usage chunk the gateway asked for is not the client's"
        broken = _chat(gw, max_tokens=5, vllm_xargs={"sim_break_after": 2}, stream=True)
        assert broken.status_code == 200
        refused = _chat(gw, max_tokens=-1)
        assert refused.status_code == 400
        assert wait_for(lambda: _outstanding(gw) == 0, 3.0), "a reservation was left behind"


def test_client_leaving_mid_stream_is_charged_for_what_was_generated() -> None:
    with (
        running_simulator(SOLO_MODEL, itl_ms=30.0) as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}], quotas=_quotas(tokens_per_day=10_000)
        ) as gw,
    ):
        payload = {
            "model": SOLO_MODEL,
            "messages": [{"role": "user", "content": "x"}],
            "stream": True,
            "max_tokens": 500,
        }
        with httpx.stream(
            "POST", f"{gw.v1}/chat/completions", json=payload, headers=gw.headers, timeout=10
        ) as response:
            for index, _ in enumerate(response.iter_raw()):
                if index >= 3:
                    break
        assert wait_for(lambda: sim_stats(sim)["aborted"] == 1, 5.0)
        assert wait_for(lambda: _outstanding(gw) == 0, 5.0)
        # What remains of the day's budget: the whole reservation (500 output tokens) was given back.
        after = _chat(gw, max_tokens=1)
        remaining = int(after.headers["x-ratelimit-remaining-tokens"])
        assert remaining > 10_000 - 100, remaining


@pytest.mark.parametrize("mode", ["fail_closed", "fail_open"])
def test_quota_store_outage(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis stops under the gateway: fail_closed answers a clear 503, fail_open keeps serving; both
    serve normally again once it is back, and fail_open's usage reaches the store."""
    monkeypatch.setenv("GATEWAY_KEY_PEPPER", "a-test-pepper-that-is-long-enough-1234567890")
    with redis_server() as redis, running_simulator(SOLO_MODEL) as sim:
        quotas = {**_quotas(tokens_per_day=1_000_000), "on_store_error": mode}
        store = {"kind": "redis", "url": redis.url}
        with running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}], quotas=quotas, store=store
        ) as gw:
            assert _chat(gw, max_tokens=2).status_code == 200  # the key is cached from here on
            # This test's Redis keeps nothing on disk: save what it holds, as a production Redis
            # with persistence would, so that keys and budgets are there again after the restart.
            asyncio.run(_save(redis.url))
            redis.stop()
            during = [_chat(gw, max_tokens=2) for _ in range(3)]
            if mode == "fail_closed":
                assert {response.status_code for response in during} == {503}
                error = during[0].json()["error"]
                assert error["code"] in ("quota_unavailable", "authentication_unavailable")
                assert "Traceback" not in error["message"]
            else:
                assert {response.status_code for response in during} == {200}
            redis.start()
            assert wait_for(lambda: _chat(gw, max_tokens=2).status_code == 200, 10.0), "no recovery"

            async def used_today() -> int:
                ledger = RedisLedger.from_url(redis.url)
                try:
                    plan = Planner(gw.state.config.quotas).plan(
                        DEPARTMENT, SERVICE, "", SOLO_MODEL, 0, 0, time.time()
                    )
                    return max(await ledger.usage(plan))
                finally:
                    await ledger.close()

            if mode == "fail_open":
                # Redis forgot everything (it keeps nothing on disk here): what it holds now is what
                # the gateway replayed from the outage, plus the request after it.
                assert wait_for(lambda: asyncio.run(used_today()) > 0, 10.0)
