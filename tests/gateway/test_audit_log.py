"""The audit log of a running gateway: one chained line per request, verified, and looked up by admins."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import httpx
import openai

from gateway.app import create_app
from gateway.audit import audit_time, verify_chain
from gateway.metering import open_usage_store
from gateway.request_record import RequestRecord
from tests.gateway.conftest import (
    DEPARTMENT,
    SERVICE,
    SOLO_MODEL,
    gateway_config,
    issue_key,
    running_simulator,
)
from tests.servers import serve_in_thread

EMAIL = "claire.dupont@interieur.gouv.fr"


def test_every_request_is_audited_and_the_chain_verifies() -> None:
    with running_simulator(SOLO_MODEL, mode="echo") as sim, tempfile.TemporaryDirectory() as folder:
        audit_path = Path(folder) / "audit.jsonl"
        config = gateway_config(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            pii={"mode": "pseudonymize", "names": "off"},
            audit={"enabled": True, "path": str(audit_path), "hash_chain": True},
        )
        user_key = issue_key(config)
        other_key = issue_key(config, "drees", "statistiques")
        admin_key = issue_key(config, DEPARTMENT, "console-dgfip", "department-admin")
        other_admin_key = issue_key(config, "drees", "console-drees", "department-admin")
        with (
            serve_in_thread(create_app(config)) as url,
            openai.OpenAI(base_url=f"{url}/v1", api_key=user_key, max_retries=0) as client,
            openai.OpenAI(base_url=f"{url}/v1", api_key=other_key, max_retries=0) as other,
        ):
            reply = client.chat.completions.with_raw_response.create(
                model=SOLO_MODEL, messages=[{"role": "user", "content": f"Écrire à {EMAIL}"}]
            )
            allowed_id = reply.headers["x-request-id"]
            denied = httpx.post(
                f"{url}/v1/chat/completions",
                json={"model": SOLO_MODEL, "messages": [{"role": "user", "content": "x"}]},
                headers={"authorization": f"Bearer {user_key}x"},
                timeout=10,
            )
            assert denied.status_code == 401
            other_id = other.completions.with_raw_response.create(
                model=SOLO_MODEL, prompt="x", max_tokens=5
            ).headers["x-request-id"]

            def lookup(request_id: str, key: str) -> httpx.Response:
                return httpx.get(
                    f"{url}/admin/requests/{request_id}",
                    headers={"authorization": f"Bearer {key}"},
                    timeout=10,
                )

            found = lookup(allowed_id, admin_key)
            assert found.status_code == 200, found.text
            assert found.json()["request_id"] == allowed_id
            # Another department's record, a user's key and an unknown id: nothing is shown.
            assert lookup(allowed_id, other_admin_key).status_code == 404
            assert lookup(other_id, admin_key).status_code == 404
            assert lookup(allowed_id, user_key).status_code == 403
            assert lookup("req-" + "0" * 24, admin_key).status_code == 404
            assert lookup("../../etc/passwd", admin_key).status_code == 404
        # The server stopped: every record is written.
        lines = audit_path.read_bytes().splitlines()
        records = [json.loads(line) for line in lines]
        assert verify_chain([audit_path]).intact

    by_status = {record["status"]: record for record in records}
    allowed = next(record for record in records if record["request_id"] == allowed_id)
    assert allowed["department"] == DEPARTMENT and allowed["service"] == SERVICE
    assert allowed["decision"] == "allow" and allowed["rule"].startswith("p, user")
    assert allowed["pii"] == {"EMAIL": 1}
    assert allowed["prompt_tokens"] > 0 and allowed["completion_tokens"] > 0
    assert allowed["backend"] == sim and allowed["model"] == SOLO_MODEL
    assert by_status[401]["decision"] is None and by_status[401]["department"] == ""
    elsewhere = next(record for record in records if record["request_id"] == other_id)
    assert elsewhere["operation"] == "completions" and elsewhere["department"] == "drees"
    assert [record["seq"] for record in records] == list(range(1, len(records) + 1))
    text = b"\n".join(lines).decode()
    assert EMAIL not in text
    for key in (user_key, other_key, admin_key):
        assert key not in text and key.split("_", 2)[2] not in text


# What a usage record and an audit line both carry, and how the line writes each (None: as is).
_SHARED = {
    "time": audit_time,
    "latency_ms": lambda value: round(value, 3),
    "request_id": None,
    "trace_id": None,
    "department": None,
    "service": None,
    "key_id": None,
    "model": None,
    "backend": None,
    "operation": None,
    "prompt_tokens": None,
    "completion_tokens": None,
    "weighted_cost": None,
    "cost_eur": None,
    "status": None,
}


def test_a_request_s_usage_record_and_audit_line_agree_on_every_shared_field() -> None:
    with running_simulator(SOLO_MODEL, mode="echo") as sim, tempfile.TemporaryDirectory() as folder:
        audit_path = Path(folder) / "audit.jsonl"
        config = gateway_config(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            audit={"enabled": True, "path": str(audit_path)},
        )
        key = issue_key(config)
        with (
            serve_in_thread(create_app(config)) as url,
            openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0) as client,
        ):
            ids = [
                client.chat.completions.with_raw_response.create(
                    model=SOLO_MODEL, messages=[{"role": "user", "content": "Bonjour"}]
                ).headers["x-request-id"],
                client.completions.with_raw_response.create(
                    model=SOLO_MODEL, prompt="x", max_tokens=5
                ).headers["x-request-id"],
            ]
            with client.chat.completions.with_streaming_response.create(
                model=SOLO_MODEL, messages=[{"role": "user", "content": "Salut"}], stream=True
            ) as streamed:
                ids.append(streamed.headers["x-request-id"])
                for _ in streamed.iter_lines():
                    pass

        async def read_usage() -> list[RequestRecord]:
            store = await open_usage_store(config.store, config.metering, read_only=True)
            try:
                return [record async for record in store.records(store.calendar.current())]
            finally:
                await store.close()

        # The server stopped: every record is written, to both.
        usage = {record.request_id: record for record in asyncio.run(read_usage())}
        lines = {line["request_id"]: line for line in map(json.loads, audit_path.read_bytes().splitlines())}
        assert set(usage) == set(lines) == set(ids)
        for request_id in ids:
            record, line = usage[request_id], lines[request_id]
            written = {
                name: getattr(record, name) if convert is None else convert(getattr(record, name))
                for name, convert in _SHARED.items()
            }
            assert written == {name: line[name] for name in _SHARED}
            assert record.prompt_tokens > 0 and record.status == 200
