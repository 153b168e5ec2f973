"""A gateway killed (SIGKILL) in the middle of a batch loses no line and repeats no finished one: a
restarted gateway (embedded store), or another replica (Redis: the dead one's pending lines claimed
with XAUTOCLAIM), completes the batch with every `custom_id` exactly once in its output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.batches.conftest import FINAL, chat_file, jsonl, wait_for_status
from tests.gateway.conftest import CHAT_MODEL, POLICIES, running_simulator, sim_stats
from tests.redis_server import running_redis
from tests.servers import free_port, key_from_cli, wait_until_ready

LINES = 120
CONCURRENCY = 4
PEPPER = "a-test-pepper-that-is-long-enough-1234567890"


def _config(tmp_path: Path, sims: list[str], store: str) -> Path:
    backends = ", ".join(f"{{url: '{sim}'}}" for sim in sims)
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"models:\n  - name: {CHAT_MODEL}\n    backends: [{backends}]\n"
        f"store: {store}\n"
        f"policy: {{model_file: '{POLICIES / 'model.conf'}', policy_file: '{POLICIES / 'policy.csv'}'}}\n"
        f"batches: {{directory: '{tmp_path / 'files'}', poll_seconds: 0.05, concurrency: {CONCURRENCY}, "
        "claim_after_seconds: 2}\n",
        encoding="utf-8",
    )
    return config


def _environment(config: Path) -> dict[str, str]:
    return {**os.environ, "GATEWAY_CONFIG": str(config), "GATEWAY_KEY_PEPPER": PEPPER}


@contextmanager
def _serving(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_ready(f"{base}/health/ready", process, 30), "the gateway did not become ready"
        yield f"{base}/v1", process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def _client(base: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=30)


def _start_batch(client: openai.OpenAI) -> str:
    uploaded = client.files.create(file=("crash.jsonl", chat_file(LINES)), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    return batch.id


def _wait_for_progress(client: openai.OpenAI, batch_id: str, at_least: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        counts = client.batches.retrieve(batch_id).request_counts
        if counts is not None and counts.completed >= at_least:
            return
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.05)


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def _assert_each_custom_id_once(client: openai.OpenAI, batch_id: str, sims: list[str]) -> None:
    done = wait_for_status(client, batch_id, FINAL, seconds=90)
    assert done.status == "completed", done
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (LINES, 0)
    assert done.output_file_id is not None
    lines: list[dict[str, Any]] = jsonl(client.files.content(done.output_file_id).content)
    assert Counter(line["custom_id"] for line in lines) == Counter(f"request-{n}" for n in range(LINES))
    # Only the lines in flight at the kill may have been sent twice.
    sent = sum(sim_stats(sim)["requests"] for sim in sims)
    assert LINES <= sent <= LINES + CONCURRENCY


@pytest.mark.slow
def test_a_gateway_killed_mid_batch_and_restarted_completes_it_exactly_once(tmp_path: Path) -> None:
    with (
        running_simulator(CHAT_MODEL, ttft_ms=40.0) as one,
        running_simulator(CHAT_MODEL, ttft_ms=40.0) as two,
    ):
        sims = [one, two]
        env = _environment(_config(tmp_path, sims, f"{{kind: embedded, path: '{tmp_path / 'gateway.db'}'}}"))
        key = key_from_cli(env)
        with _serving(env) as (base, process):
            client = _client(base, key)
            batch_id = _start_batch(client)
            _wait_for_progress(client, batch_id, LINES // 4)
            _kill(process)
        with _serving(env) as (base, _):
            _assert_each_custom_id_once(_client(base, key), batch_id, sims)


@pytest.mark.slow
def test_a_replica_killed_mid_batch_leaves_its_lines_to_another(tmp_path: Path) -> None:
    with (
        running_redis() as redis_url,
        running_simulator(CHAT_MODEL, ttft_ms=40.0) as one,
        running_simulator(CHAT_MODEL, ttft_ms=40.0) as two,
    ):
        sims = [one, two]
        env = _environment(_config(tmp_path, sims, f"{{kind: redis, url: '{redis_url}'}}"))
        key = key_from_cli(env)
        with _serving(env) as (first_base, first), _serving(env) as (second_base, _):
            first_client = _client(first_base, key)
            batch_id = _start_batch(first_client)
            _wait_for_progress(first_client, batch_id, LINES // 4)
            _kill(first)
            # The survivor finishes: the dead replica's pending lines are claimed after 2 s.
            _assert_each_custom_id_once(_client(second_base, key), batch_id, sims)
