"""Anthropic's Messages API through the gateway: keys in `x-api-key`, Anthropic's error shape on every
refusal, usage metered whole and streamed, personal data pseudonymized and restored (streams too).

Anthropic's own SDK is the client where its users would call the gateway through it; httpx where a
test needs the raw bytes (the exact error body, the order of a stream's events).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.gateway.conftest import (
    DEPARTMENT,
    SOLO_MODEL,
    RunningGateway,
    issue_key,
    last_request,
    running_gateway,
    running_simulator,
)

EMAIL = "claire.dupont@interieur.gouv.fr"
PROMPT = f"Répondre à {EMAIL} avant vendredi."
# The default policy denies the test key's service every `mistral-large*` model.
DENIED_MODEL = "mistral-large"
# A service of the department with a small daily budget, for the quota refusal.
SMALL_SERVICE = "petit-budget"
BUDGET = 100


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, RunningGateway]]:
    """An echo simulator (it answers the last user message) behind a gateway that pseudonymizes
    e-mail addresses, and gives `SMALL_SERVICE` a small daily token budget."""
    with (
        running_simulator(SOLO_MODEL, DENIED_MODEL, mode="echo") as sim,
        running_gateway(
            [
                {"name": SOLO_MODEL, "backends": [{"url": sim}]},
                {"name": DENIED_MODEL, "backends": [{"url": sim}]},
            ],
            pii={"mode": "pseudonymize", "names": "off"},
            quotas={"services": {f"{DEPARTMENT}/{SMALL_SERVICE}": {"tokens_per_day": BUDGET}}},
        ) as gw,
    ):
        yield sim, gw


def _headers(gw: RunningGateway) -> dict[str, str]:
    """What Anthropic's SDK sends."""
    return {"x-api-key": gw.api_key, "anthropic-version": "2023-06-01"}


def _body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": SOLO_MODEL,
        "max_tokens": 64,
        "system": f"Signé {EMAIL}",
        "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}],
    }
    body.update(fields)
    return body


