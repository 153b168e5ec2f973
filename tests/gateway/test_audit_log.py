"""The audit log of a running gateway: one chained line per request, verified, and looked up by admins."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import httpx
import openai

from gateway.app import create_app
from gateway.audit import verify_chain
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
