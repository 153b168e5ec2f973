"""A second gateway process for the cross-process revocation test.

Reads one JSON line on stdin: {"url", "prefix", "pepper" (hex), "key"}. Authenticates the key once
and prints `ready`, then authenticates it every 10 ms and prints `refused <reason>` as soon as it is
refused, or `timeout` after 10 s.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from gateway.identity import AuthenticationFailed, Authenticator, FailureLimiter, Pepper
from gateway.identity.redis_store import RedisKeyStore


async def main() -> int:
    brief = json.loads(sys.stdin.readline())
    store = RedisKeyStore.from_url(brief["url"], prefix=brief["prefix"], heartbeat=0.2)
    authenticator = Authenticator(store, Pepper(bytes.fromhex(brief["pepper"])), limiter=FailureLimiter(1000))
    header = f"Bearer {brief['key']}"
    try:
        await authenticator.start()
        await authenticator.authenticate(header, "127.0.0.1")
        print("ready", flush=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                await authenticator.authenticate(header, "127.0.0.1")
            except AuthenticationFailed as exc:
                print(f"refused {exc.reason}", flush=True)
                return 0
            await asyncio.sleep(0.01)
        print("timeout", flush=True)
        return 1
    finally:
        await authenticator.close()
        await store.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
