"""Stored responses through the gateway: GET, cancel and previous_response_id reach the backend
that holds the response, whatever the load; another department's response is unknown."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from gateway.stored_responses import ResponseHome, ResponsesConfig, embedded
from gateway.stored_responses.embedded import EmbeddedResponseHomes
from tests.gateway.conftest import (
    SOLO_MODEL,
    RunningGateway,
    gateway_config,
    issue_key,
    running_gateway,
    running_simulator,
    sim_stats,
)
from tests.waiting import wait_for


@dataclass
class Deployment:
    sims: tuple[str, str]
    running: RunningGateway
    client: openai.OpenAI
    other: openai.OpenAI
    """A key of another department."""


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    with (
        running_simulator(SOLO_MODEL, responses_store=True) as first,
        running_simulator(SOLO_MODEL, responses_store=True) as second,
        running_gateway([{"name": SOLO_MODEL, "backends": [{"url": first}, {"url": second}]}]) as running,
    ):
        config = running.state.config
        other_key = issue_key(config, "other-department", "its-service")
        with (
            openai.OpenAI(base_url=running.v1, api_key=running.api_key, max_retries=0) as client,
            openai.OpenAI(base_url=running.v1, api_key=other_key, max_retries=0) as other,
        ):
            yield Deployment((first, second), running, client, other)


def _holder(deployment: Deployment, response_id: str) -> str:
    """The simulator whose store holds the response (asked directly, not through the gateway)."""
    holders = [
        sim for sim in deployment.sims if httpx.get(f"{sim}/v1/responses/{response_id}").status_code == 200
    ]
    assert len(holders) == 1
    return holders[0]


def test_retrieve_reaches_the_backend_that_holds_the_response(deployment: Deployment) -> None:
    client = deployment.client
    created = [
        client.responses.create(model=SOLO_MODEL, input="Bonjour", max_output_tokens=8) for _ in range(4)
    ]

    for response in created:
        retrieved = client.responses.retrieve(response.id)
        assert retrieved.id == response.id
        assert retrieved.output_text == response.output_text
    # Least-loaded routing spread them: both backends hold some, yet every GET found its own.
    assert {_holder(deployment, response.id) for response in created} == set(deployment.sims)


def test_a_streamed_response_is_recorded_before_its_first_event(deployment: Deployment) -> None:
    client = deployment.client
    with client.responses.stream(model=SOLO_MODEL, input="Bonjour", max_output_tokens=8) as stream:
        for event in stream:
            if event.type == "response.created":
                # The id is already known to the gateway while the stream goes on.
                assert client.responses.retrieve(event.response.id).id == event.response.id
        final = stream.get_final_response()

    assert client.responses.retrieve(final.id).status == "completed" or final.status == "incomplete"


def test_previous_response_id_follows_its_backend(deployment: Deployment) -> None:
    client = deployment.client
    first = client.responses.create(model=SOLO_MODEL, input="Bonjour", max_output_tokens=8)
    holder = _holder(deployment, first.id)
    before = sim_stats(holder)["requests"]

    follow_ups = [
        client.responses.create(
            model=SOLO_MODEL, input="Et ensuite ?", previous_response_id=first.id, max_output_tokens=8
        )
        for _ in range(3)
    ]

    assert all(reply.previous_response_id == first.id for reply in follow_ups)
    assert sim_stats(holder)["requests"] - before == 3


def test_cancel_is_relayed_from_the_holding_backend(deployment: Deployment) -> None:
    client = deployment.client
    created = client.responses.create(model=SOLO_MODEL, input="Bonjour", max_output_tokens=8)

    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.cancel(created.id)

    assert "Cannot cancel a synchronous response." in str(refused.value)


def test_unknown_and_other_departments_responses_are_the_same_404(deployment: Deployment) -> None:
    created = deployment.client.responses.create(model=SOLO_MODEL, input="Bonjour", max_output_tokens=8)

    with pytest.raises(openai.NotFoundError) as theirs:
        deployment.other.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError) as unknown:
        deployment.other.responses.retrieve("resp_0000000000000000")
    with pytest.raises(openai.NotFoundError):
        deployment.other.responses.cancel(created.id)
    with pytest.raises(openai.NotFoundError):
        deployment.other.responses.create(
            model=SOLO_MODEL, input="Et ensuite ?", previous_response_id=created.id, max_output_tokens=8
        )

    assert isinstance(theirs.value.body, dict) and isinstance(unknown.value.body, dict)
    assert theirs.value.body["message"] == f"Response with id '{created.id}' not found."
    assert {**theirs.value.body, "message": ""} == {**unknown.value.body, "message": ""}


def test_ids_that_are_no_response_ids_never_reach_a_backend(deployment: Deployment) -> None:
    headers = {"authorization": f"Bearer {deployment.running.api_key}"}
    answer = httpx.get(f"{deployment.running.url}/v1/responses/resp%3Fx%3D1", headers=headers)

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "response_not_found"


def test_the_ttl_is_configurable() -> None:
    config = gateway_config(
        [{"name": SOLO_MODEL, "backends": [{"url": "http://127.0.0.1:1"}]}],
        responses={"sticky_ttl_seconds": 120},
    )
    assert config.responses.sticky_ttl_seconds == 120


def test_the_embedded_store_forgets_a_response_after_the_ttl() -> None:
    # Built without validation: the configuration refuses less than a minute, too long for a test.
    responses = ResponsesConfig.model_construct(sticky_ttl_seconds=1)
    with (
        running_simulator(SOLO_MODEL, responses_store=True) as sim,
        running_gateway([{"name": SOLO_MODEL, "backends": [{"url": sim}]}], responses=responses) as running,
        openai.OpenAI(base_url=running.v1, api_key=running.api_key, max_retries=0) as client,
    ):
        created = client.responses.create(model=SOLO_MODEL, input="Bonjour", max_output_tokens=8)

        def forgotten() -> bool:
            answer = httpx.get(f"{running.v1}/responses/{created.id}", headers=running.headers, timeout=5)
            return answer.status_code == 404

        assert wait_for(forgotten, seconds=10, interval=0.2), "the record outlived its TTL"
        assert httpx.get(f"{sim}/v1/responses/{created.id}").status_code == 200


def _rows(path: Path) -> int:
    with closing(sqlite3.connect(path)) as connection:
        (count,) = connection.execute("SELECT count(*) FROM response_homes").fetchone()
    return int(count)


def test_the_embedded_store_deletes_expired_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gateway.responses.db"
    home = ResponseHome("http://127.0.0.1:1", SOLO_MODEL, "dgfip", "assistant-courrier")
    monkeypatch.setattr(embedded, "_PURGE_EVERY", 10)

    async def record_expired(count: int) -> None:
        homes = await EmbeddedResponseHomes.open(path)
        try:
            for index in range(count):
                await homes.record(f"resp_{index}", home, 0)  # expired as soon as written
            await homes.record("resp_alive", home, 3600)
            # Expired but not purged yet: not returned all the same.
            assert await homes.find(f"resp_{count - 1}") is None
            assert await homes.find("resp_alive") == home
        finally:
            await homes.close()

    asyncio.run(record_expired(25))
    # Purged at the 10th and 20th records: only the last few expired rows and the live one remain.
    assert _rows(path) == 6

    async def reopen() -> None:
        await (await EmbeddedResponseHomes.open(path)).close()

    asyncio.run(reopen())
    # Opening purges too: a process restarted before its next purge does not keep expired rows.
    assert _rows(path) == 1


def test_a_holding_backend_that_is_down_is_a_503_and_no_other_is_tried() -> None:
    with (
        ExitStack() as first_sim,
        ExitStack() as second_sim,
    ):
        sims = {
            first_sim.enter_context(running_simulator(SOLO_MODEL, responses_store=True)): first_sim,
            second_sim.enter_context(running_simulator(SOLO_MODEL, responses_store=True)): second_sim,
        }
        models = [{"name": SOLO_MODEL, "backends": [{"url": sim} for sim in sims]}]
        with running_gateway(models) as running:
            headers = running.headers
            created = httpx.post(
                f"{running.v1}/responses",
                json={"model": SOLO_MODEL, "input": "Bonjour", "max_output_tokens": 8},
                headers=headers,
                timeout=10,
            ).json()
            holder = next(sim for sim in sims if httpx.get(f"{sim}/v1/responses/{created['id']}").is_success)
            other = next(sim for sim in sims if sim != holder)
            sims[holder].close()  # the holder stops; its port is closed
            before = sim_stats(other)["requests"]

            retrieved = httpx.get(f"{running.v1}/responses/{created['id']}", headers=headers, timeout=10)
            cancelled = httpx.post(
                f"{running.v1}/responses/{created['id']}/cancel", headers=headers, timeout=10
            )
            continued = httpx.post(
                f"{running.v1}/responses",
                json={
                    "model": SOLO_MODEL,
                    "input": "Et ensuite ?",
                    "previous_response_id": created["id"],
                    "max_output_tokens": 8,
                },
                headers=headers,
                timeout=10,
            )
            # While a response that names no stored response still reaches the backend that is up.
            fresh = httpx.post(
                f"{running.v1}/responses",
                json={"model": SOLO_MODEL, "input": "Bonjour", "max_output_tokens": 8},
                headers=headers,
                timeout=10,
            )

            for answer in (retrieved, cancelled, continued):
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"]["code"] == "backend_unavailable"
                assert int(answer.headers["retry-after"]) > 0
            assert fresh.status_code == 200
            # The one request the other backend saw is the fresh one: the others were never sent to it.
            assert sim_stats(other)["requests"] - before == 1
