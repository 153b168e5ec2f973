"""A model name is the client's own string: it reaches no log, audit record or trace unless it names a
configured model, and is never echoed back unbounded."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.trace import SpanKind

from tests.gateway.conftest import SOLO_MODEL, running_gateway, running_simulator
from tests.gateway.test_tracing import traced_gateway

IBAN = "FR7630006000011234567890189"
HUGE_NAME = "m" * 1_000_000
IBAN_NAME = f"virement {IBAN}"


def _chat(v1: str, headers: dict[str, str], model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "Bonjour"}], "max_tokens": 2}
    return httpx.post(f"{v1}/chat/completions", json=body, headers=headers, timeout=30)


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert len(response.content) < 1024  # whatever the client sent, the answer stays short
    error: dict[str, Any] = response.json()["error"]
    assert error["param"] == "model"
    return error


def test_unknown_model_names_are_bounded_and_recorded_as_unknown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with tempfile.TemporaryDirectory() as folder:
        audit = Path(folder, "audit.jsonl")
        with (
            running_simulator(SOLO_MODEL) as sim,
            running_gateway(
                [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
                pii={"mode": "pseudonymize", "names": "off"},
                audit={"enabled": True, "path": str(audit)},
            ) as gw,
        ):
            error = _error(_chat(gw.v1, gw.headers, HUGE_NAME), 400)
            assert error["type"] == "invalid_request_error"
            assert "maximum length 256" in error["message"]
            assert _error(_chat(gw.v1, gw.headers, IBAN_NAME), 404)["code"] == "model_not_found"
            assert _chat(gw.v1, gw.headers, SOLO_MODEL).status_code == 200
        lines = audit.read_text(encoding="utf-8").splitlines()

    records = [json.loads(line) for line in lines]
    assert [(record["status"], record["model"]) for record in records] == [
        (400, "unknown"),
        (404, "unknown"),
        (200, SOLO_MODEL),
    ]
    assert all(len(line) < 1024 for line in lines)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert IBAN not in logged and "m" * 300 not in logged


def test_an_unknown_model_name_never_reaches_a_trace() -> None:
    with traced_gateway() as traced:
        with pytest.raises(Exception, match="does not exist"):
            traced.client().chat.completions.create(
                model=IBAN_NAME, messages=[{"role": "user", "content": "Bonjour"}]
            )
        (server,) = [span for span in traced.spans(1) if span.kind is SpanKind.SERVER]
    attributes = dict(server.attributes or {})
    assert attributes["gen_ai.request.model"] == "unknown"
    assert not any(IBAN in str(value) for value in attributes.values())
    assert IBAN not in server.name
