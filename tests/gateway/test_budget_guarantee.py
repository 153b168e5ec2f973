"""The budget guarantee across replicas: three gateway processes, one Redis, 200 concurrent clients."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.quotas.redis_ledger import RedisLedger
from tests.gateway.conftest import DEPARTMENT, POLICIES, SERVICE, SOLO_MODEL, running_simulator
from tests.redis_server import running_redis
from tests.servers import free_port

BUDGET = 6_000
CLIENTS = 200
PEPPER = "a-pepper-for-the-budget-test-0123456789"


@contextmanager
def _gateways(config: Path, count: int) -> Iterator[list[str]]:
    env = {**os.environ, "GATEWAY_KEY_PEPPER": PEPPER}
    ports = [free_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 30
        for url in urls:
            while True:
                try:
                    if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "a gateway did not start"
                time.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            assert process.stderr is not None
            process.stderr.close()


async def _client(index: int, urls: list[str], key: str, totals: list[int], reservations: list[int]) -> None:
    url = urls[index % len(urls)]
    refusals_in_a_row = 0
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {key}"}, timeout=20) as client:
        for _ in range(200):  # bounded: the budget runs out long before
            response = await client.post(
                f"{url}/v1/chat/completions",
                json={
                    "model": SOLO_MODEL,
                    "messages": [{"role": "user", "content": f"client {index}"}],
                    "max_tokens": 10,
                },
            )
            if response.status_code == 429:
                assert response.json()["error"]["code"] == "insufficient_quota"
                # Refused while others still held reservations: try again shortly, a few times.
                refusals_in_a_row += 1
                if refusals_in_a_row >= 10:
                    return
                await asyncio.sleep(0.05)
                continue
            assert response.status_code == 200, response.text
            refusals_in_a_row = 0
            usage = response.json()["usage"]
            totals.append(usage["total_tokens"])
            reservations.append(usage["prompt_tokens"])


@pytest.mark.slow
def test_three_replicas_never_overspend(tmp_path: Path) -> None:
    with running_redis() as redis_url, running_simulator(SOLO_MODEL) as sim:
        config = tmp_path / "gateway.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "models": [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
                    "store": {"kind": "redis", "url": redis_url},
                    "policy": {
                        "model_file": str(POLICIES / "model.conf"),
                        "policy_file": str(POLICIES / "policy.csv"),
                    },
                    "quotas": {"services": {f"{DEPARTMENT}/{SERVICE}": {"tokens_per_day": BUDGET}}},
                }
            ),
            encoding="utf-8",
        )
        owner = ["--department", DEPARTMENT, "--service", SERVICE]
        created = subprocess.run(
            [sys.executable, "-m", "gateway", "keys", "create", "--config", str(config), *owner, "--json"],
            env={**os.environ, "GATEWAY_KEY_PEPPER": PEPPER},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stderr
        key = json.loads(created.stdout)["key"]

        totals: list[int] = []
        prompts: list[int] = []
        with _gateways(config, 3) as urls:

            async def run_all() -> None:
                await asyncio.gather(
                    *(_client(index, urls, key, totals, prompts) for index in range(CLIENTS))
                )

            asyncio.run(asyncio.wait_for(run_all(), timeout=120))

        spent = sum(totals)
        # What one request can reserve: its prompt's byte bound plus max_tokens (a few dozen tokens).
        one_request = 128
        assert spent <= BUDGET, f"settled {spent} tokens on a budget of {BUDGET}"
        assert spent >= BUDGET - one_request, f"only {spent} of {BUDGET} was usable"

        async def leftovers() -> int:
            ledger = RedisLedger.from_url(redis_url)
            try:
                return await ledger.outstanding(DEPARTMENT)
            finally:
                await ledger.close()

        assert asyncio.run(leftovers()) == 0, "a reservation outlived its request"
