"""The API reference: the OpenAPI document names every route the gateway serves (a new declaration or
route cannot be forgotten), its schemas agree with the checks, and `server.api_docs` decides who
reads it."""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import msgspec
import pytest

from gateway.apidocs.document import document_bytes, openapi_document
from gateway.apidocs.inference import is_streamed, request_schema
from gateway.apidocs.routes import DOCUMENT_PATH, PAGE_PATH, STYLESHEET_PATH
from gateway.app import create_app
from gateway.errors import InvalidRequest
from gateway.operations import (
    CHAT,
    COMPLETIONS,
    MESSAGES,
    OPERATIONS,
    RESPONSES,
    TRANSCRIPTIONS,
    TRANSLATIONS,
    ErrorFormat,
    Operation,
)
from gateway.parsing import parse_request
from tests.gateway.conftest import SOLO_MODEL, RunningGateway, gateway_config, running_gateway

_MODELS = [{"name": SOLO_MODEL, "backends": [{"url": "http://127.0.0.1:9"}]}]
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
_NOT_DOCUMENTED = ("/console", "/metrics", DOCUMENT_PATH, PAGE_PATH)
_ERROR_STATUSES = {"400", "401", "403", "404", "413", "429", "502", "503", "504"}


def _document() -> dict[str, Any]:
    # What clients read: the bytes served, decoded, rather than the builder's own dict.
    document: dict[str, Any] = msgspec.json.decode(document_bytes())
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_route_the_app_serves_is_in_the_document() -> None:
    app = create_app(gateway_config(_MODELS, console={"enabled": True}))
    documented = {(path, method.upper()) for path, method, _ in _operations(_document())}
    served = set()
    for route in app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # Litestar's `{key_id:str}` is `{key_id}`
        if path.startswith(_NOT_DOCUMENTED):
            continue
        served |= {(path, method) for method in route.methods & _METHODS}
    assert served == documented
    for operation in OPERATIONS:
        for path in operation.routes:
            assert (path, "POST") in documented, operation.value
    for path in ("/v1/models", "/v1/models/{model_id}", "/health/live", "/health/ready"):
        assert (path, "GET") in documented
    assert {path for path, _ in documented if path.startswith("/admin/")} == {
        "/admin/keys",
        "/admin/keys/{key_id}",
        "/admin/usage",
        "/admin/requests/{request_id}",
        "/admin/policy",
        "/admin/policy/reload",
    }


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def test_the_document_is_openapi_3_1_and_self_contained() -> None:
    document = _document()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    components = document["components"]
    for reference in _references(document):
        section, name = reference.removeprefix("#/components/").split("/")
        assert name in components[section], reference
    tags = {tag["name"] for tag in document["tags"]}
    operation_ids = []
    for path, method, operation in _operations(document):
        assert method in {"get", "post", "put", "patch", "delete"}, path
        assert operation["summary"], (method, path)
        assert set(operation["tags"]) <= tags, (method, path)
        operation_ids.append(operation["operationId"])
        for requirement in operation.get("security", ()):
            assert set(requirement) <= set(components["securitySchemes"]), (method, path)
        for status, answer in operation["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d", status) and answer["description"], (method, path, status)
        for parameter in operation.get("parameters", ()):
            if parameter["in"] == "path":
                assert f"{{{parameter['name']}}}" in path and parameter["required"]
        body = operation.get("requestBody")
        if body is not None:
            for content in body["content"].values():
                jsonschema.Draft202012Validator.check_schema(content["schema"])
    assert len(operation_ids) == len(set(operation_ids)), "operation ids must be unique"
    for schema in components["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_each_declaration_documents_itself() -> None:
    document = _document()
    for operation in OPERATIONS:
        assert operation.summary, f"{operation.value}: a declaration needs a `summary`"
        assert operation.body_schema is not None, f"{operation.value}: a declaration needs a `body_schema`"
        assert operation.body_schema.get("additionalProperties") is True, operation.value
        for path in operation.routes:
            entry = document["paths"][path]["post"]
            assert entry["x-policy-action"] == operation.value
            assert set(entry["responses"]) >= _ERROR_STATUSES
            shape = "AnthropicError" if operation.error_format is ErrorFormat.ANTHROPIC else "Error"
            error = entry["responses"]["429"]["content"]["application/json"]["schema"]
            assert error == {"$ref": f"#/components/schemas/{shape}"}
            schemes = [name for requirement in entry["security"] for name in requirement]
            assert schemes == ["bearer", *([operation.key_header] if operation.key_header else [])]
            streamed = "text/event-stream" in entry["responses"]["200"]["content"]
            assert streamed == is_streamed(operation), operation.value
            media = "multipart/form-data" if operation.multipart else "application/json"
            assert set(entry["requestBody"]["content"]) == {media}, operation.value
    assert {operation for operation in OPERATIONS if is_streamed(operation)} == {
        CHAT,
        COMPLETIONS,
        RESPONSES,
        MESSAGES,
        TRANSCRIPTIONS,
        TRANSLATIONS,
    }
    key_header = document["components"]["securitySchemes"]["x-api-key"]
    assert key_header == {**key_header, "type": "apiKey", "in": "header", "name": "x-api-key"}


# Stands for an uploaded audio file in the bodies below: the schema sees a string (a binary part),
# the gateway a WAV file part.
_AUDIO = "(audio file)"


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(16000)
        recording.writeframes(b"\0\0" * 1600)
    return out.getvalue()


# The smallest body the gateway accepts for each operation (with `model`); a new declaration adds its own.
_SMALLEST: dict[str, dict[str, Any]] = {
    "chat": {"messages": [{"role": "user", "content": "Bonjour"}]},
    "completions": {"prompt": "Bonjour"},
    "embeddings": {"input": "Bonjour"},
    "responses": {"input": "Bonjour"},
    "messages": {"messages": [{"role": "user", "content": "Bonjour"}], "max_tokens": 16},
    "count_tokens": {"messages": [{"role": "user", "content": "Bonjour"}]},
    "rerank": {"query": "impôts", "documents": ["a", "b"]},
    "score": {"text_1": "a", "text_2": "b"},
    "classify": {"input": "Bonjour"},
    "pooling": {"messages": [{"role": "user", "content": "Bonjour"}]},
    "tokenize": {"prompt": "Bonjour"},
    "detokenize": {"tokens": [1, 2]},
    # A form: its file is sent as a part of its own (`_gateway_accepts`).
    "transcriptions": {"file": _AUDIO},
    "translations": {"file": _AUDIO},
}


def _gateway_accepts(operation: Operation, body: dict[str, Any]) -> bool:
    try:
        if operation.multipart:
            raw, content_type = _form(body)
            parse_request(operation, raw, max_choices=128, content_type=content_type, max_file_bytes=1 << 20)
        else:
            parse_request(operation, msgspec.json.encode(body), max_choices=128)
    except InvalidRequest:
        return False
    return True


def _form(fields: dict[str, Any]) -> tuple[bytes, str]:
    """`fields` as a multipart form, as httpx writes one: `_AUDIO` as a file part holding a short WAV
    recording, every other value as a text field (a `file` of the wrong type is no file at all)."""
    files = {"file": ("speech.wav", _wav(), "audio/wav")} if fields.get("file") == _AUDIO else {}
    data = {name: str(value) for name, value in fields.items() if name != "file" or not files}
    request = httpx.Request("POST", "http://127.0.0.1/", data=data, files=files or None)
    return request.read(), request.headers["content-type"]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.value for operation in OPERATIONS])
