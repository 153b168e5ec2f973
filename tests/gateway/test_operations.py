"""The registry of operations: what every declaration must say, and that one more is served
end to end by declaring it, without a change anywhere else."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.authz.actions import MODEL_ACTIONS
from gateway.errors import InvalidRequest
from gateway.operations import OPERATIONS, Operation, StreamProtocol
from gateway.parsing import type_error
from gateway.routes import ROUTES, operation_route, upload_router
from gateway.token_bounds import fields_token_bound
from tests.gateway.conftest import (
    DEPARTMENT,
    SERVICE,
    SOLO_MODEL,
    gateway_config,
    issue_key,
    last_request,
    running_simulator,
)
from tests.servers import serve_in_thread


def test_every_declared_operation_is_served_by_the_app() -> None:
    app = create_app(gateway_config([{"name": SOLO_MODEL, "backends": [{"url": "http://127.0.0.1:9"}]}]))
    posted = {route.path for route in app.routes if "POST" in route.methods}
    for operation in OPERATIONS:
        assert set(operation.routes) <= posted, operation.value
    # One handler per declaration: the JSON ones in ROUTES, the uploads under their own body limit.
    uploads = upload_router(1024).routes
    handlers = [handler for handler in ROUTES if "POST" in handler.http_methods]
    assert len(handlers) + len(uploads) == len(OPERATIONS)


def test_declarations_are_distinct_and_complete() -> None:
    routes = [path for operation in OPERATIONS for path in operation.routes]
    assert len(routes) == len(set(routes)), "two declarations share a route"
    values = [operation.value for operation in OPERATIONS]
    assert len(values) == len(set(values)), "two declarations share a policy action"
    assert tuple(values) == MODEL_ACTIONS
    for operation in OPERATIONS:
        assert operation.routes, operation.value
        assert operation.upstream_path.startswith("/"), operation.value
        assert operation.genai_name, operation.value
        assert operation.pii_read_first, operation.value
        assert operation.output_limit_field in (None, "max_tokens", "max_output_tokens"), operation.value
        assert not (operation.stream_usage_option and operation.stream_protocol is not StreamProtocol.CHUNKS)


# A made-up operation: completions of a string prompt, served at a route of its own. It reuses the
# `completions` policy action: actions are a closed set the policies are checked against when they
# load, so a new action comes with an entry in the registry (gateway/operations/__init__.py).
_ROUTE = "/v1/test/continuations"


def _check_string_prompt(payload: dict[str, Any]) -> None:
    prompt = payload.get("prompt")
    if not isinstance(prompt, str):
        if prompt is None:
            raise InvalidRequest("Missing required parameter: 'prompt'.", param="prompt")
        raise type_error("prompt", "a string", prompt)


def _prompt_bound(payload: dict[str, Any]) -> int:
    return fields_token_bound(payload, ("prompt",))


CONTINUATIONS = Operation(
    value="completions",
    routes=(_ROUTE,),
    upstream_path="/v1/completions",
    check_body=_check_string_prompt,
    input_token_bound=_prompt_bound,
    genai_name="text_completion",
    pii_read_first=("prompt",),
    output_limit_field="max_tokens",
    stream_usage_option=True,
)

EMAIL = "claire.dupont@interieur.gouv.fr"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, str, dict[str, str]]]:
    """The simulator (echo), and a gateway that serves the made-up operation besides the registry's."""
    with (
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        tempfile.TemporaryDirectory(prefix="gateway-test-") as folder,
    ):
        config = gateway_config(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            pii={"mode": "pseudonymize", "names": "off"},
            quotas={"services": {f"{DEPARTMENT}/{SERVICE}": {"tokens_per_minute": 1_000_000}}},
        )
        headers = {"authorization": f"Bearer {issue_key(config)}"}
        app = create_app(config)
        app.register(operation_route(CONTINUATIONS))
        with serve_in_thread(app) as url:
            yield sim, url, headers


def test_a_new_declaration_is_served_end_to_end(served: tuple[str, str, dict[str, str]]) -> None:
    sim, url, headers = served
    prompt = f"Écrire à {EMAIL}"
    answer = httpx.post(
        url + _ROUTE, json={"model": SOLO_MODEL, "prompt": prompt}, headers=headers, timeout=30
    )
    assert answer.status_code == 200, answer.text
    seen = last_request(sim)
    assert seen["path"] == "/v1/completions"
    sent = json.loads(seen["body"])
    assert sent["prompt"] == "Écrire à <EMAIL_1>"  # redacted on the way out...
    assert sent["max_tokens"] > 0  # ...bounded by the reservation...
    assert EMAIL in answer.json()["choices"][0]["text"]  # ...and restored on the way back
    assert answer.json()["usage"]["completion_tokens"] > 0
    assert "x-ratelimit-limit-tokens" in {name.lower() for name in answer.headers}


def test_a_new_declaration_streams_with_its_usage_asked_for(served: tuple[str, str, dict[str, str]]) -> None:
    sim, url, headers = served
    body = {"model": SOLO_MODEL, "prompt": "bonjour", "stream": True, "max_tokens": 4}
    with httpx.stream("POST", url + _ROUTE, json=body, headers=headers, timeout=30) as answer:
        text = "".join(answer.iter_text())
    assert answer.status_code == 200
    assert text.rstrip().endswith("data: [DONE]")
    assert '"choices":[]' not in text  # the usage chunk the gateway asked for is not relayed
    assert json.loads(last_request(sim)["body"])["stream_options"] == {"include_usage": True}


def test_a_new_declaration_checks_its_own_body(served: tuple[str, str, dict[str, str]]) -> None:
    _, url, headers = served
    answer = httpx.post(
        url + _ROUTE, json={"model": SOLO_MODEL, "prompt": [1, 2, 3]}, headers=headers, timeout=30
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "prompt"
    assert "expected a string" in error["message"]
