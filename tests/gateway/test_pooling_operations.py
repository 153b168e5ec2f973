"""The pooling-model and tokenizer operations through the gateway to the simulator: forwarded on each
of their routes and metered on the usage the backend reports, refused by policy, by quota and by the
model's capabilities, their texts redacted on the way in and restored on the way out. Cohere's own
SDK reranks through the gateway as its users would; httpx sends the other shapes raw."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cohere
import httpx
import pytest

from gateway.request_record import RequestRecord
from tests.gateway.conftest import (
    CHAT_MODEL,
    DEPARTMENT,
    EMBEDDING_MODEL,
    POLICIES,
    RunningGateway,
    issue_key,
    last_request,
    running_gateway,
    running_simulator,
)
from tests.waiting import wait_for

RERANK_MODEL = "bge-reranker"
EMAIL = "claire.dupont@interieur.gouv.fr"
# A service whose only grant is chat: every other operation is refused to it.
CHAT_ONLY = "chat-only"
_POLICY = f"""p, user, *, *, *, allow
p, {CHAT_ONLY}, *, *, chat, allow
"""

# (route, model, body): one request per route of each new operation.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    *(
        (
            route,
            RERANK_MODEL,
            {"query": "impôts", "documents": ["taxe foncière", "météo", "impôt sur le revenu"]},
        )
        for route in ("/v1/rerank", "/rerank", "/v2/rerank")
    ),
    ("/v1/rerank", EMBEDDING_MODEL, {"query": "impôts", "documents": ["taxe", "météo"], "top_n": 1}),
    *(
        (route, RERANK_MODEL, {"text_1": "impôts", "text_2": ["taxe foncière", "météo"]})
        for route in ("/v1/score", "/score")
    ),
    ("/v1/score", RERANK_MODEL, {"queries": ["a", "b"], "documents": ["c", "d"]}),
    ("/classify", RERANK_MODEL, {"input": ["un avis", "un autre avis"]}),
    ("/pooling", RERANK_MODEL, {"input": "un texte"}),
    ("/pooling", EMBEDDING_MODEL, {"input": ["un texte", "un autre"]}),
]
# Served by every kind of model and never charged.
TOKENIZER_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("/tokenize", CHAT_MODEL, {"prompt": "Bonjour le monde"}),
    ("/tokenize", CHAT_MODEL, {"messages": [{"role": "user", "content": "Bonjour"}]}),
    ("/tokenize", RERANK_MODEL, {"prompt": "Bonjour"}),
    ("/detokenize", CHAT_MODEL, {"tokens": [1, 2, 3]}),
]


@dataclass
class Served:
    sim: str
    gateway: RunningGateway
    records: list[RequestRecord]

    def post(self, route: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {key or self.gateway.api_key}"}
        return httpx.post(f"{self.gateway.url}{route}", json=body, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    policy = tmp_path_factory.mktemp("policy") / "policy.csv"
    policy.write_text(_POLICY)
    with (
        running_simulator(
            CHAT_MODEL, embedding_models=(EMBEDDING_MODEL,), rerank_models=(RERANK_MODEL,)
        ) as sim,
        running_gateway(
            [
                {"name": CHAT_MODEL, "kind": "generative", "backends": [{"url": sim}]},
                {"name": EMBEDDING_MODEL, "kind": "embedding", "backends": [{"url": sim}]},
                {"name": RERANK_MODEL, "kind": "cross-encoder", "backends": [{"url": sim}]},
            ],
            policy={"model_file": str(POLICIES / "model.conf"), "policy_file": str(policy)},
            pii={"mode": "pseudonymize", "names": "off"},
        ) as gateway,
    ):
        records: list[RequestRecord] = []
        recorder = gateway.worker.recorder
        record = recorder.record

        def keep(usage: RequestRecord) -> None:
            records.append(usage)
            record(usage)

        recorder.record = keep  # type: ignore[method-assign]
        yield Served(sim, gateway, records)


def _record_of(served: Served, reply: httpx.Response) -> RequestRecord:
    request_id = reply.headers["x-request-id"]
    assert wait_for(lambda: any(r.request_id == request_id for r in served.records), 5.0)
    return next(r for r in served.records if r.request_id == request_id)


@pytest.mark.parametrize(("route", "model", "body"), CASES)
def test_forwarded_and_metered_on_the_reported_usage(
    served: Served, route: str, model: str, body: dict[str, Any]
) -> None:
    reply = served.post(route, {"model": model, **body})
    assert reply.status_code == 200, reply.text
    usage = reply.json()["usage"]
    assert usage["prompt_tokens"] > 0
    record = _record_of(served, reply)
    assert (record.model, record.status) == (model, 200)
    assert record.prompt_tokens == usage["prompt_tokens"]
    assert record.completion_tokens == 0


@pytest.mark.parametrize(("route", "model", "body"), TOKENIZER_CASES)
def test_tokenizer_is_forwarded_and_not_charged(
    served: Served, route: str, model: str, body: dict[str, Any]
) -> None:
    reply = served.post(route, {"model": model, **body})
    assert reply.status_code == 200, reply.text
    record = _record_of(served, reply)
    assert (record.model, record.operation, record.status) == (model, route.strip("/"), 200)
    assert (record.prompt_tokens, record.completion_tokens) == (0, 0)


@pytest.mark.parametrize(("route", "model", "body"), CASES + TOKENIZER_CASES)
def test_refused_to_a_key_whose_policy_lacks_the_operation(
    served: Served, route: str, model: str, body: dict[str, Any]
) -> None:
    key = issue_key(served.gateway.state.config, DEPARTMENT, CHAT_ONLY, "reader")
    reply = served.post(route, {"model": model, **body}, key)
    assert reply.status_code == 403, reply.text
    assert reply.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(("route", "body"), [(route, body) for route, _, body in CASES])
def test_refused_on_a_model_that_does_not_serve_it(served: Served, route: str, body: dict[str, Any]) -> None:
    reply = served.post(route, {"model": CHAT_MODEL, **body})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == "operation_not_supported"
    assert CHAT_MODEL in error["message"]


def test_rerank_documents_reach_the_backend_pseudonymized_and_come_back_restored(served: Served) -> None:
    documents = [f"Écrire à {EMAIL} pour la taxe foncière.", "La météo de demain."]
    reply = served.post(
        "/v2/rerank", {"model": RERANK_MODEL, "query": "taxe foncière", "documents": documents}
    )
    assert reply.status_code == 200, reply.text
    received = json.loads(last_request(served.sim)["body"])
    assert EMAIL not in json.dumps(received, ensure_ascii=False)
    assert received["documents"][1] == documents[1]
    returned = {result["document"]["text"] for result in reply.json()["results"]}
    assert returned == set(documents), "the placeholders must be restored in the documents sent back"


def test_cohere_sdk_reranks_through_the_gateway(served: Served) -> None:
    # Only `base_url` and the key change: the SDK posts to {base_url}/v2/rerank. Its HTTP client is
    # given so that the test closes it.
    with httpx.Client(timeout=10) as http:
        client = cohere.ClientV2(
            api_key=served.gateway.api_key, base_url=served.gateway.url, httpx_client=http
        )
        _rerank_with_the_sdk(client, served)


def _rerank_with_the_sdk(client: cohere.ClientV2, served: Served) -> None:
    documents = [f"Écrire à {EMAIL} pour la taxe foncière.", "La météo de demain.", "Taxe foncière 2026"]
    answer = client.rerank(model=RERANK_MODEL, query="taxe foncière", documents=documents, top_n=2)
    assert len(answer.results) == 2
    assert {result.index for result in answer.results} <= {0, 1, 2}
    scores = [result.relevance_score for result in answer.results]
    assert scores == sorted(scores, reverse=True)
    # The address went to the backend as a placeholder, and was metered like any rerank.
    assert EMAIL not in json.dumps(json.loads(last_request(served.sim)["body"]), ensure_ascii=False)
    with pytest.raises(cohere.errors.BadRequestError):
        client.rerank(model=CHAT_MODEL, query="taxe", documents=["a", "b"])


_LONG = "un document assez long pour dépasser à lui seul le budget du service " * 3


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/v1/rerank", {"query": "budget", "documents": [_LONG] * 4}),
        ("/v1/score", {"text_1": "budget", "text_2": [_LONG] * 4}),
        ("/classify", {"input": [_LONG] * 4}),
        ("/pooling", {"input": [_LONG] * 4}),
    ],
)
def test_quota_refusal(route: str, body: dict[str, Any]) -> None:
    """Every charged pooling operation reserves its bound before forwarding: over the budget, 429 and
    nothing reaches the backend."""
    quotas = {"services": {f"{DEPARTMENT}/assistant-courrier": {"tokens_per_day": 100}}}
    with (
        running_simulator(rerank_models=(RERANK_MODEL,)) as sim,
        running_gateway(
            [{"name": RERANK_MODEL, "kind": "cross-encoder", "backends": [{"url": sim}]}], quotas=quotas
        ) as gateway,
    ):
        reply = httpx.post(
            f"{gateway.url}{route}", json={"model": RERANK_MODEL, **body}, headers=gateway.headers, timeout=10
        )
        assert reply.status_code == 429, reply.text
        assert reply.json()["error"]["type"] in ("insufficient_quota", "rate_limit_exceeded"), reply.text
        assert httpx.get(f"{sim}/sim/last-request", timeout=5).status_code == 404, "nothing was forwarded"


def test_a_backends_501_is_the_same_400_and_no_failure(served: Served) -> None:
    # vLLM answers 501 for what its model cannot do; the simulator does for `bytes` pooling.
    backend = served.gateway.state.pools[EMBEDDING_MODEL].backends[0]
    for _ in range(3):  # more than eject_after: a failure would have taken the backend out
        reply = served.post("/pooling", {"model": EMBEDDING_MODEL, "input": "x", "encoding_format": "bytes"})
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["code"] == "operation_not_supported"
    assert backend.consecutive_failures == 0 and backend.ejections == 0
    assert served.post("/pooling", {"model": EMBEDDING_MODEL, "input": "x"}).status_code == 200
