"""People's names through the gateway, on by default: found, pseudonymized as one person however
written, restored in the answer as written (whole and streamed), look-alikes left as written."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from tests.gateway.conftest import (
    SOLO_MODEL,
    RunningGateway,
    last_request,
    running_gateway,
    running_simulator,
)

PROMPT = (
    "Mme Amandine Leroux, née à Nantes, a inscrit son fils au collège Marie Curie, rue Jean Jaurès. "
    "Dossier suivi pour LEROUX Amandine par Maître Paul GIRARD."
)
WRITTEN = ("Amandine", "Leroux", "LEROUX", "GIRARD", "Nantes")


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[RunningGateway, str]]:
    with (
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        # Nothing said about names: they are looked for by default.
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}], pii={"mode": "pseudonymize"}
        ) as gw,
    ):
        yield gw, sim


def _client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=gateway.api_key, max_retries=0)


def _sent(sim: str) -> str:
    """The user message the backend received."""
    content: str = json.loads(last_request(sim)["body"])["messages"][0]["content"]
    return content


def test_the_backend_sees_one_person_and_no_name(gateway: tuple[RunningGateway, str]) -> None:
    gw, sim = gateway
    with _client(gw) as client:
        reply = client.chat.completions.create(
            model=SOLO_MODEL, messages=[{"role": "user", "content": PROMPT}]
        )
    sent = _sent(sim)
    assert not [word for word in WRITTEN if word in sent], sent
    assert sent.count("<PERSON_1>") == 2 and sent.count("<PERSON_2>") == 1, sent
    assert "<LOCATION_1>" in sent
    # Look-alikes reach the backend as written.
    assert "collège Marie Curie, rue Jean Jaurès" in sent
    # The echo model repeats the placeholders: each comes back as the request wrote it there.
    assert reply.choices[0].message.content == PROMPT


def test_a_streamed_answer_is_restored(gateway: tuple[RunningGateway, str]) -> None:
    gw, _ = gateway
    with _client(gw) as client:
        stream = client.chat.completions.create(
            model=SOLO_MODEL, messages=[{"role": "user", "content": PROMPT}], stream=True
        )
        answer = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert answer == PROMPT
