"""Identity and access through the gateway: 401, 403, filtered models, the admin API, hot reload."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.gateway.conftest import (
    CHAT_MODEL,
    DEPARTMENT,
    POLICIES,
    RunningGateway,
    issue_key,
    running_gateway,
    running_simulator,
)
from tests.redis_server import running_redis

LARGE_MODEL = "mistral-large"
OTHER_MODEL = "llama-3.1-405b"


def _models(sim: str) -> list[dict[str, Any]]:
    return [{"name": name, "backends": [{"url": sim}]} for name in (CHAT_MODEL, LARGE_MODEL, OTHER_MODEL)]


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    with running_simulator(CHAT_MODEL, LARGE_MODEL, OTHER_MODEL) as url:
        yield url


@pytest.fixture(scope="module")
def gateway(sim: str) -> Iterator[RunningGateway]:
    with running_gateway(_models(sim)) as gw:
        yield gw


def _key(gw: RunningGateway, department: str, service: str, *roles: str) -> str:
    return issue_key(gw.state.config, department, service, *roles)


def _client(gw: RunningGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)


def _chat(client: openai.OpenAI, model: str) -> str | None:
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "x"}], max_tokens=1
    )
    return reply.choices[0].message.content


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-key",
        "Bearer sgw_000000000000_" + "A" * 43,
        "Bearer sk-proj-0123456789",
    ],
)
def test_bad_keys_get_one_and_the_same_401(gateway: RunningGateway, authorization: str | None) -> None:
    headers = {"authorization": authorization} if authorization is not None else {}
    response = httpx.post(
        f"{gateway.v1}/chat/completions", json={"model": CHAT_MODEL}, headers=headers, timeout=10
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "error": {
            "message": "Invalid API key provided.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


def test_sdk_sees_authentication_and_permission_errors(gateway: RunningGateway) -> None:
    with (
        _client(gateway, "sgw_wrongwrongwr_" + "x" * 43) as client,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        _chat(client, CHAT_MODEL)
    assert caught.value.code == "invalid_api_key"

    # The mail assistant (no role but its service's own rules) may chat with mistral-* but not the large one.
    key = _key(gateway, DEPARTMENT, "assistant-courrier", "reader")
    with _client(gateway, key) as client:
        assert _chat(client, CHAT_MODEL)
        with pytest.raises(openai.PermissionDeniedError) as denied:
            _chat(client, LARGE_MODEL)
        assert denied.value.code == "permission_denied"
        assert LARGE_MODEL in denied.value.message and "chat" in denied.value.message
        assert "policy" not in denied.value.message.lower()
        with pytest.raises(openai.PermissionDeniedError):
            client.completions.create(model=CHAT_MODEL, prompt="x", max_tokens=1)


def test_models_are_listed_per_caller(gateway: RunningGateway) -> None:
    courrier = _key(gateway, DEPARTMENT, "assistant-courrier", "reader")
    with _client(gateway, courrier) as client:
        assert {model.id for model in client.models.list()} == {CHAT_MODEL}
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve(LARGE_MODEL)  # hidden, like a model that does not exist
    legal = _key(gateway, DEPARTMENT, "recherche-juridique", "reader")
    with _client(gateway, legal) as client:
        assert {model.id for model in client.models.list()} == {CHAT_MODEL, LARGE_MODEL}
    user = _key(gateway, "dinum", "albert")
    with _client(gateway, user) as client:
        assert {model.id for model in client.models.list()} == {CHAT_MODEL, LARGE_MODEL, OTHER_MODEL}
    assert httpx.get(f"{gateway.v1}/models", timeout=5).status_code == 401


def _admin(gw: RunningGateway, key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method, f"{gw.url}/admin{path}", headers={"authorization": f"Bearer {key}"}, timeout=10, **kwargs
    )


def test_admin_api_is_closed_to_users(gateway: RunningGateway) -> None:
    user = _key(gateway, DEPARTMENT, "assistant-courrier")
    for method, path, body in [
        ("GET", "/keys", None),
        ("POST", "/keys", {"service": "x"}),
        ("DELETE", "/keys/abcdefghijkl", None),
        ("GET", "/policy", None),
    ]:
        response = _admin(gateway, user, method, path, json=body)
        assert response.status_code in (403, 404), (method, path, response.text)
        assert response.json()["error"]["code"] in ("permission_denied", "key_not_found")
    assert _admin(gateway, user, "GET", "/keys").status_code == 403


def test_department_admin_manages_its_own_department_only(gateway: RunningGateway) -> None:
    admin = _key(gateway, DEPARTMENT, "console-dgfip")  # holds department-admin in dgfip (policy.csv)
    created = _admin(gateway, admin, "POST", "/keys", json={"service": "nouvelle-appli", "label": "essai"})
    assert created.status_code == 201, created.text
    new_key = created.json()["key"]
    assert created.json()["department"] == DEPARTMENT
    assert "hash" not in created.json()

    listing = _admin(gateway, admin, "GET", "/keys").json()["data"]
    assert {row["department"] for row in listing} == {DEPARTMENT}
    assert all(new_key not in str(row) for row in listing), "a listing must never show a key"
    assert _admin(gateway, admin, "GET", "/keys", params={"department": "dinum"}).status_code == 403
    assert (
        _admin(gateway, admin, "POST", "/keys", json={"department": "dinum", "service": "x"}).status_code
        == 403
    )
    escalation = _admin(gateway, admin, "POST", "/keys", json={"service": "y", "roles": ["admin"]})
    assert escalation.status_code == 403

    other = _key(gateway, "dinum", "albert")
    other_id = other.split("_")[1]
    assert _admin(gateway, admin, "DELETE", f"/keys/{other_id}").status_code == 404

    with _client(gateway, new_key) as client:
        assert _chat(client, CHAT_MODEL)
    revoked = _admin(gateway, admin, "DELETE", f"/keys/{new_key.split('_')[1]}")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    with _client(gateway, new_key) as client, pytest.raises(openai.AuthenticationError):
        _chat(client, CHAT_MODEL)


def test_platform_admin_reaches_every_department(gateway: RunningGateway) -> None:
    platform = _key(gateway, "dinum", "plateforme", "admin")
    created = _admin(
        gateway, platform, "POST", "/keys", json={"department": "dgfip", "service": "z", "roles": ["admin"]}
    )
    assert created.status_code == 201, created.text
    everything = _admin(gateway, platform, "GET", "/keys", params={"department": "*"}).json()["data"]
    assert {"dgfip", "dinum"} <= {row["department"] for row in everything}
    status = _admin(gateway, platform, "GET", "/policy").json()
    assert status["last_error"] is None
    assert status["digest"]


def test_bad_admin_requests_are_clear(gateway: RunningGateway) -> None:
    platform = _key(gateway, "dinum", "plateforme", "admin")
    for body, param in [
        ({}, "service"),
        ({"service": 3}, "service"),
        ({"service": "x", "roles": "admin"}, "roles"),
    ]:
        response = _admin(gateway, platform, "POST", "/keys", json=body)
        assert response.status_code == 400
        assert response.json()["error"]["param"] == param
    bad_name = _admin(gateway, platform, "POST", "/keys", json={"service": "Pas Valide"})
    assert bad_name.status_code == 400
    assert "not a valid name" in bad_name.json()["error"]["message"]
    role_as_service = _admin(gateway, platform, "POST", "/keys", json={"service": "admin"})
    assert role_as_service.status_code == 400
    assert (
        _admin(gateway, platform, "POST", "/keys", json={"service": "x", "expires_in": "soon"}).status_code
        == 400
    )


def test_policy_edit_takes_effect_without_restart_or_failed_requests(sim: str, tmp_path: Path) -> None:
    shutil.copy(POLICIES / "model.conf", tmp_path / "model.conf")
    policy = tmp_path / "policy.csv"
    shutil.copy(POLICIES / "policy.csv", policy)
    policy_section = {
        "model_file": str(tmp_path / "model.conf"),
        "policy_file": str(policy),
        "reload_interval": 0.2,
    }
    with running_gateway(_models(sim), policy=policy_section) as gw:
        key = _key(gw, DEPARTMENT, "assistant-courrier", "reader")
        failures: list[str] = []
        stop = threading.Event()

        def keep_chatting() -> None:
            with httpx.Client(headers={"authorization": f"Bearer {key}"}, timeout=10) as client:
                for _ in range(2000):
                    if stop.is_set():
                        return
                    response = client.post(
                        f"{gw.v1}/chat/completions",
                        json={
                            "model": CHAT_MODEL,
                            "messages": [{"role": "user", "content": "x"}],
                            "max_tokens": 1,
                        },
                    )
                    if response.status_code != 200:
                        failures.append(response.text)

        worker = threading.Thread(target=keep_chatting)
        worker.start()
        try:
            with _client(gw, key) as client:
                with pytest.raises(openai.PermissionDeniedError):
                    _chat(client, OTHER_MODEL)
                policy.write_text(
                    policy.read_text(encoding="utf-8")
                    + "\np, assistant-courrier, dgfip, llama-*, chat, allow\n",
                    encoding="utf-8",
                )
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    try:
                        _chat(client, OTHER_MODEL)
                        break
                    except openai.PermissionDeniedError:
                        time.sleep(0.1)
                else:
                    pytest.fail("the new rule did not take effect within 5 s")

                policy.write_text("p, this line, is, broken\n[not csv at all", encoding="utf-8")
                time.sleep(1.0)
                assert _chat(client, OTHER_MODEL), "a broken policy file must leave the old policy in force"
        finally:
            stop.set()
            worker.join(timeout=30)
        assert failures == [], failures[:3]


def test_revocation_reaches_another_gateway_sharing_redis(sim: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_KEY_PEPPER", "a-test-pepper-that-is-long-enough-1234567890")
    with running_redis() as redis_url:
        store = {"kind": "redis", "url": redis_url}
        with (
            running_gateway(_models(sim), store=store) as first,
            running_gateway(_models(sim), store=store) as second,
        ):
            key = _key(first, DEPARTMENT, "assistant-courrier")
            admin = _key(first, DEPARTMENT, "console-dgfip")
            with _client(second, key) as client:
                assert _chat(client, CHAT_MODEL)  # now cached by the second gateway
                revoked = _admin(first, admin, "DELETE", f"/keys/{key.split('_')[1]}")
                assert revoked.status_code == 200
                time.sleep(1.0)
                with pytest.raises(openai.AuthenticationError):
                    _chat(client, CHAT_MODEL)


def test_no_key_material_in_logs(gateway: RunningGateway, caplog: pytest.LogCaptureFixture) -> None:
    key = _key(gateway, DEPARTMENT, "assistant-courrier")
    secret = key.split("_", 2)[2]
    with caplog.at_level(logging.DEBUG):
        with _client(gateway, key) as client:
            _chat(client, CHAT_MODEL)
        httpx.post(
            f"{gateway.v1}/chat/completions", json={}, headers={"authorization": f"Bearer {key}x"}, timeout=5
        )
    logged = "\n".join(record.getMessage() + str(record.args) for record in caplog.records)
    assert secret not in logged
    assert key not in logged
