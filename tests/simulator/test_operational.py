"""Models, health, version, load, tokenizer routes, metrics and the /sim/ control routes."""

from __future__ import annotations

import json

import httpx
import openai

from tests.simulator.conftest import StartSimulator
from tests.simulator.helpers import CHAT_PATH, chat_body, metric_value

LABELS = '{engine="0",model_name="test-model"}'


def test_models_list(sdk: openai.OpenAI, client: httpx.Client) -> None:
    ids = [model.id for model in sdk.models.list()]
    raw = client.get("/v1/models").json()

    assert ids == ["test-model", "test-embed"]
    assert raw["object"] == "list"
    card = raw["data"][0]
    assert card["object"] == "model"
    assert card["owned_by"] == "vllm"
    assert card["root"] == "test-model"
    assert card["parent"] is None
    assert card["max_model_len"] == 8192
    permission = card["permission"][0]
    assert permission["object"] == "model_permission"
    assert permission["id"].startswith("modelperm-")
    assert permission["allow_sampling"] is True


def test_health_version_ping_load(client: httpx.Client) -> None:
    health = client.get("/health")

    assert health.status_code == 200
    assert health.content == b""
    assert client.get("/version").json() == {"version": "0.32.0"}
    assert client.get("/ping").status_code == 200
    assert client.post("/ping").status_code == 200
    assert client.get("/load").json() == {"server_load": 0}


def test_tokenize_detokenize_round_trip(client: httpx.Client) -> None:
    text = "Hello world, internationalization is long!"
    tokenized = client.post("/tokenize", json={"prompt": text, "return_token_strs": True}).json()
    detokenized = client.post("/detokenize", json={"tokens": tokenized["tokens"]}).json()

    assert tokenized["count"] == len(tokenized["tokens"])
    assert tokenized["max_model_len"] == 8192
    assert tokenized["token_strs"][0] == "<s>"
    assert "".join(tokenized["token_strs"][1:]) == text
    assert detokenized == {"prompt": text}


def test_tokenize_and_detokenize_errors_as_vllm(client: httpx.Client) -> None:
    neither = client.post("/tokenize", json={"model": "test-model"})
    negative = client.post("/detokenize", json={"tokens": [-1]})
    unknown = client.post("/detokenize", json={"tokens": [10**9]})

    # The tokenize body is a union of a prompt body and a chat body: both miss their field.
    assert neither.status_code == 400
    assert neither.json()["error"]["param"] == "body.prompt"
    assert neither.json()["error"]["message"].startswith("2 validation errors:\n")
    assert "'loc': 'body.messages'" in neither.json()["error"]["message"]
    assert negative.status_code == 400
    assert negative.json()["error"]["param"] == "body.tokens.0"
    # An id past the vocabulary decodes to nothing.
    assert (unknown.status_code, unknown.json()) == (200, {"prompt": ""})


def test_stored_responses_are_never_found(client: httpx.Client) -> None:
    retrieved = client.get("/v1/responses/resp_0123")
    cancelled = client.post("/v1/responses/resp_0123/cancel")
    elsewhere = client.get("/v1/responses/resp_0123/other")

    for response in (retrieved, cancelled):
        assert response.status_code == 404
        assert response.json()["error"] == {
            "message": "Response with id 'resp_0123' not found.",
            "type": "invalid_request_error",
            "param": "response_id",
            "code": 404,
        }
    assert elsewhere.json() == {"detail": "Not Found"}


def test_tokenize_chat_counts_like_the_chat_route(client: httpx.Client) -> None:
    messages = [{"role": "user", "content": "How many tokens is this?"}]
    tokenized = client.post("/tokenize", json={"model": "test-model", "messages": messages}).json()
    completion = client.post(
        CHAT_PATH, json={"model": "test-model", "messages": messages, "max_tokens": 1}
    ).json()

    assert tokenized["count"] == completion["usage"]["prompt_tokens"]


def test_last_request_is_byte_exact(client: httpx.Client) -> None:
    raw_body = '{"model": "test-model",  "messages": [{"role": "user", "content": "caf\\u00e9 ☕"}], "x": 1}'
    client.post(
        CHAT_PATH,
        content=raw_body.encode(),
        headers={"content-type": "application/json", "X-Trace-Id": "abc"},
    )

    last = client.get("/sim/last-request").json()
    assert last["path"] == CHAT_PATH
    assert last["body"] == raw_body
    assert last["headers"]["x-trace-id"] == "abc"
    assert last["headers"]["content-type"] == "application/json"


