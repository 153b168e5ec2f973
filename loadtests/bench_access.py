"""Benchmark: what authentication plus authorization add to one request, at 2,000 policy lines.

    .venv/bin/python -m loadtests.bench_access [--lines 2000] [--keys 200] [--requests 20000]

Keys are created in an embedded store in a temporary folder, for services spread over the
departments of a generated 2,000-line policy (loadtests.bench_authz's generator). Each request then
goes through what the pipeline runs before parsing the body: `Authenticator.authenticate` on the
Authorization header and `Authorizer.authorize` for a model operation. After one warm-up pass over
every key (the steady state: keys cached in-process, decisions cached), it prints p50/p99 of single
calls in microseconds, and how many store round trips the timed pass made (the target is none).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from gateway.authz import MODEL_ACTIONS, Authorizer, PermissionDenied
from gateway.identity import Authenticator, EmbeddedKeyStore, FailureLimiter, KeyRecord, Pepper, create_key
from loadtests.bench_authz import _MODELS, generate_policy

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parent.parent


class CountingStore(EmbeddedKeyStore):
    """The embedded store, counting the lookups the authenticator makes."""

    lookups = 0

    async def get(self, key_id: str) -> KeyRecord | None:
        CountingStore.lookups += 1
        return await super().get(key_id)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-access-") as folder:
        policy_file = Path(folder) / "policy.csv"
        policy_file.write_text(
            "\n".join(generate_policy(args.lines, args.departments)) + "\n", encoding="utf-8"
        )
        authorizer = Authorizer.from_files(_ROOT / "policies" / "model.conf", policy_file)
        store = await CountingStore.open(Path(folder) / "gateway.db")
        pepper = Pepper(b"b" * 32)
        keys: list[tuple[str, str, str]] = []
        for index in range(args.keys):
            department = f"dept{index % args.departments}"
            service = f"service{index % 40}"
            _, key = await create_key(store, pepper, department, service, roles=("user",))
            keys.append((f"Bearer {key}", department, service))
        authenticator = Authenticator(store, pepper, limiter=FailureLimiter(1000))
        await authenticator.start()
        requests = [
            (rng.choice(keys), rng.choice(_MODELS), rng.choice(MODEL_ACTIONS)) for _ in range(args.requests)
        ]

        async def one(header: str, model: str, action: str) -> None:
            principal = await authenticator.authenticate(header, "127.0.0.1")
            with contextlib.suppress(PermissionDenied):
                authorizer.authorize(principal.department, principal.service, principal.roles, model, action)

        for header, _, _ in keys:  # warm-up: every key and most decisions cached
            await one(header, _MODELS[0], MODEL_ACTIONS[0])
        for (header, _, _), model, action in requests[: args.requests // 4]:
            await one(header, model, action)
        CountingStore.lookups = 0
        timings: list[float] = []
        for (header, _, _), model, action in requests:
            started = time.perf_counter_ns()
            await one(header, model, action)
            timings.append((time.perf_counter_ns() - started) / 1000)
        await authenticator.close()
        await store.close()
    print(f"{args.lines} policy lines, {args.keys} keys, {args.requests} requests (steady state)")
    print(
        f"authenticate + authorize: p50 {_percentile(timings, 0.5):.1f} µs, p99 {_percentile(timings, 0.99):.1f} µs, "
        f"mean {statistics.fmean(timings):.1f} µs; store lookups during the timed pass: {CountingStore.lookups}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--departments", type=int, default=50)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
