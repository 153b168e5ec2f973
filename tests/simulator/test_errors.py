"""vLLM's error answers: bodies, types and status codes."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from tests.simulator.conftest import StartSimulator
from tests.simulator.helpers import CHAT_PATH, chat_body, json_events, stats
from tests.waiting import wait_for

QUEUE_FULL = "The engine is currently busy and cannot accept new requests. Please try again later or on a different instance."


def test_unknown_model_is_404(client: httpx.Client) -> None:
    response = client.post(CHAT_PATH, json=chat_body(model="nope"))

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "The model `nope` does not exist. Valid aliases: test-model.",
            "type": "NotFoundError",
            "param": "model",
            "code": 404,
        }
    }


def test_unknown_model_raises_not_found_in_the_sdk(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])


def test_prompt_over_the_context_is_400(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(max_model_len=32), timeout=10.0) as http:
        response = http.post(CHAT_PATH, json=chat_body("word " * 40))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "BadRequestError"
    assert error["code"] == 400
    assert error["param"] == "input_tokens"
    assert error["message"].startswith(
        "This model's maximum context length is 32 tokens. However, your prompt contains "
    )
    assert (
        "input tokens, which exceeds this limit even without any output tokens. Please reduce the length of the "
        in (error["message"])
    )


def test_negative_max_tokens_is_400(client: httpx.Client) -> None:
    response = client.post(CHAT_PATH, json=chat_body(max_tokens=-1))

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "max_tokens must be at least 1, got -1. (parameter=max_tokens, value=-1)",
            "type": "BadRequestError",
            "param": "max_tokens",
            "code": 400,
        }
    }


def test_schema_errors_are_400_not_422(client: httpx.Client) -> None:
    missing = client.post(CHAT_PATH, json={"model": "test-model"})
    wrong_type = client.post(CHAT_PATH, json=chat_body(n="many"))
    not_json = client.post(CHAT_PATH, content=b"{not json", headers={"content-type": "application/json"})

    for response in (missing, wrong_type, not_json):
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "Bad Request"
        assert response.json()["error"]["message"].startswith("1 validation error:\n")
    # vLLM 0.32 writes `loc` dotted, summarises containers, and names the first `loc` as `param`.
    assert missing.json()["error"] == {
        "message": "1 validation error:\n  {'type': 'missing', 'loc': 'body.messages', 'msg': 'Field required', "
        "'input': '<dict of 1 items>'}",
        "type": "Bad Request",
        "param": "body.messages",
        "code": 400,
    }
    assert "'loc': 'body.n'" in wrong_type.json()["error"]["message"]
    assert wrong_type.json()["error"]["param"] == "body.n"
    assert "json_invalid" in not_json.json()["error"]["message"]
    assert not_json.json()["error"]["param"] == "body.1"  # where parsing stopped


def test_model_validator_errors_name_their_parameter(client: httpx.Client) -> None:
    response = client.post(CHAT_PATH, json=chat_body(top_logprobs=2))

    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "when using `top_logprobs`, `logprobs` must be set to true. (parameter=top_logprobs)",
        "type": "BadRequestError",
        "param": "top_logprobs",
        "code": 400,
    }


def test_wrong_content_type_is_rejected(client: httpx.Client) -> None:
    response = client.post(CHAT_PATH, content=b'{"messages": []}', headers={"content-type": "text/plain"})

    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed",
        "type": "Bad Request",
        "param": None,
        "code": 400,
    }


def test_wrong_task_is_fastapis_404(client: httpx.Client, start_simulator: StartSimulator) -> None:
    # vLLM registers only the routes of its model's kind: the process serving a pooling model has no chat
    # route, the one serving a generative model no embeddings route. One simulator serving both kinds
    # answers a model of the other kind the same way.
    chat_on_embedder = client.post(CHAT_PATH, json=chat_body(model="test-embed"))
    embed_on_generator = client.post("/v1/embeddings", json={"model": "test-model", "input": "x"})
    with (
        httpx.Client(base_url=start_simulator(models=()), timeout=10.0) as pooling_only,
        httpx.Client(base_url=start_simulator(embedding_models=()), timeout=10.0) as generative_only,
    ):
        chat_without_generation = pooling_only.post(CHAT_PATH, json=chat_body())
        responses_without_generation = pooling_only.post("/v1/responses", json={"input": "x"})
        embed_without_pooling = generative_only.post("/v1/embeddings", json={"input": "x"})
        still_served = pooling_only.post("/v1/embeddings", json={"input": "x"})

    for response in (
        chat_on_embedder,
        embed_on_generator,
        chat_without_generation,
        responses_without_generation,
        embed_without_pooling,
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}
    assert still_served.status_code == 200


def test_api_key_guards_only_v1_paths(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(api_key="secret"), timeout=10.0) as http:
        missing = http.get("/v1/models")
        wrong = http.get("/v1/models", headers={"authorization": "Bearer nope"})
        right = http.get("/v1/models", headers={"authorization": "Bearer secret"})
        health = http.get("/health")
        metrics = http.get("/metrics")

    assert missing.status_code == 401
    assert missing.json() == {"error": "Unauthorized"}
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert health.status_code == 200
    assert metrics.status_code == 200


def test_unknown_route_and_wrong_method(client: httpx.Client) -> None:
    unknown = client.get("/v1/nothing-here")
    wrong_method = client.get(CHAT_PATH)

    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Not Found"}
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"detail": "Method Not Allowed"}


def test_queue_full_is_503(start_simulator: StartSimulator) -> None:
    base_url = start_simulator(max_num_seqs=1, max_queue=1)

    async def scenario() -> httpx.Response:
        async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as slow:
            slow_calls = [
                asyncio.create_task(
                    slow.post(CHAT_PATH, json=chat_body(), headers={"x-sim-delay-ms": "5000"})
                )
                for _ in range(2)
            ]
            try:
                async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as probe:
                    for _ in range(250):  # bounded: 5 s
                        current = (await probe.get("/sim/stats")).json()
                        if current["running"] == 1 and current["waiting"] == 1:
                            break
                        await asyncio.sleep(0.02)
                    return await probe.post(CHAT_PATH, json=chat_body())
            finally:
                for call in slow_calls:
                    call.cancel()
                await asyncio.gather(*slow_calls, return_exceptions=True)

    rejected = asyncio.run(scenario())

    assert rejected.status_code == 503
    assert rejected.json() == {
        "error": {"message": QUEUE_FULL, "type": "Service Unavailable", "param": None, "code": 503}
    }
    with httpx.Client(base_url=base_url, timeout=10.0) as http:
        # The two slow requests were cancelled by their client: both count as aborted, the slots are free.
        assert wait_for(lambda: stats(http)["aborted"] == 2, 5.0)
        assert stats(http)["running"] == 0
        assert stats(http)["waiting"] == 0


def test_forced_status_header(client: httpx.Client) -> None:
    unavailable = client.post(CHAT_PATH, json=chat_body(), headers={"x-sim-force-status": "503"})
    too_many = client.post(CHAT_PATH, json=chat_body(), headers={"x-sim-force-status": "429"})
    internal = client.post("/v1/completions", json={"prompt": "x"}, headers={"x-sim-force-status": "500"})

    assert unavailable.status_code == 503
    assert unavailable.json()["error"]["message"] == QUEUE_FULL
    assert too_many.status_code == 429
    assert too_many.json()["error"]["code"] == 429
    assert internal.status_code == 500
    assert internal.json()["error"]["type"] == "InternalServerError"


def test_error_rate_one_fails_every_generation(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(error_rate=1.0), timeout=10.0) as http:
        plain = http.post(CHAT_PATH, json=chat_body())
        with http.stream("POST", CHAT_PATH, json=chat_body(stream=True)) as streamed:
            stream_status = streamed.status_code
            raw = streamed.read().decode()
        metrics = http.get("/metrics").text

    assert plain.status_code == 500
    assert plain.json() == {
        "error": {
            "message": "Internal server error",
            "type": "InternalServerError",
            "param": None,
            "code": 500,
        }
    }
    # After the stream started vLLM can only report the error inside it, on HTTP 200.
    assert stream_status == 200
    events = json_events(raw)
    assert events[-1] == {
        "error": {
            "message": "Internal server error",
            "type": "InternalServerError",
            "param": None,
            "code": 500,
        }
    }
    assert 'data: {"error": {"message": "Internal server error"' in raw  # json.dumps spacing, as vLLM
    assert (
        'vllm:request_success_total{engine="0",finished_reason="error",model_name="test-model"} 2.0'
        in metrics
    )


def test_error_rate_is_seeded(start_simulator: StartSimulator) -> None:
    outcomes = []
    for _ in range(2):
        with httpx.Client(base_url=start_simulator(error_rate=0.5, seed=3), timeout=10.0) as http:
            outcomes.append(
                [http.post(CHAT_PATH, json=chat_body(max_tokens=1)).status_code for _ in range(20)]
            )

    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 500}


def test_playing_dead(client: httpx.Client) -> None:
    assert client.get("/health").status_code == 200

    assert client.post("/sim/dead", json={"dead": True}).json() == {"dead": True}
    dead_health = client.get("/health")
    dead_chat = client.post(CHAT_PATH, json=chat_body())
    client.post("/sim/dead", json={"dead": False})
    alive_chat = client.post(CHAT_PATH, json=chat_body())

    assert dead_health.status_code == 503
    assert dead_health.content == b""
    assert dead_chat.status_code == 500
    assert dead_chat.json()["error"] == {
        "message": "EngineCore encountered an issue. See stack trace (above) for the root cause.",
        "type": "InternalServerError",
        "param": None,
        "code": 500,
    }
    assert client.get("/health").status_code == 200
    assert alive_chat.status_code == 200


def test_engine_death_mid_stream_is_reported_inside_the_stream(start_simulator: StartSimulator) -> None:
    base_url = start_simulator(itl_ms=20.0)
    with httpx.Client(base_url=base_url, timeout=10.0) as http:
        with http.stream("POST", CHAT_PATH, json=chat_body(stream=True, max_tokens=200)) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")
            assert response.status_code == 200
            http.post("/sim/dead", json={"dead": True})
            rest = [line for line in lines if line]
        load_while_dead = http.get("/load").json()

    assert rest[-1] == "data: [DONE]"
    assert rest[-2].startswith('data: {"error": {"message": "EngineCore encountered an issue.')
    assert len(rest) < 200
    assert load_while_dead == {"server_load": 0}


@pytest.mark.parametrize(("path", "body"), [(CHAT_PATH, chat_body()), ("/v1/completions", {"prompt": "x"})])
def test_more_choices_than_the_engine_can_hold_are_refused_at_once(
    start_simulator: StartSimulator, path: str, body: dict[str, object]
) -> None:
    # vLLM sets no upper bound of its own on `n`; the simulator must still never try to plan 10**18
    # choices (it hung doing so). Its bound is every slot and queue place it has: 4 + 2 here.
    with httpx.Client(base_url=start_simulator(max_num_seqs=4, max_queue=2), timeout=10.0) as http:
        refused = http.post(path, json={"model": "test-model", **body, "n": 10**18})
        too_many = http.post(path, json={"model": "test-model", **body, "n": 7})
        allowed = http.post(path, json={"model": "test-model", **body, "n": 6, "max_tokens": 2})

    for response in (refused, too_many):
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == "n"
        assert error["message"].startswith("n must be at most 6, got ")
    assert allowed.status_code == 200
    assert len(allowed.json()["choices"]) == 6
