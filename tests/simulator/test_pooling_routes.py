"""Score, rerank, classify, pooling and Cohere embed: shapes, errors, determinism, routes per kind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.simulator.conftest import StartSimulator
from tests.simulator.helpers import metric_value

RERANK_MODEL = "test-rerank"
NOT_FOUND = {"detail": "Not Found"}
SCORE_PATHS = ("/score", "/v1/score")
RERANK_PATHS = ("/rerank", "/v1/rerank", "/v2/rerank")


@pytest.fixture
def pooling(start_simulator: StartSimulator) -> Any:
    """A simulator serving one model of each pooling kind (and the default generation model)."""
    with httpx.Client(base_url=start_simulator(rerank_models=(RERANK_MODEL,)), timeout=10.0) as http:
        yield http


@pytest.mark.parametrize("path", RERANK_PATHS)
def test_rerank_sorts_documents_best_first_and_counts_pairs(pooling: httpx.Client, path: str) -> None:
    body = {"model": RERANK_MODEL, "query": "capital of France", "documents": ["Paris", "a cat", "Lyon city"]}
    answer = pooling.post(path, json=body).json()

    assert set(answer) == {"id", "model", "usage", "results"}
    assert answer["id"].startswith("score-")
    assert answer["model"] == RERANK_MODEL
    scores = [result["relevance_score"] for result in answer["results"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < score < 1.0 for score in scores)
    assert sorted(result["index"] for result in answer["results"]) == [0, 1, 2]
    for result in answer["results"]:
        assert result["document"] == {"text": body["documents"][result["index"]], "multi_modal": None}
    # Each pair: the query's 3 tokens, the document's, a start and a separator.
    assert answer["usage"] == {"prompt_tokens": (3 + 1 + 2) + (3 + 2 + 2) + (3 + 2 + 2), "total_tokens": 20}
    assert pooling.post(path, json=body).json()["results"] == answer["results"]


def test_rerank_top_n_keeps_the_best(pooling: httpx.Client) -> None:
    body = {"model": RERANK_MODEL, "query": "q", "documents": ["a", "b", "c", "d"]}
    everything = pooling.post("/rerank", json=body).json()["results"]
    top = pooling.post("/rerank", json={**body, "top_n": 2}).json()["results"]
    assert top == everything[:2]


def test_rerank_on_an_embedding_model_uses_cosine_similarity(pooling: httpx.Client) -> None:
    body = {"model": "test-embed", "query": "same", "documents": ["same", "other"]}
    answer = pooling.post("/rerank", json=body).json()
    assert answer["results"][0] == {
        "index": 0,
        "document": {"text": "same", "multi_modal": None},
        "relevance_score": pytest.approx(1.0),
    }
    # A bi-encoder embeds the query once and each document once.
    assert answer["usage"]["prompt_tokens"] == 2 + 2 + 2


@pytest.mark.parametrize("path", SCORE_PATHS)
@pytest.mark.parametrize(
    ("first", "second"),
    [("queries", "documents"), ("queries", "items"), ("data_1", "data_2"), ("text_1", "text_2")],
)
def test_score_accepts_the_four_forms(pooling: httpx.Client, path: str, first: str, second: str) -> None:
    answer = pooling.post(path, json={"model": RERANK_MODEL, first: "query", second: ["one", "two"]}).json()
    assert answer["object"] == "list"
    assert answer["id"].startswith("score-")
    assert [item["index"] for item in answer["data"]] == [0, 1]
    assert all(item["object"] == "score" for item in answer["data"])
    assert answer["usage"] == {
        "prompt_tokens": 2 * (1 + 1 + 2),
        "total_tokens": 8,
        "completion_tokens": 0,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def test_score_pairs_n_to_n_and_agrees_with_rerank(pooling: httpx.Client) -> None:
    scored = pooling.post(
        "/score", json={"model": RERANK_MODEL, "text_1": ["q", "q"], "text_2": ["a", "b"]}
    ).json()
    reranked = pooling.post(
        "/rerank", json={"model": RERANK_MODEL, "query": "q", "documents": ["a", "b"]}
    ).json()
    by_index = {result["index"]: result["relevance_score"] for result in reranked["results"]}
    assert [item["score"] for item in scored["data"]] == [by_index[0], by_index[1]]


@pytest.mark.parametrize(
    ("body", "status", "error_type", "message"),
    [
        (
            {"text_1": ["a", "b"], "text_2": ["x", "y", "z"]},
            400,
            "BadRequestError",
            "Input lengths must be either 1:1, 1:N or N:N",
        ),
        ({"text_1": [], "text_2": ["x"]}, 400, "BadRequestError", "At least one text element must be given"),
        (
            {"text_1": "a", "text_2": []},
            400,
            "BadRequestError",
            "At least one text_pair element must be given",
        ),
        (
            {"text_1": "a", "text_2": [{"content": [{"type": "text", "text": "x"}]}]},
            400,
            "BadRequestError",
            "MultiModalParam is not supported for BertForSequenceClassification",
        ),
        (
            {"model": "nope", "text_1": "a", "text_2": "b"},
            404,
            "NotFoundError",
            "The model `nope` does not exist.",
        ),
    ],
)
def test_score_errors_are_vllms(
    pooling: httpx.Client, body: dict[str, Any], status: int, error_type: str, message: str
) -> None:
    response = pooling.post("/score", json={"model": RERANK_MODEL, **body})
    assert response.status_code == status
    assert response.json() == {
        "error": {"message": message, "type": error_type, "param": None, "code": status}
    }


def test_score_without_a_form_lists_every_missing_field(pooling: httpx.Client) -> None:
    response = pooling.post("/score", json={"model": RERANK_MODEL})
    error = response.json()["error"]
    assert response.status_code == 400
    assert error["type"] == "Bad Request"
    assert error["message"].startswith("8 validation errors:")
    assert error["param"] == "body.queries"


def test_rerank_validation(pooling: httpx.Client) -> None:
    negative = pooling.post(
        "/rerank", json={"model": RERANK_MODEL, "query": "q", "documents": ["a"], "top_n": -1}
    )
    missing = pooling.post("/rerank", json={"model": RERANK_MODEL, "query": "q"})
    assert negative.status_code == missing.status_code == 400
    assert negative.json()["error"]["param"] == "body.top_n"
    assert missing.json()["error"]["param"] == "body.documents"


def test_classify_shape_and_determinism(pooling: httpx.Client) -> None:
    answer = pooling.post("/classify", json={"model": RERANK_MODEL, "input": ["good", "bad news"]}).json()
    assert answer["id"].startswith("classify-")
    assert answer["object"] == "list"
    assert [set(item) for item in answer["data"]] == [{"index", "label", "probs", "num_classes"}] * 2
    assert all(item["label"] == "LABEL_0" and item["num_classes"] == 1 for item in answer["data"])
    assert answer["usage"]["prompt_tokens"] == 2 + 3
    again = pooling.post("/classify", json={"model": RERANK_MODEL, "input": ["good", "bad news"]}).json()
    assert again["data"] == answer["data"]


def test_classify_needs_input_or_messages(pooling: httpx.Client) -> None:
    response = pooling.post("/classify", json={"model": RERANK_MODEL})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("2 validation errors:")


def test_pooling_returns_each_kinds_default_output(pooling: httpx.Client) -> None:
    embedded = pooling.post("/pooling", json={"model": "test-embed", "input": "hello"}).json()
    classified = pooling.post("/pooling", json={"model": RERANK_MODEL, "input": "hello"}).json()
    vector = pooling.post("/v1/embeddings", json={"model": "test-embed", "input": "hello"}).json()
    assert embedded["id"].startswith("pool-")
    assert embedded["data"][0]["object"] == "pooling"
    assert embedded["data"][0]["data"] == vector["data"][0]["embedding"]
    assert len(classified["data"][0]["data"]) == 1
    assert classified["usage"]["prompt_tokens"] == 2


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"dimensions": 8}, "dimensions"),
        ({"task": "classify"}, "task"),
        ({"task": "token_embed"}, "task"),
        ({"task": "plugin"}, "task"),
    ],
)
def test_pooling_task_errors(pooling: httpx.Client, body: dict[str, Any], param: str) -> None:
    response = pooling.post("/pooling", json={"model": "test-embed", "input": "x", **body})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "BadRequestError"
    assert response.json()["error"]["param"] == param


def test_cohere_embed(pooling: httpx.Client) -> None:
    answer = pooling.post(
        "/v2/embed",
        json={"model": "test-embed", "texts": ["hello", "world"], "embedding_types": ["ubinary", "float"]},
    ).json()
    vector = pooling.post("/v1/embeddings", json={"model": "test-embed", "input": "hello"}).json()
    assert answer["id"].startswith("embd-")
    assert list(answer["embeddings"]) == ["float", "ubinary"]
    assert answer["embeddings"]["float"][0] == vector["data"][0]["embedding"]
    assert len(answer["embeddings"]["ubinary"][0]) == 384 // 8
    assert answer["texts"] == ["hello", "world"]
    assert answer["meta"] == {
        "api_version": {"version": "2"},
        "billed_units": {"input_tokens": 4, "image_tokens": 0},
    }
    assert answer["response_type"] == "embeddings_by_type"
    neither = pooling.post("/v2/embed", json={"model": "test-embed"})
    assert neither.status_code == 400


def test_routes_exist_only_for_the_kinds_that_serve_them(start_simulator: StartSimulator) -> None:
    generation_only = start_simulator(embedding_models=())
    embedding_only = start_simulator(models=(), embedding_models=("e",))
    cross_encoder_only = start_simulator(models=(), embedding_models=(), rerank_models=("r",))
    expectations = {
        generation_only: set(),
        embedding_only: {
            "/v2/embed",
            "/pooling",
            "/score",
            "/v1/score",
            "/rerank",
            "/v1/rerank",
            "/v2/rerank",
        },
        cross_encoder_only: {
            "/pooling",
            "/score",
            "/v1/score",
            "/rerank",
            "/v1/rerank",
            "/v2/rerank",
            "/classify",
        },
    }
    for base_url, registered in expectations.items():
        with httpx.Client(base_url=base_url, timeout=10.0) as http:
            for path in (
                "/v2/embed",
                "/pooling",
                "/score",
                "/v1/score",
                "/rerank",
                "/v1/rerank",
                "/v2/rerank",
                "/classify",
            ):
                response = http.post(path, json={})
                assert (response.json() != NOT_FOUND) == (path in registered), (base_url, path)


def test_a_model_of_another_kind_gets_fastapis_404(pooling: httpx.Client) -> None:
    on_embedding_route = pooling.post("/v2/embed", json={"model": RERANK_MODEL, "texts": ["x"]})
    on_classify = pooling.post("/classify", json={"model": "test-embed", "input": "x"})
    assert on_embedding_route.status_code == on_classify.status_code == 404
    assert on_embedding_route.json() == on_classify.json() == NOT_FOUND


def test_pooling_requests_count_their_prompt_tokens(pooling: httpx.Client) -> None:
    pooling.post("/rerank", json={"model": RERANK_MODEL, "query": "q", "documents": ["a", "b"]})
    metrics = pooling.get("/metrics").text
    assert metric_value(metrics, 'vllm:prompt_tokens_total{engine="0",model_name="test-model"}') == 8
    assert (
        metric_value(
            metrics, 'vllm:request_success_total{engine="0",finished_reason="stop",model_name="test-model"}'
        )
        == 2
    )
