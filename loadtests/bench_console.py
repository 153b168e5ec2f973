"""Benchmark: how long the console's pages take to render with a month of usage for 50 services.

    .venv/bin/python -m loadtests.bench_console [--services 50] [--departments 10] [--per-day 200]
                                               [--audit-records 200000] [--keys-per-service 4] [--repeat 30]

A temporary embedded store is seeded with a whole month (last month) of usage records through the
metering store's API: `--per-day` requests per service per day spread over three models, 50 x 31 x 200
= 310,000 records by default; the audit log gets `--audit-records` lines over the last day; each
service gets a few keys. The gateway then runs as `gateway serve` (its own process, uvloop), and each
page is fetched `--repeat` times in a row after two warm-up fetches, signed in as a platform
administrator (the bootstrap key) and as a department administrator. Printed: the first fetch
(nothing cached yet), then p50 and p95 of the whole request as the client sees it (server render,
loopback transfer), in milliseconds; the target is under 300 ms. `--usage-cache-seconds 0` measures
every page reading the store.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import msgspec
import yaml

from gateway.audit import AuditLine, audit_time
from gateway.identity import EmbeddedKeyStore, Pepper, create_key
from gateway.metering import open_usage_store
from gateway.metering.periods import Calendar
from gateway.request_record import RequestRecord
from gateway.storage import StoreConfig
from loadtests.processes import Processes, free_port, wait_until_up

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parent.parent
_MODELS = ("mistral-small", "llama-3.1-8b", "bge-m3")
_BATCH = 20_000
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _names(departments: int, services: int) -> list[tuple[str, str]]:
    return [(f"dept{index % departments:02d}", f"service{index:03d}") for index in range(services)]


def _config(folder: Path, names: list[tuple[str, str]], port: int, cache_seconds: float) -> Path:
    departments = sorted({department for department, _ in names})
    data = {
        "server": {"host": "127.0.0.1", "port": port},
        "models": [{"name": model, "backends": [{"url": "http://127.0.0.1:9"}]} for model in _MODELS],
        "store": {"kind": "embedded", "path": str(folder / "gateway.db")},
        "policy": {
            "model_file": str(_ROOT / "policies" / "model.conf"),
            "policy_file": str(_ROOT / "policies" / "policy.csv"),
        },
        "audit": {"enabled": True, "path": str(folder / "audit.jsonl")},
        "console": {"usage_cache_seconds": cache_seconds},
        "quotas": {
            "departments": {department: {"tokens_per_month": 500_000_000} for department in departments},
            "services": {f"{d}/{s}": {"tokens_per_day": 2_000_000} for d, s in names},
        },
    }
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


async def _seed(folder: Path, names: list[tuple[str, str]], args: argparse.Namespace, pepper: Pepper) -> str:
    """Usage, audit lines and keys; returns a department administrator's key."""
    calendar = Calendar("Europe/Paris")
    month = calendar.current().previous()
    store = await open_usage_store(StoreConfig(kind="embedded", path=folder / "gateway.db"))
    batch: list[RequestRecord] = []
    number = 0
    try:
        for _, start, end in month.day_ranges():
            step = (end - start) / max(args.per_day, 1)
            for department, service in names:
                for index in range(args.per_day):
                    number += 1
                    prompt, completion = 200 + number % 700, 50 + number % 300
                    batch.append(
                        RequestRecord(
                            time=start + step * index + 1,
                            request_id=f"req-{number:024x}",
                            department=department,
                            service=service,
                            key_id="aaaaaaaaaaaa",
                            model=_MODELS[number % len(_MODELS)],
                            backend="http://127.0.0.1:9",
                            operation="chat",
                            prompt_tokens=prompt,
                            completion_tokens=completion,
                            cached_tokens=0,
                            weighted_cost=prompt + completion,
                            cost_eur=0.0,
                            latency_ms=300.0,
                            status=200 if number % 50 else 503,
                        )
                    )
                    if len(batch) >= _BATCH:
                        await store.write(f"seed-{number}", batch)
                        batch = []
        if batch:
            await store.write(f"seed-{number}", batch)
    finally:
        await store.close()

    encoder = msgspec.json.Encoder()
    now = time.time()
    with (folder / "audit.jsonl").open("wb") as file:
        lines = []
        for index in range(args.audit_records):
            department, service = names[index % len(names)]
            status = 429 if index % 37 == 0 else 200
            record = AuditLine(
                time=audit_time(now - 86_400 + index * 86_400 / args.audit_records),
                request_id=f"req-{0xB000000000 + index:024x}",
                trace_id=None,
                department=department,
                service=service,
                key_id="aaaaaaaaaaaa",
                model=_MODELS[index % len(_MODELS)],
                operation="chat",
                backend="http://127.0.0.1:9",
                decision="allow",
                rule="p, user, *, *, chat, allow",
                pii={"EMAIL": 1} if index % 5 == 0 else {},
                prompt_tokens=300,
                completion_tokens=100,
                cost_eur=0.0,
                weighted_cost=400,
                status=status,
                latency_ms=250.0,
            )
            lines.append(encoder.encode(record) + b"\n")
            if len(lines) >= _BATCH:
                file.write(b"".join(lines))
                lines = []
        file.write(b"".join(lines))

    keys = await EmbeddedKeyStore.open(folder / "gateway.db")
    try:
        for department, service in names:
            for _ in range(args.keys_per_service):
                await create_key(keys, pepper, department, service, ("user",))
        _, admin = await create_key(keys, pepper, names[0][0], "console", ("department-admin",))
    finally:
        await keys.close()
    return admin


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _signed_in(base: str, key: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/console/login")
    match = _CSRF.search(form.text)
    assert match is not None, "no sign-in form"
    answer = client.post("/console/login", data={"api_key": key, "csrf_token": match.group(1)})
    if answer.status_code != 303:
        client.close()
        raise RuntimeError(f"sign-in refused: {answer.status_code}")
    return client


def _measure(client: httpx.Client, path: str, repeat: int) -> tuple[float, float, float, int]:
    """(first fetch, p50, p95) in milliseconds, and the page's size."""
    started = time.perf_counter()
    client.get(path)
    first = (time.perf_counter() - started) * 1000
    client.get(path)
    times = []
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code}")
        size = len(answer.content)
    return first, statistics.median(times), _percentile(times, 0.95), size


