"""Every field a backend receives is scanned for personal data, not only the prompt: each one is either
redacted in place or, when rewriting it would change what the request does, refused. An echoing
simulator shows what a backend really received."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from stdnum.fr import nir

from tests.gateway.conftest import (
    DEPARTMENT,
    SOLO_MODEL,
    RunningGateway,
    issue_key,
    last_request,
    running_gateway,
    running_simulator,
)

IBAN = "FR7630006000011234567890189"
NIR_BODY = "1850578006084"
NIR = f"{NIR_BODY}{nir.calc_check_digits(NIR_BODY)}"
# The first bytes of a PNG file: binary content, which is not text and is never scanned.
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4).decode()


@dataclass
class Deployment:
    sim: str
    gateway: RunningGateway
    detect_key: str

    def post(self, path: str, body: dict[str, Any] | bytes, *, detect: bool = False) -> httpx.Response:
        key = self.detect_key if detect else self.gateway.api_key
        return httpx.post(
            f"{self.gateway.v1}{path}",
            content=body if isinstance(body, bytes) else json.dumps(body).encode(),
            headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
            timeout=30,
        )

    def received(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(last_request(self.sim)["body"])
        return document

    def received_raw(self) -> str:
        body: str = last_request(self.sim)["body"]
        return body


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    with (
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            pii={
                "mode": "pseudonymize",
                "names": "off",
                "rules": [{"service": "comptage", "mode": "detect"}],
            },
        ) as gateway,
    ):
        detect_key = issue_key(gateway.state.config, DEPARTMENT, "comptage")
        yield Deployment(sim, gateway, detect_key)


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": SOLO_MODEL, "messages": [{"role": "user", "content": "Bonjour"}], **fields}


def _image(url: str) -> dict[str, Any]:
    part = {"type": "image_url", "image_url": {"url": url}}
    return _chat(messages=[{"role": "user", "content": [{"type": "text", "text": "Lis ceci"}, part]}])


# Field: (path, request, where the field is in what the backend received, what it must hold there).
REDACTED_IN_PLACE: dict[str, tuple[str, dict[str, Any], Callable[[dict[str, Any]], Any], str]] = {
    "messages[].name": (
        "/chat/completions",
        _chat(messages=[{"role": "user", "name": f"client {IBAN}", "content": "Bonjour"}]),
        lambda body: body["messages"][0]["name"],
        "client <IBAN_1>",
    ),
    "tools[].function.description": (
        "/chat/completions",
        _chat(tools=[{"type": "function", "function": {"name": "virer", "description": f"Vers {IBAN}"}}]),
        lambda body: body["tools"][0]["function"]["description"],
        "Vers <IBAN_1>",
    ),
    "documents": (
        "/chat/completions",
        _chat(documents=[{"title": "RIB", "text": f"IBAN {IBAN}"}]),
        lambda body: body["documents"][0]["text"],
        "IBAN <IBAN_1>",
    ),
    "response_format JSON schema": (
        "/chat/completions",
        _chat(
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "releve",
                    "schema": {
                        "type": "object",
                        "properties": {"iban": {"type": "string", "description": IBAN}},
                    },
                },
            }
        ),
        lambda body: body["response_format"]["json_schema"]["schema"]["properties"]["iban"]["description"],
        "<IBAN_1>",
    ),
    "chat_template_kwargs": (
        "/chat/completions",
        _chat(chat_template_kwargs={"titulaire": f"NIR {NIR}"}),
        lambda body: body["chat_template_kwargs"]["titulaire"],
        "NIR <FR_NIR_1>",
    ),
    "suffix": (
        "/completions",
        {"model": SOLO_MODEL, "prompt": "Bonjour", "suffix": f"NIR {NIR}", "max_tokens": 5},
        lambda body: body["suffix"],
        "NIR <FR_NIR_1>",
    ),
    "prompt.variables": (
        "/responses",
        {"model": SOLO_MODEL, "input": "Bonjour", "prompt": {"id": "pmpt_1", "variables": {"rib": IBAN}}},
        lambda body: body["prompt"]["variables"]["rib"],
        "<IBAN_1>",
    ),
    "an unknown field": (
        "/chat/completions",
        _chat(x_vendor={"notes": [f"NIR {NIR}"]}),
        lambda body: body["x_vendor"]["notes"][0],
        "NIR <FR_NIR_1>",
    ),
}


@pytest.mark.parametrize("field", REDACTED_IN_PLACE)
def test_fields_beyond_the_prompt_are_redacted_in_place(deployment: Deployment, field: str) -> None:
    path, body, pick, expected = REDACTED_IN_PLACE[field]
    deployment.post(path, body)  # some are refused by the simulator, after it has seen them
    assert pick(deployment.received()) == expected
    assert IBAN not in deployment.received_raw() and NIR not in deployment.received_raw()


# Field: (request, the refusal's `param`, the entity type it names).
REFUSED: dict[str, tuple[dict[str, Any], str, str]] = {
    "a data: URL holding text as an image": (
        _image("data:image/png;base64," + base64.b64encode(f"IBAN {IBAN}".encode()).decode()),
        "messages[0].content[1].image_url.url",
        "IBAN",
    ),
    "a data: URL holding text": (
        _image(f"data:text/plain,NIR%20{NIR}"),
        "messages[0].content[1].image_url.url",
        "FR_NIR",
    ),
    "an image URL": (
        _image(f"https://documents.example.org/rib.png?iban={IBAN}"),
        "messages[0].content[1].image_url.url",
        "IBAN",
    ),
    "a regular expression": (
        _chat(
            response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": {"pattern": IBAN}}}
        ),
        "response_format.json_schema.schema.pattern",
        "IBAN",
    ),
    "an object key": (_chat(chat_template_kwargs={IBAN: "titulaire"}), "chat_template_kwargs", "IBAN"),
}


@pytest.mark.parametrize("field", REFUSED)
def test_fields_that_cannot_be_rewritten_are_refused(deployment: Deployment, field: str) -> None:
    body, param, entity = REFUSED[field]
    before = last_request(deployment.sim)
    response = deployment.post("/chat/completions", body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "pii_detected", param)
    assert entity in error["message"] and IBAN not in error["message"] and NIR not in error["message"]
    assert last_request(deployment.sim) == before

    counted = deployment.post("/chat/completions", body, detect=True)  # `detect` only counts
    assert counted.status_code == 200, counted.text


def test_binary_content_is_forwarded_untouched(deployment: Deployment) -> None:
    response = deployment.post("/chat/completions", _image(f"data:image/png;base64,{PNG}"))
    assert response.status_code == 200, response.text
    assert (
        deployment.received()["messages"][0]["content"][1]["image_url"]["url"]
        == f"data:image/png;base64,{PNG}"
    )


def test_a_duplicate_key_never_reaches_the_backend(deployment: Deployment) -> None:
    # JSON parsers keep the last of two equal keys; the first, unscanned copy must not go through.
    raw = (
        b'{"model": "'
        + SOLO_MODEL.encode()
        + b'", "messages": [{"role": "user", "content": "IBAN '
        + IBAN.encode()
        + b'"}], "messages": [{"role": "user", "content": "Bonjour"}]}'
    )
    response = deployment.post("/chat/completions", raw)
    assert response.status_code == 200, response.text
    assert IBAN not in deployment.received_raw()
    assert deployment.received_raw().count('"messages"') == 1
    assert deployment.received()["messages"] == [{"role": "user", "content": "Bonjour"}]


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (
            "/chat/completions",
            _chat(
                messages=[
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": "[" * 5000 + "]" * 5000},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "ok"},
                ]
            ),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            "/responses",
            {
                "model": SOLO_MODEL,
                "input": [
                    {
                        "type": "function_call",
                        "call_id": "c1",
                        "name": "f",
                        "arguments": '{"a":' * 5000 + "1" + "}" * 5000,
                    }
                ],
            },
            "input[0].arguments",
        ),
    ],
)
def test_tool_arguments_nested_too_deeply_are_a_400(
    deployment: Deployment, path: str, body: dict[str, Any], param: str
) -> None:
    response = deployment.post(path, body)
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert "nested too deeply" in error["message"]