def _post(gw: RunningGateway, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{gw.v1}/messages", json=body, headers=headers or _headers(gw), timeout=30)


def _events(gw: RunningGateway, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A stream's events as Anthropic's SDK reads them: `event:` names and `data:` documents."""
    with httpx.stream(
        "POST", f"{gw.v1}/messages", json={**body, "stream": True}, headers=_headers(gw), timeout=30
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def _assert_anthropic_error(response: httpx.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and set(body) == {"type", "error"}, body
    assert body["error"]["type"] == error_type, body
    message: str = body["error"]["message"]
    assert message
    return message


def test_answer_is_pseudonymized_upstream_and_restored(served: tuple[str, RunningGateway]) -> None:
    sim, gw = served
    response = _post(gw, _body())
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["type"] == "message" and answer["content"][0]["text"] == PROMPT
    assert answer["usage"]["input_tokens"] > 0 and answer["usage"]["output_tokens"] > 0
    seen = last_request(sim)
    assert seen["path"] == "/v1/messages"
    sent = json.loads(seen["body"])
    assert sent["system"] == "Signé <EMAIL_1>"
    assert sent["messages"][0]["content"][0]["text"] == "Répondre à <EMAIL_1> avant vendredi."
    # Neither the gateway's key nor Anthropic's headers go to the backend.
    assert not {"x-api-key", "authorization", "anthropic-version"} & set(seen["headers"])
    assert gw.api_key not in json.dumps(seen)


def test_stream_is_restored_across_deltas_and_ends_cleanly(served: tuple[str, RunningGateway]) -> None:
    _, gw = served
    events = _events(gw, _body())
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    deltas = [data["delta"]["text"] for name, data in events if name == "content_block_delta"]
    assert "".join(deltas) == PROMPT  # what Anthropic's `text_stream` yields
    # The simulator writes the placeholder in several tokens: its pieces were held back, and the
    # address went out whole, never a piece of a placeholder.
    assert not any("<" in delta or "EMAIL" in delta for delta in deltas)
    assert any(EMAIL in delta for delta in deltas)
    assert names.index("content_block_stop") > max(
        i for i, name in enumerate(names) if name == "content_block_delta"
    )
    assert events[-2][1]["usage"]["output_tokens"] > 0


def test_count_tokens(served: tuple[str, RunningGateway]) -> None:
    _, gw = served
    body = _body()
    del body["max_tokens"]
    response = httpx.post(f"{gw.v1}/messages/count_tokens", json=body, headers=_headers(gw), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["input_tokens"] > 0
    streamed = httpx.post(
        f"{gw.v1}/messages/count_tokens", json={**body, "stream": True}, headers=_headers(gw), timeout=30
    )
    _assert_anthropic_error(streamed, 400, "invalid_request_error")


def test_the_bearer_header_keeps_working(served: tuple[str, RunningGateway]) -> None:
    _, gw = served
    assert _post(gw, _body(), gw.headers).status_code == 200


def test_gateway_refusals_in_anthropic_shape(served: tuple[str, RunningGateway]) -> None:
    _, gw = served
    missing = _body()
    del missing["max_tokens"]
    assert "max_tokens" in _assert_anthropic_error(_post(gw, missing), 400, "invalid_request_error")
    _assert_anthropic_error(_post(gw, _body(max_tokens=0)), 400, "invalid_request_error")
    _assert_anthropic_error(_post(gw, _body(max_tokens="many")), 400, "invalid_request_error")
    _assert_anthropic_error(_post(gw, _body(messages=[])), 400, "invalid_request_error")
    bad_key = _post(gw, _body(), {"x-api-key": "sgw_nope_nope", "anthropic-version": "2023-06-01"})
    _assert_anthropic_error(bad_key, 401, "authentication_error")
    _assert_anthropic_error(
        _post(gw, _body(), {"anthropic-version": "2023-06-01"}), 401, "authentication_error"
    )
    _assert_anthropic_error(_post(gw, _body(model="nope")), 404, "not_found_error")
    denied = _post(gw, _body(model=DENIED_MODEL))
    assert DENIED_MODEL in _assert_anthropic_error(denied, 403, "permission_error")
    small = issue_key(gw.state.config, DEPARTMENT, SMALL_SERVICE)
    too_much = _post(gw, _body(max_tokens=BUDGET), {"x-api-key": small})
    assert "limit" in _assert_anthropic_error(too_much, 429, "rate_limit_error")
    assert too_much.headers["x-ratelimit-limit-tokens"]


def test_backend_refusals_in_anthropic_shape(served: tuple[str, RunningGateway]) -> None:
    _, gw = served
    # vLLM's serving layer answers this one in Anthropic's shape with its own class name as type...
    too_long = _post(gw, _body(max_tokens=9000))
    assert "max_model_len" in _assert_anthropic_error(too_long, 400, "invalid_request_error")
    # ...and its schema validation in OpenAI's shape.
    _assert_anthropic_error(_post(gw, _body(temperature="hot")), 400, "invalid_request_error")


def test_a_broken_stream_ends_with_an_anthropic_error_event(served: tuple[str, RunningGateway]) -> None:
    _, gw = served
    events = _events(gw, _body(vllm_xargs={"sim_break_after": 3}))
    name, data = events[-1]
    assert name == "error" and data == {
        "type": "error",
        "error": {"type": "api_error", "message": data["error"]["message"]},
    }


def test_usage_is_metered_whole_and_streamed(tmp_path: Any) -> None:
    with (
        running_simulator(SOLO_MODEL) as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": str(tmp_path / "gateway.db")},
        ) as gw,
    ):
        body = {"model": SOLO_MODEL, "max_tokens": 12, "messages": [{"role": "user", "content": "deux mots"}]}
        usage = _post(gw, body).json()["usage"]
        reported = [usage["input_tokens"], usage["output_tokens"]]
        events = _events(gw, body)
        start, delta = events[0][1], events[-2][1]
        reported[0] += start["message"]["usage"]["input_tokens"]
        reported[1] += delta["usage"]["output_tokens"]
        count = httpx.post(
            f"{gw.v1}/messages/count_tokens",
            json={"model": SOLO_MODEL, "messages": body["messages"]},
            headers=_headers(gw),
            timeout=30,
        )
        assert count.status_code == 200  # counted as a request, charged no token

        admin = issue_key(gw.state.config, DEPARTMENT, "console-dgfip")
        rows: list[dict[str, Any]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # records are written in the background
            report = httpx.get(
                f"{gw.url}/admin/usage",
                params={"by": "department"},
                headers={"authorization": f"Bearer {admin}"},
                timeout=10,
            )
            rows = report.json()["rows"]
            if rows and rows[0]["requests"] == 3:
                break
            time.sleep(0.2)
        assert rows and rows[0]["requests"] == 3, rows
        assert [rows[0]["prompt_tokens"], rows[0]["completion_tokens"]] == reported
        assert all(reported)


# --- Anthropic's SDK pointed at the gateway: only `base_url` and the key change ---------------------


def _client(gw: RunningGateway, api_key: str | None = None) -> anthropic.Anthropic:
    # No retries: a refusal must reach the test as the SDK's own exception, sent once.
    return anthropic.Anthropic(base_url=gw.url, api_key=api_key or gw.api_key, max_retries=0)


def test_the_sdk_creates_a_message_with_personal_data_restored(served: tuple[str, RunningGateway]) -> None:
    sim, gw = served
    message = _client(gw).messages.create(
        model=SOLO_MODEL,
        max_tokens=64,
        system=f"Signé {EMAIL}",
        messages=[{"role": "user", "content": PROMPT}],
    )
    assert message.type == "message" and message.role == "assistant"
    text = message.content[0]
    assert isinstance(text, anthropic.types.TextBlock) and text.text == PROMPT
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    # What vLLM saw was the placeholder, never the address.
    assert EMAIL not in json.dumps(last_request(sim))


def test_the_sdk_streams_the_restored_text(served: tuple[str, RunningGateway]) -> None:
    _, gw = served
    with _client(gw).messages.stream(
        model=SOLO_MODEL, max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == PROMPT
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert final.usage.output_tokens > 0


def test_the_sdk_counts_tokens(served: tuple[str, RunningGateway]) -> None:
    _, gw = served
    counted = _client(gw).messages.count_tokens(
        model=SOLO_MODEL, messages=[{"role": "user", "content": "Bonjour, combien de jetons ?"}]
    )
    assert counted.input_tokens > 0


def test_the_sdk_raises_its_own_errors_for_the_gateways_refusals(
    served: tuple[str, RunningGateway],
) -> None:
    _, gw = served
    with pytest.raises(anthropic.AuthenticationError) as refused:
        _client(gw, api_key="sk-not-a-key").messages.create(
            model=SOLO_MODEL, max_tokens=8, messages=[{"role": "user", "content": "Bonjour"}]
        )
    assert refused.value.status_code == 401
    with pytest.raises(anthropic.PermissionDeniedError):
        _client(gw).messages.create(
            model=DENIED_MODEL, max_tokens=8, messages=[{"role": "user", "content": "Bonjour"}]
        )
    with pytest.raises(anthropic.NotFoundError):
        _client(gw).messages.create(
            model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "Bonjour"}]
        )