def test_the_schema_agrees_with_the_checks(operation: Operation) -> None:
    """What the schema requires is what the gateway checks: the smallest body passes both, and
    without any one of its fields (or with it of the wrong type) both refuse it."""
    validator = jsonschema.Draft202012Validator(request_schema(operation))
    smallest = {"model": SOLO_MODEL, **_SMALLEST[operation.value]}
    assert validator.is_valid(smallest) and _gateway_accepts(operation, smallest)
    extra = {**smallest, "temperature": 0.2, "anything_vllm_reads": {"x": 1}}
    assert validator.is_valid(extra) and _gateway_accepts(operation, extra)
    for field in _SMALLEST[operation.value]:
        without = {name: value for name, value in smallest.items() if name != field}
        assert not validator.is_valid(without), field
        assert not _gateway_accepts(operation, without), field
        wrong = {**smallest, field: 12.5}
        assert not validator.is_valid(wrong), field
        assert not _gateway_accepts(operation, wrong), field
    assert not validator.is_valid({key: value for key, value in smallest.items() if key != "model"})


def test_the_document_is_built_once() -> None:
    assert openapi_document() is openapi_document()
    assert document_bytes() is document_bytes()


@pytest.fixture(scope="module")
def public() -> Iterator[RunningGateway]:
    with running_gateway(_MODELS) as gateway:
        yield gateway


def test_public_by_default(public: RunningGateway) -> None:
    answer = httpx.get(public.url + DOCUMENT_PATH)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.content == document_bytes()
    page = httpx.get(public.url + PAGE_PATH)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'none'" in policy
    assert "<script" not in page.text
    stylesheet = httpx.get(public.url + STYLESHEET_PATH)
    assert stylesheet.status_code == 200 and stylesheet.headers["content-type"].startswith("text/css")
    # Litestar's own schema pages (which load their renderers from CDNs) are not served.
    assert httpx.get(public.url + "/schema/swagger").status_code == 404


def test_authenticated_needs_a_key() -> None:
    with running_gateway(_MODELS, server={"api_docs": "authenticated"}) as gateway:
        for path in (DOCUMENT_PATH, PAGE_PATH):
            refused = httpx.get(gateway.url + path)
            assert refused.status_code == 401, path
            assert refused.json()["error"]["code"] == "invalid_api_key"
            assert httpx.get(gateway.url + path, headers=gateway.headers).status_code == 200, path


def test_off_serves_nothing() -> None:
    app = create_app(gateway_config(_MODELS, server={"api_docs": "off"}))
    paths = {route.path for route in app.routes}
    assert not paths & {DOCUMENT_PATH, PAGE_PATH, STYLESHEET_PATH}
    with running_gateway(_MODELS, server={"api_docs": "off"}) as gateway:
        for path in (DOCUMENT_PATH, PAGE_PATH, STYLESHEET_PATH):
            assert httpx.get(gateway.url + path, headers=gateway.headers).status_code == 404, path
