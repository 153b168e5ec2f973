"""Revocation reaching another gateway process (a real one) that shares the Redis store."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import pytest

from gateway.identity import Pepper, create_key, revoke_key
from gateway.identity.redis_store import RedisKeyStore
from tests.identity.conftest import CHANGE_DEADLINE

ROOT = Path(__file__).resolve().parents[2]


async def _line(stream: asyncio.StreamReader, timeout: float) -> str:
    return (await asyncio.wait_for(stream.readline(), timeout)).decode().strip()


@pytest.mark.asyncio
async def test_revocation_reaches_a_second_process_within_a_second(redis_url: str, pepper: Pepper) -> None:
    prefix = f"x{uuid.uuid4().hex[:12]}"
    store = RedisKeyStore.from_url(redis_url, prefix=prefix)
    child = None
    try:
        record, key = await create_key(store, pepper, "dgfip", "chatbot")
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.identity.child_authenticator",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert child.stdin is not None and child.stdout is not None
        brief = {"url": redis_url, "prefix": prefix, "pepper": pepper.reveal().hex(), "key": key}
        child.stdin.write(json.dumps(brief).encode() + b"\n")
        await child.stdin.drain()
        assert await _line(child.stdout, timeout=30) == "ready"

        started = time.monotonic()
        await revoke_key(store, record.id)
        answer = await _line(child.stdout, timeout=5)
        elapsed = time.monotonic() - started
        assert answer == "refused revoked key"
        assert elapsed < CHANGE_DEADLINE
        assert await asyncio.wait_for(child.wait(), 10) == 0
    finally:
        if child is not None and child.returncode is None:
            child.kill()
            await child.wait()
        await store.close()
