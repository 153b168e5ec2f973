"""Helpers of the batch tests: input files, the SDK, and bounded waits for a batch's status."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
from openai.types import Batch

from tests.gateway.conftest import CHAT_MODEL, RunningGateway

FINAL = {"completed", "failed", "expired", "cancelled"}


def chat_line(
    custom_id: str, content: str = "Bonjour", *, max_tokens: int = 4, model: str = CHAT_MODEL
) -> str:
    body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body})


def chat_file(count: int, **fields: Any) -> bytes:
    return "".join(chat_line(f"request-{n}", **fields) + "\n" for n in range(count)).encode()


def sdk(gateway: RunningGateway, api_key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=api_key or gateway.api_key, max_retries=0, timeout=30)


def wait_for_status(client: openai.OpenAI, batch_id: str, statuses: set[str], seconds: float = 60) -> Batch:
    """The batch once its status is one of `statuses`; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        assert time.monotonic() < deadline, f"batch still {batch.status} after {seconds} s: {batch}"
        time.sleep(0.1)


def jsonl(content: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in content.decode().splitlines() if line.strip()]