def test_metrics_names_and_counters_move(client: httpx.Client) -> None:
    before = client.get("/metrics")
    client.post(CHAT_PATH, json=chat_body(max_tokens=5))
    client.post(CHAT_PATH, json=chat_body(max_tokens=5))
    after = client.get("/metrics").text

    assert before.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
    for name in (
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:num_requests_waiting_by_reason",
        "vllm:cache_config_info",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:request_success_total",
        "vllm:num_preemptions_total",
        "vllm:prefix_cache_queries_total",
        "vllm:prefix_cache_hits_total",
        "vllm:time_to_first_token_seconds",
        "vllm:inter_token_latency_seconds",
        "vllm:e2e_request_latency_seconds",
        "vllm:request_queue_time_seconds",
        "vllm:request_prompt_tokens",
        "vllm:request_generation_tokens",
    ):
        assert f"# TYPE {name} " in after, name
    assert "vllm:gpu_cache_usage_perc" not in after
    assert metric_value(before.text, f"vllm:generation_tokens_total{LABELS}") == 0.0
    assert metric_value(after, f"vllm:generation_tokens_total{LABELS}") == 10.0
    assert metric_value(after, f"vllm:prompt_tokens_total{LABELS}") > 0
    success = 'vllm:request_success_total{engine="0",finished_reason="length",model_name="test-model"}'
    assert metric_value(after, success) == 2.0
    waiting_capacity = (
        'vllm:num_requests_waiting_by_reason{engine="0",model_name="test-model",reason="capacity"}'
    )
    assert metric_value(after, waiting_capacity) == 0.0
    assert metric_value(after, f"vllm:e2e_request_latency_seconds_count{LABELS}") == 2.0
    assert (
        metric_value(
            after, 'vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="test-model"}'
        )
        == 2.0
    )
    # 4 inter-token gaps per 5-token answer.
    assert metric_value(after, f"vllm:inter_token_latency_seconds_count{LABELS}") == 8.0


def test_prefix_cache_hits_on_a_repeated_prompt(client: httpx.Client) -> None:
    system = "You are a helpful assistant for the ministry. " * 10
    for question in ("first question", "second question"):
        client.post(
            CHAT_PATH,
            json={
                "model": "test-model",
                "max_tokens": 1,
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}],
            },
        )

    metrics = client.get("/metrics").text
    assert metric_value(metrics, f"vllm:prefix_cache_hits_total{LABELS}") > 0
    assert metric_value(metrics, f"vllm:prefix_cache_hits_total{LABELS}") < metric_value(
        metrics, f"vllm:prefix_cache_queries_total{LABELS}"
    )


def test_legacy_metric_names(start_simulator: StartSimulator) -> None:
    with httpx.Client(base_url=start_simulator(legacy_metric_names=True), timeout=10.0) as http:
        http.post(CHAT_PATH, json=chat_body(max_tokens=3))
        metrics = http.get("/metrics").text

    assert "# TYPE vllm:gpu_cache_usage_perc gauge" in metrics
    assert "# TYPE vllm:time_per_output_token_seconds histogram" in metrics
    assert "vllm:kv_cache_usage_perc" not in metrics
    assert "vllm:inter_token_latency_seconds" not in metrics
    assert metric_value(metrics, f"vllm:time_per_output_token_seconds_count{LABELS}") == 2.0


def test_stats_count_requests(client: httpx.Client) -> None:
    client.post(CHAT_PATH, json=chat_body(max_tokens=1))
    client.post(CHAT_PATH, json=chat_body(model="nope"))

    stats = client.get("/sim/stats").json()
    assert stats == {
        "requests": 2,
        "aborted": 0,
        "running": 0,
        "waiting": 0,
        "completed": 1,
        "peak_running": 1,
        "peak_waiting": 0,
    }


def test_kv_cache_usage_while_requests_run(start_simulator: StartSimulator) -> None:
    base_url = start_simulator(itl_ms=20.0, kv_cache_tokens=1000)
    with httpx.Client(base_url=base_url, timeout=10.0) as http:
        with http.stream("POST", CHAT_PATH, json=chat_body(stream=True, max_tokens=400)) as response:
            lines = response.iter_lines()
            next(lines)
            busy = http.get("/metrics").text
        idle_running = json.loads(http.get("/sim/stats").text)

    usage = metric_value(busy, f"vllm:kv_cache_usage_perc{LABELS}")
    assert 0.4 < usage <= 1.0
    assert metric_value(busy, f"vllm:num_requests_running{LABELS}") == 1.0
    assert idle_running["requests"] == 1
