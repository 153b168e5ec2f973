"""The Responses API through the gateway: relayed, metered, and redacted like chat."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from tests.gateway.conftest import (
    SOLO_MODEL,
    last_request,
    running_gateway,
    running_simulator,
)

EMAIL = "claire.dupont@interieur.gouv.fr"
PROMPT = f"Répondre à {EMAIL} avant vendredi."


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, openai.OpenAI]]:
    with (
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}], pii={"mode": "pseudonymize", "names": "off"}
        ) as running,
        openai.OpenAI(base_url=running.v1, api_key=running.api_key, max_retries=0) as client,
    ):
        yield sim, client


def test_non_streamed_answer_is_restored(gateway: tuple[str, openai.OpenAI]) -> None:
    sim, client = gateway
    response = client.responses.create(model=SOLO_MODEL, input=PROMPT, instructions=f"Signé {EMAIL}")
    sent = json.loads(last_request(sim)["body"])
    assert sent["input"] == "Répondre à <EMAIL_1> avant vendredi."
    assert sent["instructions"] == "Signé <EMAIL_1>"
    assert response.output_text == PROMPT


def test_streamed_answer_is_restored_and_ends_cleanly(gateway: tuple[str, openai.OpenAI]) -> None:
    _, client = gateway
    deltas: list[str] = []
    done_text = ""
    completed = None
    sequence: list[int] = []
    with client.responses.stream(model=SOLO_MODEL, input=PROMPT) as stream:
        for event in stream:
            sequence.append(event.sequence_number)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.output_text.done":
                done_text = event.text
            elif event.type == "response.completed":
                completed = event.response
    assert "".join(deltas) == done_text == PROMPT
    assert completed is not None and completed.output_text == PROMPT
    assert completed.usage is not None and completed.usage.output_tokens > 0
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
    assert not any(event_text.startswith("<") and event_text.endswith(">") for event_text in deltas)
