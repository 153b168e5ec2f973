"""The guarantee across processes: three gateway processes sharing one Redis, 200 reservers in all."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway.quotas import Planner, QuotaConfig, Refusal
from gateway.quotas.redis_ledger import RedisLedger
from tests.quotas import hammer
from tests.quotas.conftest import NOON

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 3
TASKS = (67, 67, 66)  # 200 in all
BUDGET = 200_000


async def _line(stream: asyncio.StreamReader, timeout: float) -> str:
    return (await asyncio.wait_for(stream.readline(), timeout)).decode().strip()


async def run_processes(url: str, prefix: str, mode: str, limits: dict[str, int]) -> list[dict[str, Any]]:
    """Start the processes, let them go at once, and return what each reported."""
    quotas = {"services": {f"{hammer.DEPARTMENT}/{hammer.SERVICE}": limits}}
    children: list[asyncio.subprocess.Process] = []
    try:
        for index in range(PROCESSES):
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.quotas.child_reserver",
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            children.append(child)
            assert child.stdin is not None
            brief = {
                "url": url,
                "prefix": prefix,
                "quotas": quotas,
                "now": NOON,
                "mode": mode,
                "tasks": TASKS[index],
                "seed": index,
            }
            child.stdin.write(json.dumps(brief).encode() + b"\n")
            await child.stdin.drain()
        for child in children:
            assert child.stdout is not None
            assert await _line(child.stdout, timeout=30) == "ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
            await child.stdin.drain()
        results = []
        for child in children:
            assert child.stdout is not None
            results.append(json.loads(await _line(child.stdout, timeout=40)))
        for child in children:
            assert await asyncio.wait_for(child.wait(), 10) == 0
        return results
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()


def _ledger(url: str, prefix: str) -> RedisLedger:
    return RedisLedger.from_url(url, prefix=prefix, clock=lambda: NOON)


def _planner(limits: dict[str, int]) -> Planner:
    return Planner(
        QuotaConfig.model_validate({"services": {f"{hammer.DEPARTMENT}/{hammer.SERVICE}": limits}})
    )


async def test_three_processes_never_overspend_a_budget(redis_url: str) -> None:
    prefix = f"x{uuid.uuid4().hex[:12]}"
    results = await run_processes(redis_url, prefix, "budget", {"tokens_per_day": BUDGET})
    # The processes really competed (on a loaded machine one may start late and find little left).
    assert sum(result["settled"] > 0 for result in results) >= 2
    ledger = _ledger(redis_url, prefix)
    planner = _planner({"tokens_per_day": BUDGET})
    try:
        last = await hammer.spend_budget(
            ledger, planner, lambda: NOON, tasks=1, deadline=time.monotonic() + 10, seed=9
        )
        total = sum(result["settled_total"] for result in results) + last.settled_total
        assert BUDGET - (hammer.INPUT + hammer.MAX_OUTPUT) < total <= BUDGET
        request = planner.plan(hammer.DEPARTMENT, hammer.SERVICE, hammer.KEY, "small", 100, 400, NOON)
        assert await ledger.usage(request) == (total,)
        assert isinstance(await ledger.reserve(request), Refusal)
        assert await ledger.outstanding() == 0
    finally:
        await ledger.close()


async def test_three_processes_share_one_requests_per_minute_limit(redis_url: str) -> None:
    prefix = f"x{uuid.uuid4().hex[:12]}"
    results = await run_processes(redis_url, prefix, "requests", {"requests_per_minute": 150})
    assert sum(result["settled"] for result in results) == 150  # not 3 x 150
    assert sum(result["refusals"] for result in results) == 200
    ledger = _ledger(redis_url, prefix)
    try:
        assert await ledger.outstanding() == 0
    finally:
        await ledger.close()


async def test_three_processes_share_one_concurrency_limit(redis_url: str) -> None:
    prefix = f"x{uuid.uuid4().hex[:12]}"
    results = await run_processes(redis_url, prefix, "slots", {"max_concurrent": 10})
    intervals = [(start, end) for result in results for start, end in result["intervals"]]
    assert len(intervals) == 200 * 3
    # Each interval lies within its reservation's lifetime, so this is a lower bound of what the
    # store held: it must not pass the limit, and with 200 reservers it comes close to it.
    assert 5 <= hammer.max_overlap(intervals) <= 10
    assert sum(result["refusals"] for result in results) > 0
    ledger = _ledger(redis_url, prefix)
    try:
        assert await ledger.outstanding() == 0
    finally:
        await ledger.close()
