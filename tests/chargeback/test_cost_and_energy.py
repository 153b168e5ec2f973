"""Each request's cost and energy through a running gateway: headers, the answer's `usage` (read by
the openai SDK), the usage record, the audit line, the metrics."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx
import openai
import pytest

from gateway.app import create_app
from gateway.audit import verify_chain
from gateway.metering import open_usage_store
from gateway.request_record import RequestRecord
from tests.gateway.conftest import (
    CHAT_MODEL,
    DEPARTMENT,
    SERVICE,
    gateway_config,
    issue_key,
    running_simulator,
)
from tests.gateway.test_metrics_endpoint import _samples, _value
from tests.servers import serve_in_thread

UNSIZED = "unsized-model"
PRICES = {"price_per_million_input": "2", "price_per_million_output": "6"}


def test_cost_and_energy_are_in_headers_usage_records_audit_and_metrics() -> None:
    with (
        running_simulator(CHAT_MODEL, UNSIZED) as sim,
        tempfile.TemporaryDirectory() as folder,
    ):
        audit_path = Path(folder) / "audit.jsonl"
        config = gateway_config(
            [{"name": CHAT_MODEL, "backends": [{"url": sim}]}, {"name": UNSIZED, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            audit={"enabled": True, "path": str(audit_path), "hash_chain": True},
            metrics={"allow_anonymous": True},
            quotas={
                "models": {CHAT_MODEL: {**PRICES, "active_parameters_billions": 7}, UNSIZED: PRICES},
                "usage_fields_in_answer": True,
            },
        )
        key = issue_key(config)
        with (
            serve_in_thread(create_app(config)) as url,
            openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0) as client,
        ):
            raw = client.chat.completions.with_raw_response.create(
                model=CHAT_MODEL, messages=[{"role": "user", "content": "Bonjour"}], max_tokens=40
            )
            answer = raw.parse()
            assert answer.usage is not None and answer.usage.completion_tokens > 0
            usage = answer.usage
            expected_eur = (usage.prompt_tokens * 2 + usage.completion_tokens * 6) / 1e6
            assert float(raw.headers["x-gateway-cost-eur"]) == pytest.approx(expected_eur, abs=1e-6)
            energy_wh = float(raw.headers["x-gateway-energy-wh"])
            assert energy_wh > 0
            extra = usage.model_extra or {}
            assert extra["cost_eur"] == pytest.approx(expected_eur, abs=1e-6)
            assert extra["energy_wh"] == pytest.approx(energy_wh, rel=1e-5) and extra["emissions_gco2eq"] > 0

            unsized = client.chat.completions.with_raw_response.create(
                model=UNSIZED, messages=[{"role": "user", "content": "Bonjour"}], max_tokens=10
            )
            assert "x-gateway-cost-eur" in unsized.headers and "x-gateway-energy-wh" not in unsized.headers
            assert "energy_wh" not in (unsized.parse().usage.model_extra or {})  # type: ignore[union-attr]

            with client.chat.completions.with_streaming_response.create(
                model=CHAT_MODEL, messages=[{"role": "user", "content": "Salut"}], stream=True, max_tokens=20
            ) as streamed:
                stream_id = streamed.headers["x-request-id"]
                for _ in streamed.iter_lines():
                    pass

            # A stream whose client asked for its usage gets the same fields in its usage chunk.
            chunks = list(
                client.chat.completions.create(
                    model=CHAT_MODEL,
                    messages=[{"role": "user", "content": "Salut"}],
                    stream=True,
                    max_tokens=20,
                    stream_options={"include_usage": True},
                )
            )
            last = chunks[-1]
            assert last.usage is not None and last.usage.completion_tokens > 0
            streamed_extra = last.usage.model_extra or {}
            assert streamed_extra["cost_eur"] > 0 and streamed_extra["energy_wh"] > 0
            assert all(chunk.usage is None for chunk in chunks[:-1])

            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # accounting ends after the answer is sent
                samples = _samples(url)
                if _value(samples, "gateway_requests_total", status="200") == 4:
                    break
                time.sleep(0.05)
            mine = {"department": DEPARTMENT, "service": SERVICE, "model": CHAT_MODEL}
            assert _value(samples, "gateway_energy_wh_total", **mine) > energy_wh
            assert _value(samples, "gateway_emissions_gco2eq_total", **mine) > 0
            assert _value(samples, "gateway_cost_eur_total", **mine) > expected_eur
            assert _value(samples, "gateway_energy_wh_total", model=UNSIZED) == 0

        async def read_usage() -> list[RequestRecord]:
            store = await open_usage_store(config.store, config.metering, read_only=True)
            try:
                return [record async for record in store.records(store.calendar.current())]
            finally:
                await store.close()

        records = {record.request_id: record for record in asyncio.run(read_usage())}
        first = records[raw.headers["x-request-id"]]
        assert first.cost_eur == pytest.approx(expected_eur) and first.energy_wh == pytest.approx(
            energy_wh, rel=1e-5
        )
        assert records[stream_id].energy_wh > 0 and records[stream_id].emissions_gco2eq > 0
        assert records[unsized.headers["x-request-id"]].energy_wh == 0

        lines = {line["request_id"]: line for line in map(json.loads, audit_path.read_bytes().splitlines())}
        assert lines[raw.headers["x-request-id"]]["energy_wh"] == pytest.approx(energy_wh, rel=1e-5)
        assert "energy_wh" not in lines[unsized.headers["x-request-id"]]  # the line as it always was
        assert verify_chain([audit_path]).intact


def test_answers_keep_their_usage_untouched_by_default() -> None:
    with running_simulator(CHAT_MODEL) as sim, tempfile.TemporaryDirectory() as folder:
        config = gateway_config(
            [{"name": CHAT_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            quotas={"models": {CHAT_MODEL: {**PRICES, "active_parameters_billions": 7}}},
        )
        key = issue_key(config)
        with serve_in_thread(create_app(config)) as url:
            reply = httpx.post(
                f"{url}/v1/chat/completions",
                json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 5},
                headers={"authorization": f"Bearer {key}"},
                timeout=10,
            )
        assert reply.status_code == 200
        assert not {"cost_eur", "energy_wh", "emissions_gco2eq"} & set(reply.json()["usage"])
        assert float(reply.headers["x-gateway-energy-wh"]) > 0
