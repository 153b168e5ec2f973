"""Real servers on loopback: vLLM simulators and the gateway in front of them, each in its own thread."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from backends.simulator import SimulatorSettings
from backends.simulator import create_app as create_simulator
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.identity import create_key, open_key_store, pepper_for
from gateway.state import Gateway
from gateway.worker import Worker
from tests.servers import STARTUP_TIMEOUT, serve_in_thread

CHAT_MODEL = "mistral-small"
SOLO_MODEL = "llama-3.1-8b"
EMBEDDING_MODEL = "bge-m3"

# Fast health checks so that ejection and recovery happen within a test's patience.
FAST_HEALTH = {
    "interval": 0.2,
    "metrics_interval": 0.1,
    "timeout": 1.0,
    "eject_after": 2,
    "eject_seconds": 30,
}


@contextmanager
def running_simulator(*models: str, port: int | None = None, **overrides: Any) -> Iterator[str]:
    """A simulator serving `models`, with no artificial latency unless the test asks for some."""
    fields: dict[str, Any] = {"models": models or (CHAT_MODEL,), "ttft_ms": 0.0, "itl_ms": 0.0}
    fields.update(overrides)
    app = create_simulator(SimulatorSettings(**fields))
    with serve_in_thread(app, port=port) as url:
        yield url


# The service every test key belongs to; the default policies let role `user` use every model.
DEPARTMENT = "dgfip"
SERVICE = "assistant-courrier"


@dataclass
class RunningGateway:
    url: str
    state: Gateway
    api_key: str
    app: Litestar

    @property
    def worker(self) -> Worker:
        """What the gateway opened at start-up (its recorder, its pipeline...)."""
        worker: Worker = self.app.state.worker
        return worker

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"}


POLICIES = Path(__file__).resolve().parents[2] / "policies"


def gateway_config(models: list[dict[str, Any]], **sections: Any) -> GatewayConfig:
    data: dict[str, Any] = {
        "models": models,
        "health": dict(FAST_HEALTH),
        "policy": {"model_file": str(POLICIES / "model.conf"), "policy_file": str(POLICIES / "policy.csv")},
    }
    data.update(sections)
    return GatewayConfig.model_validate(data)


def issue_key(
    config: GatewayConfig, department: str = DEPARTMENT, service: str = SERVICE, *roles: str
) -> str:
    """Create a key in the configured store, as `gateway keys create` would."""

    async def create() -> str:
        store = await open_key_store(config.store)
        try:
            pepper = pepper_for(config.store, config.auth)
            _, key = await create_key(store, pepper, department, service, roles=roles or ("user",))
            return key
        finally:
            await store.close()

    return asyncio.run(create())


@contextmanager
def running_gateway(
    models: list[dict[str, Any]], *, startup_timeout: float = STARTUP_TIMEOUT, **sections: Any
) -> Iterator[RunningGateway]:
    """A gateway with its own embedded store in a temporary folder and one `user` key in it.
    `startup_timeout`: longer for a gateway that starts detection processes with the name model."""
    with tempfile.TemporaryDirectory(prefix="gateway-test-") as folder:
        sections.setdefault("store", {"kind": "embedded", "path": f"{folder}/gateway.db"})
        config = gateway_config(models, **sections)
        api_key = issue_key(config)
        app = create_app(config)
        with serve_in_thread(app, startup_timeout=startup_timeout) as url:
            yield RunningGateway(url, app.state.gateway, api_key, app)


def sim_stats(sim_url: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{sim_url}/sim/stats", timeout=5).json()
    return stats


def last_request(sim_url: str) -> dict[str, Any]:
    seen: dict[str, Any] = httpx.get(f"{sim_url}/sim/last-request", timeout=5).json()
    return seen


@dataclass
class Deployment:
    """Three simulators and a gateway: A and B share the chat model (A also serves the embedding model),
    the echo simulator alone serves the solo model and answers with what it received."""

    sim_a: str
    sim_b: str
    sim_echo: str
    gateway: RunningGateway


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    with (
        running_simulator(CHAT_MODEL, embedding_models=(EMBEDDING_MODEL,)) as sim_a,
        running_simulator(CHAT_MODEL) as sim_b,
        running_simulator(SOLO_MODEL, mode="echo") as sim_echo,
        running_gateway(
            [
                {"name": CHAT_MODEL, "backends": [{"url": sim_a}, {"url": sim_b}]},
                {"name": SOLO_MODEL, "backends": [{"url": sim_echo}]},
                {"name": EMBEDDING_MODEL, "backends": [{"url": sim_a}]},
            ]
        ) as gateway,
    ):
        yield Deployment(sim_a, sim_b, sim_echo, gateway)
