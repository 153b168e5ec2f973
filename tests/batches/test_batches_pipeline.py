"""A batch's lines go through the whole pipeline under the batch's key: each is authorized, its
personal data pseudonymized before the backend and restored in the output, charged at the batch
price factor, and audited like any request."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.audit import verify_chain
from tests.batches.conftest import FINAL, chat_line, jsonl, sdk, wait_for_status
from tests.gateway.conftest import DEPARTMENT, SERVICE, SOLO_MODEL, running_gateway, running_simulator

EMAIL = "jeanne.martin@interieur.gouv.fr"


def test_batch_lines_are_redacted_charged_and_audited(tmp_path: Path) -> None:
    audit_path = tmp_path / "audit.jsonl"
    with running_simulator(SOLO_MODEL, mode="echo") as sim:
        models = [{"name": SOLO_MODEL, "backends": [{"url": sim}]}]
        with running_gateway(
            models,
            batches={"directory": str(tmp_path / "files"), "poll_seconds": 0.05},
            pii={"mode": "pseudonymize", "names": "off"},
            audit={"enabled": True, "path": str(audit_path), "hash_chain": True},
            quotas={"batch_price_factor": 0.5, "departments": {DEPARTMENT: {"tokens_per_month": 10**9}}},
        ) as gateway:
            client = sdk(gateway)
            content = "".join(
                chat_line(f"mail-{n}", f"Répondre à {EMAIL}", model=SOLO_MODEL, max_tokens=64) + "\n"
                for n in range(3)
            )
            uploaded = client.files.create(file=("mails.jsonl", content.encode()), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            done = wait_for_status(client, batch.id, FINAL)
            assert done.status == "completed" and done.output_file_id is not None
            lines = jsonl(client.files.content(done.output_file_id).content)
            request_ids = {line["response"]["request_id"] for line in lines}
        records = [json.loads(line) for line in audit_path.read_bytes().splitlines()]

    # The echo backend answered with what it received: a placeholder, restored in the output file.
    for line in lines:
        assert EMAIL in line["response"]["body"]["choices"][0]["message"]["content"]
    audited = [record for record in records if record["request_id"] in request_ids]
    assert len(audited) == 3 and verify_chain([audit_path]).intact
    for record in audited:
        assert (record["department"], record["service"], record["operation"]) == (DEPARTMENT, SERVICE, "chat")
        assert record["decision"] == "allow" and record["pii"] == {"EMAIL": 1}
        # Half the weight of the same tokens sent interactively (weights 1, multiplier 1).
        full = record["prompt_tokens"] + record["completion_tokens"]
        assert record["weighted_cost"] in (full // 2, (full + 1) // 2)
    assert EMAIL not in audit_path.read_text()