def run(args: argparse.Namespace) -> int:
    names = _names(args.departments, args.services)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as scratch:
        folder = Path(scratch)
        pepper_text = secrets.token_urlsafe(48)
        admin_key = secrets.token_urlsafe(48)
        started = time.monotonic()
        department_key = asyncio.run(_seed(folder, names, args, Pepper(pepper_text.encode())))
        seeded = args.services * args.per_day * len(Calendar("Europe/Paris").current().previous().days)
        print(f"seeded {seeded:,} usage records, {args.audit_records:,} audit lines and "
              f"{args.services * args.keys_per_service:,} keys in {time.monotonic() - started:.1f} s")  # fmt: skip
        port = free_port()
        config = _config(folder, names, port, args.usage_cache_seconds)
        processes = Processes(folder)
        env_keys = {"GATEWAY_KEY_PEPPER": pepper_text, "GATEWAY_ADMIN_KEY": admin_key}
        previous = {name: os.environ.get(name) for name in env_keys}
        os.environ.update(env_keys)
        try:
            gateway = processes.start("gateway", ["-m", "gateway", "serve", "--config", str(config)], None)
            if not wait_until_up(gateway, port, "/console/login", 60):
                print(processes.log_tail("gateway"), file=sys.stderr)
                return 1
            base = f"http://127.0.0.1:{port}"
            month = Calendar("Europe/Paris").current().previous().name
            department = names[0][0]
            pages = [
                ("platform", "overview (every department)", f"/console/?period={month}"),
                ("platform", "department page", f"/console/departments/{department}?period={month}"),
                ("platform", "request log, first page", "/console/requests"),
                ("platform", "request log, one service, 4xx", f"/console/requests?service={names[3][1]}&status=4xx"),
                ("platform", "keys (every department)", "/console/keys?department=*"),
                ("platform", "backends", "/console/backends"),
                ("platform", "policies with a check",
                 "/console/policies?department=dgfip&service=x&roles=user&model=bge-m3&operation=embeddings"),
                ("department", "overview (department admin)", f"/console/?period={month}"),
                ("department", "CSV export by day", f"/console/departments/{department}/usage.csv?period={month}&by=day"),
            ]  # fmt: skip
            clients = {
                "platform": _signed_in(base, admin_key),
                "department": _signed_in(base, department_key),
            }
            try:
                print(f"\n{args.services} services in {args.departments} departments, month {month}, "
                      f"{args.repeat} fetches per page, usage_cache_seconds {args.usage_cache_seconds}\n")  # fmt: skip
                print("| page | first fetch (ms) | p50 (ms) | p95 (ms) | size (KiB) |")
                print("|---|---:|---:|---:|---:|")
                for who, label, path in pages:
                    first, p50, p95, size = _measure(clients[who], path, args.repeat)
                    print(f"| {label} | {first:.1f} | {p50:.1f} | {p95:.1f} | {size / 1024:.0f} |")
            finally:
                for client in clients.values():
                    client.close()
        finally:
            processes.stop_all()
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--departments", type=int, default=10)
    parser.add_argument("--per-day", type=int, default=200, help="requests per service per day")
    parser.add_argument("--audit-records", type=int, default=200_000)
    parser.add_argument("--keys-per-service", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--usage-cache-seconds", type=float, default=10.0, help="console.usage_cache_seconds (0: no cache)"
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
