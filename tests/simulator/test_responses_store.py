"""The Responses store (``--enable-responses-store``): kept answers, GET, cancel, previous_response_id."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.simulator.conftest import GENERATION_MODEL, StartSimulator

PATH = "/v1/responses"


def body(**fields: Any) -> dict[str, Any]:
    return {"model": GENERATION_MODEL, "input": "Hello there, how are you?", "max_output_tokens": 8, **fields}


@pytest.fixture
def stored(start_simulator: StartSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=start_simulator(responses_store=True), timeout=10.0) as http:
        yield http


def not_found(response_id: str) -> dict[str, Any]:
    return {
        "message": f"Response with id '{response_id}' not found.",
        "type": "invalid_request_error",
        "param": "response_id",
        "code": 404,
    }


def test_a_stored_response_is_returned_by_get(stored: httpx.Client) -> None:
    created = stored.post(PATH, json=body()).json()

    fetched = stored.get(f"{PATH}/{created['id']}")

    assert fetched.status_code == 200
    assert fetched.json() == created


def test_store_false_keeps_nothing(stored: httpx.Client) -> None:
    created = stored.post(PATH, json=body(store=False)).json()

    fetched = stored.get(f"{PATH}/{created['id']}")

    assert fetched.status_code == 404
    assert fetched.json()["error"] == not_found(created["id"])


def test_a_streamed_response_is_kept_with_its_final_object(stored: httpx.Client) -> None:
    with stored.stream("POST", PATH, json=body(stream=True)) as stream:
        raw = "".join(stream.iter_text())
    completed = [block for block in raw.split("\n\n") if block.startswith("event: response.completed")]
    final = httpx.Response(200, content=completed[0].split("data: ", 1)[1]).json()["response"]

    fetched = stored.get(f"{PATH}/{final['id']}")

    assert fetched.json() == final


def test_without_the_store_nothing_is_kept(client: httpx.Client) -> None:
    created = client.post(PATH, json=body()).json()

    assert client.get(f"{PATH}/{created['id']}").status_code == 404
    assert client.post(f"{PATH}/{created['id']}/cancel").status_code == 404


def test_previous_response_id_must_be_known_to_this_server(start_simulator: StartSimulator) -> None:
    with (
        httpx.Client(base_url=start_simulator(responses_store=True)) as first,
        httpx.Client(base_url=start_simulator(responses_store=True)) as second,
    ):
        created = first.post(PATH, json=body()).json()

        followed = first.post(PATH, json=body(previous_response_id=created["id"]))
        elsewhere = second.post(PATH, json=body(previous_response_id=created["id"]))

    assert followed.status_code == 200
    assert followed.json()["previous_response_id"] == created["id"]
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"] == not_found(created["id"])


def test_cancelling_a_finished_response_is_400(stored: httpx.Client) -> None:
    created = stored.post(PATH, json=body()).json()

    cancelled = stored.post(f"{PATH}/{created['id']}/cancel")

    assert cancelled.status_code == 400
    assert cancelled.json()["error"] == {
        "message": "Cannot cancel a synchronous response.",
        "type": "invalid_request_error",
        "param": "response_id",
        "code": 400,
    }


def test_a_background_response_runs_later_and_can_be_cancelled(start_simulator: StartSimulator) -> None:
    url = start_simulator(responses_store=True, ttft_ms=5000.0)
    with httpx.Client(base_url=url, timeout=10.0) as http:
        queued = http.post(PATH, json=body(background=True)).json()
        cancelled = http.post(f"{PATH}/{queued['id']}/cancel")
        fetched = http.get(f"{PATH}/{queued['id']}").json()
        again = http.post(f"{PATH}/{queued['id']}/cancel")

    assert queued["status"] == "queued"
    assert queued["background"] is True
    assert queued["output"] == [] and queued["usage"] is None
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert fetched["status"] == "cancelled"
    assert again.status_code == 400


def test_a_background_response_completes_in_the_store(stored: httpx.Client) -> None:
    queued = stored.post(PATH, json=body(background=True)).json()

    deadline = time.monotonic() + 5
    fetched = stored.get(f"{PATH}/{queued['id']}").json()
    while fetched["status"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.01)
        fetched = stored.get(f"{PATH}/{queued['id']}").json()

    assert fetched["status"] in ("completed", "incomplete")
    assert fetched["usage"]["output_tokens"] > 0


def test_background_without_the_store_is_still_refused(client: httpx.Client) -> None:
    refused = client.post(PATH, json=body(background=True))

    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "background"


def test_the_sdk_retrieves_and_cancels(start_simulator: StartSimulator) -> None:
    url = start_simulator(responses_store=True)
    with openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0) as sdk:
        created = sdk.responses.create(model=GENERATION_MODEL, input="Hi", max_output_tokens=8)
        retrieved = sdk.responses.retrieve(created.id)
        with pytest.raises(openai.BadRequestError):
            sdk.responses.cancel(created.id)
        with pytest.raises(openai.NotFoundError):
            sdk.responses.retrieve("resp_unknown")

    assert retrieved.id == created.id
    assert retrieved.output_text == created.output_text
