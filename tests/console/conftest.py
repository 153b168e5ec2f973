"""A running gateway with its console, seeded with a month of usage and an audit log, and a headless
Chromium (Debian's, driven by Playwright) to use it as a person would.

Usage records are written through the metering store's API and audit records through an audit log
(`start_audit_log`) before the gateway starts; real requests through the gateway add their own.
Screenshots go to `test-artifacts/console/` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ViewportSize

from gateway.app import create_app
from gateway.audit import AuditConfig, AuditLine, audit_line, start_audit_log
from gateway.config import GatewayConfig
from gateway.metering import open_usage_store, usage_report
from gateway.metering.periods import Calendar
from gateway.request_record import RequestRecord
from tests.gateway.conftest import CHAT_MODEL, SOLO_MODEL, gateway_config, issue_key, running_simulator
from tests.servers import serve_in_thread

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT: ViewportSize = {"width": 1366, "height": 900}

# Seeded usage: (department, service, model, requests per day, prompt and completion tokens per request)
USAGE_PLAN = [
    ("dgfip", "assistant-courrier", CHAT_MODEL, 6, 400, 150),
    ("dgfip", "recherche-juridique", SOLO_MODEL, 3, 900, 300),
    ("drees", "statistiques", CHAT_MODEL, 4, 300, 100),
    ("dinum", "albert", SOLO_MODEL, 5, 500, 250),
]
PRICES = {CHAT_MODEL: (0.2, 0.6), SOLO_MODEL: (0.1, 0.3)}
"""Euros per million input and output tokens."""
QUOTAS = {
    "models": {
        model: {"price_per_million_input": price_in, "price_per_million_output": price_out}
        for model, (price_in, price_out) in PRICES.items()
    },
    "departments": {
        "dgfip": {"tokens_per_month": 3_000_000},
        # Below one day of drees' seeded usage (1,606 tokens): over budget on any day of the month.
        "drees": {"tokens_per_month": 1_500},
    },
    "services": {
        "dgfip/assistant-courrier": {"tokens_per_month": 1_000_000, "tokens_per_day": 200_000},
        "dinum/albert": {"tokens_per_day": 500_000},
    },
}
# Seeded audit records of dgfip (more than one page of 50) and drees.
DGFIP_AUDIT = 70
DREES_AUDIT = 12
REAL_REQUESTS = 3


def browser_available() -> bool:
    return Path(CHROMIUM).exists()


@dataclass
class ConsoleSite:
    """The running gateway, its keys, and what was seeded."""

    url: str
    config: GatewayConfig
    folder: Path
    platform_key: str
    dgfip_admin_key: str
    drees_admin_key: str
    user_key: str
    seeded_ids: dict[str, list[str]] = field(default_factory=dict)
    """Request ids of the seeded audit records, per department, oldest first."""
    seeded: dict[str, AuditLine] = field(default_factory=dict)
    """The seeded audit records by request id, as their lines say."""

    @property
    def console(self) -> str:
        return f"{self.url}/console"

    def report(self, by: str = "department", department: str | None = None) -> Any:
        """The usage report of the current month, as `gateway usage report` computes it."""

        async def read() -> Any:
            store = await open_usage_store(self.config.store, self.config.metering, read_only=True)
            try:
                period = store.calendar.current().name
                return await usage_report(store, period, by=by, department=department)
            finally:
                await store.close()

        # In a thread of its own: Playwright's sync API keeps an event loop running on this one.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, read()).result()


def _usage_records(now: float) -> list[RequestRecord]:
    """The plan above, on every day of the current month up to now (at noon, or just before now)."""
    calendar = Calendar("Europe/Paris")
    period = calendar.current(now)
    records = []
    number = 0
    for day, start, end in period.day_ranges():
        if start > now:
            break
        moment = max(start + 1.0, min(start + 12 * 3600.0, now - 5.0, end - 1.0))
        for department, service, model, per_day, prompt, completion in USAGE_PLAN:
            for index in range(per_day):
                number += 1
                records.append(
                    RequestRecord(
                        time=moment + index,
                        request_id=f"req-{number:024x}",
                        department=department,
                        service=service,
                        key_id="aaaaaaaaaaaa",
                        model=model,
                        backend="http://127.0.0.1:9",
                        operation="chat",
                        prompt_tokens=prompt + index,
                        completion_tokens=completion,
                        cached_tokens=0,
                        weighted_cost=prompt + index + completion,
                        cost_eur=((prompt + index) * PRICES[model][0] + completion * PRICES[model][1]) / 1e6,
                        latency_ms=120.0,
                        status=200,
                    )
                )
        del day
    return records


def _audit_records(now: float) -> tuple[list[RequestRecord], dict[str, list[str]]]:
    """Audit records of the last hours, oldest first: dgfip's (some refused, some 429) and drees'."""
    records: list[RequestRecord] = []
    ids: dict[str, list[str]] = {"dgfip": [], "drees": []}
    plan = [("dgfip", "assistant-courrier", index) for index in range(DGFIP_AUDIT)] + [
        ("drees", "statistiques", index) for index in range(DREES_AUDIT)
    ]
    # Interleaved in time: dgfip's every minute, drees' every five minutes, over the last two hours.
    timed = sorted(
        ((now - 7200 + index * (60 if department == "dgfip" else 300), department, service, index)
         for department, service, index in plan),
    )  # fmt: skip
    for number, (moment, department, service, index) in enumerate(timed):
        request_id = f"req-{0xA0000000 + number:024x}"
        denied = department == "dgfip" and index % 10 == 9
        limited = department == "dgfip" and index % 10 == 4
        status = 403 if denied else 429 if limited else 200
        records.append(
            RequestRecord(
                time=moment,
                request_id=request_id,
                trace_id=f"{number + 1:032x}",
                department=department,
                service=service,
                key_id="aaaaaaaaaaaa",
                model=CHAT_MODEL,
                operation="chat",
                backend="" if denied else "http://127.0.0.1:9",
                decision="deny" if denied else "allow",
                rule="p, assistant-courrier, dgfip, mistral-large*, *, deny"
                if denied
                else "p, user, *, *, chat, allow",
                pii={} if denied else {"EMAIL": 2, "FR_IBAN": 1} if index % 2 == 0 else {},
                prompt_tokens=0 if status != 200 else 100 + index,
                completion_tokens=0 if status != 200 else 40,
                cost_eur=0.0,
                weighted_cost=0 if status != 200 else 140 + index,
                status=status,
                latency_ms=0.5 if status != 200 else 200.0 + index,
                cached_tokens=0,
            )
        )
        ids[department].append(request_id)
    return records, ids


def _seed(config: GatewayConfig, audit_path: Path, now: float) -> list[AuditLine]:
    """Write the usage and audit records; returns the audit lines written."""
    records, _ = _audit_records(now)

    async def write() -> None:
        store = await open_usage_store(config.store, config.metering)
        try:
            await store.write("seed-usage", _usage_records(now))
        finally:
            await store.close()
        log = await start_audit_log(AuditConfig(enabled=True, path=str(audit_path)))
        assert log is not None
        for record in records:
            log.write(record)
        await log.close()

    asyncio.run(write())
    return [audit_line(record) for record in records]


def _wait_for_usage(site: ConsoleSite, expected: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if site.report().total.requests >= expected:
            return
        time.sleep(0.2)
    raise AssertionError("the gateway's usage records did not reach the store")


@pytest.fixture(scope="package")
def site() -> Iterator[ConsoleSite]:
    with (
        running_simulator(CHAT_MODEL, SOLO_MODEL) as sim,
        tempfile.TemporaryDirectory(prefix="console-") as tmp,
    ):
        folder = Path(tmp)
        audit_path = folder / "audit.jsonl"
        config = gateway_config(
            [
                {"name": CHAT_MODEL, "backends": [{"url": sim}]},
                {"name": SOLO_MODEL, "backends": [{"url": sim}]},
            ],
            store={"kind": "embedded", "path": str(folder / "gateway.db")},
            audit={"enabled": True, "path": str(audit_path)},
            quotas=QUOTAS,
            metering={"flush_interval_seconds": 0.1},
            # Every page reads the store, so figures can be compared with reports read just before.
            console={"usage_cache_seconds": 0},
        )
        platform = issue_key(config, "dinum", "plateforme", "admin")
        dgfip_admin = issue_key(config, "dgfip", "console-dgfip", "department-admin")
        drees_admin = issue_key(config, "drees", "console-drees", "department-admin")
        user = issue_key(config, "dgfip", "assistant-courrier", "user")
        now = time.time()
        records = _seed(config, audit_path, now)
        ids: dict[str, list[str]] = {}
        for record in records:
            ids.setdefault(record.department, []).append(record.request_id)
        seeded_requests = len(_usage_records(now))
        with serve_in_thread(create_app(config)) as url:
            site = ConsoleSite(url, config, folder, platform, dgfip_admin, drees_admin, user, ids)
            site.seeded = {record.request_id: record for record in records}
            # Real requests: through the OpenAI API (no CSRF there), metered and audited like any.
            with httpx.Client(timeout=10) as client:
                for index in range(REAL_REQUESTS):
                    answer = client.post(
                        f"{url}/v1/chat/completions",
                        json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": f"q{index}"}]},
                        headers={"authorization": f"Bearer {user}"},
                    )
                    assert answer.status_code == 200, answer.text
            _wait_for_usage(site, seeded_requests + REAL_REQUESTS)
            yield site


@pytest.fixture(scope="package")
def artifacts() -> Path:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match is not None, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: httpx.Client, console: str, key: str) -> httpx.Response:
    """Sign in with `key` through the form, as a browser would (its cookies stay in `client`)."""
    form = client.get(f"{console}/login")
    return client.post(f"{console}/login", data={"api_key": key, "csrf_token": csrf_of(form.text)})
