"""What each model serves: the defaults of its kind, an explicit list, the cards, and the 400 for an
operation it does not serve, whether the configuration or the backend says so."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import httpx2
import openai
import pytest
from pydantic import ValidationError

from gateway.capabilities import GENERATIVE_OPERATIONS, KIND_OPERATIONS
from gateway.config import ModelConfig
from gateway.operations import OPERATIONS
from tests.gateway.conftest import (
    CHAT_MODEL,
    EMBEDDING_MODEL,
    RunningGateway,
    running_gateway,
    running_simulator,
    sim_stats,
)

_BACKEND = [{"url": "http://127.0.0.1:9"}]
_ALL = tuple(operation.value for operation in OPERATIONS)
# Served by the simulator's generation model but not configured as one: its backend says so.
_UNDECLARED = "undeclared-model"


def test_without_a_kind_a_model_is_asked_everything() -> None:
    # Today's configurations name no kind: every operation is still forwarded, as before.
    assert ModelConfig.model_validate({"name": "m", "backends": _BACKEND}).served_operations == _ALL


def test_each_kind_serves_its_defaults_in_registry_order() -> None:
    generative = ModelConfig.model_validate({"name": "m", "kind": "generative", "backends": _BACKEND})
    assert generative.served_operations == tuple(name for name in _ALL if name in GENERATIVE_OPERATIONS)
    assert "embeddings" not in generative.served_operations
    for kind, names in KIND_OPERATIONS.items():
        model = ModelConfig.model_validate({"name": "m", "kind": kind, "backends": _BACKEND})
        assert set(model.served_operations) <= set(names), kind


def test_an_explicit_list_overrides_the_kind() -> None:
    model = ModelConfig.model_validate(
        {"name": "m", "kind": "generative", "operations": ["embeddings", "chat"], "backends": _BACKEND}
    )
    assert model.served_operations == ("chat", "embeddings")


def test_an_unknown_operation_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="unknown operation"):
        ModelConfig.model_validate({"name": "m", "operations": ["chat", "chatt"], "backends": _BACKEND})
    with pytest.raises(ValidationError):
        ModelConfig.model_validate({"name": "m", "kind": "llm", "backends": _BACKEND})


@dataclass
class Served:
    sim: str
    gateway: RunningGateway


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with (
        running_simulator(CHAT_MODEL, _UNDECLARED, embedding_models=(EMBEDDING_MODEL,)) as sim,
        running_gateway(
            [
                {"name": CHAT_MODEL, "kind": "generative", "backends": [{"url": sim}]},
                {"name": EMBEDDING_MODEL, "kind": "embedding", "backends": [{"url": sim}]},
                {"name": _UNDECLARED, "backends": [{"url": sim}]},
            ]
        ) as gateway,
    ):
        yield Served(sim, gateway)


def test_cards_list_the_served_operations(served: Served) -> None:
    cards = httpx.get(f"{served.gateway.v1}/models", headers=served.gateway.headers).json()["data"]
    operations = {card["id"]: card["operations"] for card in cards}
    assert "chat" in operations[CHAT_MODEL] and "embeddings" not in operations[CHAT_MODEL]
    assert "embeddings" in operations[EMBEDDING_MODEL] and "chat" not in operations[EMBEDDING_MODEL]
    assert operations[_UNDECLARED] == list(_ALL)


def test_embeddings_on_a_chat_model_is_refused_before_the_backend(served: Served) -> None:
    sent: list[httpx2.Request] = []
    before = sim_stats(served.sim)["requests"]
    with (
        httpx2.Client(event_hooks={"request": [sent.append]}) as http,  # the SDK's own HTTP client
        openai.OpenAI(base_url=served.gateway.v1, api_key=served.gateway.api_key, http_client=http) as client,
        pytest.raises(openai.BadRequestError) as refused,
    ):
        client.embeddings.create(model=CHAT_MODEL, input="Bonjour")
    assert refused.value.status_code == 400
    assert refused.value.code == "operation_not_supported"
    assert CHAT_MODEL in refused.value.message and "embeddings" in refused.value.message
    assert len(sent) == 1, "a 4xx is the caller's mistake: the SDK must not retry it"
    assert sim_stats(served.sim)["requests"] == before, "nothing may reach the backend"


def test_the_backends_own_404_is_the_same_400_and_no_failure(served: Served) -> None:
    # A model without a kind is forwarded everything; vLLM's bare 404 says it does not embed.
    backend = served.gateway.state.pools[_UNDECLARED].backends[0]
    for _ in range(3):  # more than eject_after: a failure would have taken it out
        reply = httpx.post(
            f"{served.gateway.v1}/embeddings",
            json={"model": _UNDECLARED, "input": "Bonjour"},
            headers=served.gateway.headers,
        )
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert error["code"] == "operation_not_supported"
        assert _UNDECLARED in error["message"] and "embeddings" in error["message"]
    assert backend.consecutive_failures == 0 and backend.ejections == 0
