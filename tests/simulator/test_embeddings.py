"""Embeddings: shapes, encodings, determinism."""

from __future__ import annotations

import base64
import math
import struct

import httpx
import openai

from tests.simulator.conftest import StartSimulator

EMBEDDINGS_PATH = "/v1/embeddings"


def test_float_embeddings_with_the_sdk(sdk: openai.OpenAI) -> None:
    response = sdk.embeddings.create(
        model="test-embed", input=["first text", "second text"], encoding_format="float"
    )

    assert response.object == "list"
    assert response.model == "test-embed"
    assert [item.index for item in response.data] == [0, 1]
    for item in response.data:
        assert len(item.embedding) == 384
        assert math.isclose(math.fsum(value * value for value in item.embedding), 1.0, rel_tol=1e-9)
    assert response.data[0].embedding != response.data[1].embedding
    assert response.usage.prompt_tokens == response.usage.total_tokens == 6


def test_base64_is_little_endian_float32_of_the_same_vector(client: httpx.Client) -> None:
    as_floats = client.post(EMBEDDINGS_PATH, json={"input": "hello", "encoding_format": "float"}).json()
    as_base64 = client.post(EMBEDDINGS_PATH, json={"input": "hello", "encoding_format": "base64"}).json()

    raw = base64.b64decode(as_base64["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    expected = as_floats["data"][0]["embedding"]
    assert len(decoded) == len(expected)
    assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(decoded, expected, strict=True))
    assert as_base64["id"].startswith("embd-")
    assert as_base64["usage"] == {
        "prompt_tokens": 2,
        "total_tokens": 2,
        "completion_tokens": 0,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def test_same_input_same_vector_and_token_inputs(client: httpx.Client) -> None:
    first = client.post(EMBEDDINGS_PATH, json={"input": "stable"}).json()["data"][0]["embedding"]
    second = client.post(EMBEDDINGS_PATH, json={"input": "stable"}).json()["data"][0]["embedding"]
    tokens = client.post(EMBEDDINGS_PATH, json={"input": [[1000, 1001], [1002]]}).json()

    assert first == second
    assert len(tokens["data"]) == 2
    assert tokens["usage"]["prompt_tokens"] == 3


def test_embedding_dimension_flag_and_bad_format(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(embedding_dim=8), timeout=10.0) as http:
        vector = http.post(EMBEDDINGS_PATH, json={"input": "x"}).json()["data"][0]["embedding"]
        bad_format = http.post(EMBEDDINGS_PATH, json={"input": "x", "encoding_format": "hex"})

    assert len(vector) == 8
    assert bad_format.status_code == 400
    assert bad_format.json()["error"]["type"] == "Bad Request"


def test_long_input_is_400(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(max_model_len=16), timeout=10.0) as http:
        # 20 words, the trailing space and the beginning-of-sequence token: 22 tokens in 100 characters.
        too_many_tokens = http.post(EMBEDDINGS_PATH, json={"input": "word " * 20})
        # More than 10 characters per token of the context: refused without being counted.
        too_many_characters = http.post(EMBEDDINGS_PATH, json={"input": "w" * 161})

    assert too_many_tokens.status_code == 400
    assert too_many_tokens.json()["error"] == {
        "message": "This model's maximum context length is 16 tokens. However, your prompt contains at least 17 "
        "input tokens, which exceeds this limit even without any output tokens. Please reduce the length of the "
        "input prompt. (parameter=input_tokens, value=17)",
        "type": "BadRequestError",
        "param": "input_tokens",
        "code": 400,
    }
    assert too_many_characters.status_code == 400
    assert too_many_characters.json()["error"]["param"] == "input_text"
    assert too_many_characters.json()["error"]["message"].startswith(
        "This model's maximum context length is 16 tokens. However, your prompt contains 161 characters "
        "(more than 160 characters, which is the upper bound for 16 input tokens)."
    )
