"""What a careless or hostile client sends gets a clear OpenAI-style error, never a traceback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Deployment


def _post(deployment: Deployment, path: str, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{deployment.gateway.v1}{path}",
        content=content,
        headers={"content-type": "application/json", **deployment.gateway.headers, **headers},
        timeout=30,
    )


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in error["message"]
    return error


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model", "'model'"),
        (b'{"model": 42, "messages": []}', "model", "expected a string"),
        (b'{"model": "mistral-small", "messages": "bonjour"}', "messages", "expected an array"),
        (b'{"model": "mistral-small"}', "messages", "'messages'"),
        (b'{"model": "mistral-small", "messages": []}', "messages", "empty array"),
        (b'{"model": "mistral-small", "messages": ["x"]}', "messages[0]", "expected an object"),
        (b'{"model": "mistral-small", "messages": [{"content": "x"}]}', "messages[0].role", "role"),
        (
            b'{"model": "mistral-small", "messages": [{"role": "user", "content": 3}]}',
            "messages[0].content",
            "content",
        ),
        (
            b'{"model": "mistral-small", "messages": [{"role":"user","content":"x"}], "max_tokens": -1}',
            "max_tokens",
            ">= 1",
        ),
        (
            b'{"model": "mistral-small", "messages": [{"role":"user","content":"x"}], "max_tokens": "9"}',
            "max_tokens",
            "integer",
        ),
        (
            b'{"model": "mistral-small", "messages": [{"role":"user","content":"x"}], "stream": "yes"}',
            "stream",
            "boolean",
        ),
        (b'{"model": "mistral-small", "messages": [{"role":"user","content":"x"}], "n": 0}', "n", ">= 1"),
        (
            b'{"model": "mistral-small", "messages": [{"role":"user","content":"x"}], "stream_options": 1}',
            "stream_options",
            "object",
        ),
    ],
)
def test_invalid_fields_are_named(deployment: Deployment, body: bytes, param: str, fragment: str) -> None:
    error = _error(_post(deployment, "/chat/completions", body), 400)
    assert error["param"] == param
    assert fragment in error["message"]
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json at all", "not valid JSON"),
        (b'{"model": "mistral-small", "messages": [', "not valid JSON"),
        (b'{"model": "mistral-small", "x": "\xff\xfe"}', "UTF-8"),
        (b"[1, 2, 3]", "JSON object"),
        (b"", "empty"),
        (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    ],
)
def test_malformed_bodies(deployment: Deployment, body: bytes, fragment: str) -> None:
    error = _error(_post(deployment, "/chat/completions", body), 400)
    assert fragment in error["message"]


def test_completions_and_embeddings_need_their_input(deployment: Deployment) -> None:
    error = _error(_post(deployment, "/completions", b'{"model": "mistral-small"}'), 400)
    assert error["param"] == "prompt"
    error = _error(_post(deployment, "/embeddings", b'{"model": "bge-m3", "input": 5}'), 400)
    assert error["param"] == "input"


def test_unknown_model_is_404(deployment: Deployment) -> None:
    error = _error(_post(deployment, "/embeddings", b'{"model": "nope", "input": "x"}'), 404)
    assert error["code"] == "model_not_found"
    assert error["param"] == "model"


def test_body_over_the_limit_is_413(deployment: Deployment) -> None:
    big = (
        b'{"model": "mistral-small", "messages": [{"role": "user", "content": "'
        + b"a" * (100 * 1024 * 1024)
        + b'"}]}'
    )
    error = _error(_post(deployment, "/chat/completions", big), 413)
    assert error["code"] == "request_too_large"


def test_unknown_route_and_wrong_method(deployment: Deployment) -> None:
    error = _error(
        httpx.get(f"{deployment.gateway.v1}/chat/completion", headers=deployment.gateway.headers, timeout=5),
        404,
    )
    assert error["code"] == "unknown_url"
    error = _error(
        httpx.get(f"{deployment.gateway.v1}/chat/completions", headers=deployment.gateway.headers, timeout=5),
        405,
    )
    assert error["code"] == "method_not_allowed"


def test_backend_validation_errors_are_relayed(deployment: Deployment) -> None:
    # Fields the gateway does not check are vLLM's to judge; its 400 comes back as it was.
    body = b'{"model": "llama-3.1-8b", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}'
    response = _post(deployment, "/chat/completions", body)
    assert response.status_code == 400
    assert "temperature" in response.text


def test_errors_carry_a_request_id(deployment: Deployment) -> None:
    response = _post(
        deployment, "/chat/completions", b'{"model": "nope", "messages": [{"role":"user","content":"x"}]}'
    )
    assert response.status_code == 404
    assert response.headers["x-request-id"].startswith("req-")
