"""One of the gateway processes of the cross-process guarantee test.

Reads one JSON line on stdin: {"url", "prefix", "quotas", "now", "mode" (budget | requests | slots),
"tasks", "seed"}; prints `ready`, waits for a line `go` (so that every process starts at once), runs
the reservers of tests.quotas.hammer against the Redis ledger and prints one JSON line with what they
did.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from gateway.quotas import Planner, QuotaConfig
from gateway.quotas.redis_ledger import RedisLedger
from tests.quotas import hammer


async def run(brief: dict[str, Any]) -> dict[str, Any]:
    now = float(brief["now"])
    ledger = RedisLedger.from_url(brief["url"], prefix=brief["prefix"], clock=lambda: now)
    planner = Planner(QuotaConfig.model_validate(brief["quotas"]))
    deadline = time.monotonic() + 30
    tasks, seed = int(brief["tasks"]), int(brief["seed"])
    try:
        await ledger.ping()
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        if brief["mode"] == "budget":
            spent = await hammer.spend_budget(
                ledger, planner, lambda: now, tasks=tasks, deadline=deadline, seed=seed
            )
            return {
                "settled_total": spent.settled_total,
                "settled": spent.settled,
                "refusals": spent.refusals,
            }
        if brief["mode"] == "requests":
            spent = await hammer.count_requests(
                ledger, planner, lambda: now, tasks=tasks, deadline=deadline, seed=seed
            )
            return {"settled": spent.settled, "refusals": spent.refusals}
        held = await hammer.hold_slots(
            ledger, planner, lambda: now, tasks=tasks, rounds=3, deadline=deadline, seed=seed
        )
        return {"intervals": held.intervals, "refusals": held.refusals}
    finally:
        await ledger.close()


def main() -> int:
    brief = json.loads(sys.stdin.readline())
    print(json.dumps(asyncio.run(run(brief))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
