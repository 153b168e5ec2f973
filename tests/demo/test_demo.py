"""`make demo`: its configuration, and the traffic it sends at start, against real simulators and a
gateway on loopback (on free ports: the demo's own 8001-8003 and 8080 may be busy here)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from gateway import demo
from gateway.app import create_app
from gateway.config import GatewayConfig, load_config
from gateway.metering import open_usage_store, usage_report
from tests.gateway.conftest import issue_key, running_simulator
from tests.servers import serve_in_thread

DEMO_CONFIG = Path(demo.__file__).resolve().parents[1] / "docs" / "examples" / "demo.yaml"
POLICIES = DEMO_CONFIG.parents[2] / "policies"


def test_the_demo_configuration_shows_every_feature() -> None:
    config = load_config(DEMO_CONFIG)
    assert config.audit.enabled and config.audit.path != "-"
    assert config.pii.mode == "pseudonymize"
    assert set(demo.DEPARTMENTS) <= set(config.quotas.departments)
    for department in demo.DEPARTMENTS:
        assert config.quotas.departments[department].tokens_per_month
    priced = {name for name, pricing in config.quotas.models.items() if pricing.price_per_million_input}
    assert priced == {model.name for model in config.models}
    assert "echo" in priced
    assert config.metrics.allow_anonymous  # the demo listens on loopback only


def _demo_config(folder: str, sims: dict[str, str]) -> GatewayConfig:
    """demo.yaml with its backends on the test's simulators and its files in `folder`."""
    data: dict[str, Any] = yaml.safe_load(DEMO_CONFIG.read_text())
    for model in data["models"]:
        model["backends"] = [{"url": sims[model["name"]]}]
    data["server"] = {"host": "127.0.0.1"}
    data["store"] = {"kind": "embedded", "path": f"{folder}/gateway.db"}
    data["audit"] = {"enabled": True, "path": f"{folder}/audit.jsonl"}
    data["metering"] = {"flush_interval_seconds": 0.1}
    data["policy"] = {"model_file": str(POLICIES / "model.conf"), "policy_file": str(POLICIES / "policy.csv")}
    return GatewayConfig.model_validate(data)


def _report(config: GatewayConfig) -> Any:
    async def read() -> Any:
        store = await open_usage_store(config.store, config.metering, read_only=True)
        try:
            return await usage_report(store, store.calendar.current().name, by="department")
        finally:
            await store.close()

    return asyncio.run(read())


def test_the_demo_traffic_fills_the_console_and_shows_pseudonymization() -> None:
    with (
        running_simulator("mistral-small", embedding_models=("bge-m3",)) as first,
        running_simulator("mistral-small", "llama-3.1-8b") as second,
        running_simulator("echo", mode="echo") as echo,
        tempfile.TemporaryDirectory(prefix="demo-") as folder,
    ):
        sims = {"mistral-small": first, "bge-m3": first, "llama-3.1-8b": second, "echo": echo}
        config = _demo_config(folder, sims)
        keys = {
            department: issue_key(config, department, service)
            for department, service in demo.DEPARTMENTS.items()
        }
        with serve_in_thread(create_app(config)) as url:
            traffic = demo.send_traffic(url, keys, echo_backend_url=echo)
            # The backend saw a placeholder; the client got its IBAN back.
            assert demo.IBAN not in traffic.echo_backend
            assert "<IBAN_1>" in traffic.echo_backend
            assert demo.IBAN in traffic.echo_client
            # Successes, a request the model cannot serve, a bad key: the error rate is not empty.
            assert traffic.statuses[200] >= 20
            assert traffic.statuses[400] == 2
            assert traffic.statuses[401] == 1
            assert sum(traffic.statuses.values()) == traffic.sent

            # Both departments in the audit log (the console's request log) and in euros.
            deadline = time.monotonic() + 10
            departments: set[str] = set()
            lines: list[dict[str, Any]] = []
            while time.monotonic() < deadline and not set(demo.DEPARTMENTS) <= departments:
                audit = Path(folder) / "audit.jsonl"
                lines = (
                    [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []
                )
                departments = {line["department"] for line in lines}
                time.sleep(0.1)
            assert set(demo.DEPARTMENTS) <= departments
            assert demo.IBAN not in (Path(folder) / "audit.jsonl").read_text()
            costs: dict[str, float] = {}
            while time.monotonic() < deadline and set(costs) < set(demo.DEPARTMENTS):
                costs = {row.key[0]: row.cost_eur for row in _report(config).rows}
                time.sleep(0.2)
            assert all(costs.get(department, 0) > 0 for department in demo.DEPARTMENTS), costs
