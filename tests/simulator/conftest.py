"""Fixtures: real simulators on loopback, with zero latency unless a test asks for some."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import openai
import pytest

from backends.simulator import SimulatorSettings, create_app
from tests.servers import serve_in_thread

GENERATION_MODEL = "test-model"
EMBEDDING_MODEL = "test-embed"

StartSimulator = Callable[..., str]


@pytest.fixture
def start_simulator() -> Iterator[StartSimulator]:
    """Start simulators with settings overrides; each is stopped at the end of the test."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> str:
            options: dict[str, Any] = {
                "models": (GENERATION_MODEL,),
                "embedding_models": (EMBEDDING_MODEL,),
                "ttft_ms": 0.0,
                "itl_ms": 0.0,
            }
            options.update(overrides)
            return stack.enter_context(serve_in_thread(create_app(SimulatorSettings(**options))))

        yield start


@pytest.fixture
def base_url(start_simulator: StartSimulator) -> str:
    """A zero-latency simulator in random mode."""
    return start_simulator()


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    """A raw HTTP client on the default simulator."""
    with httpx.Client(base_url=base_url, timeout=10.0) as http:
        yield http


@pytest.fixture
def sdk(base_url: str) -> Iterator[openai.OpenAI]:
    """The official OpenAI SDK pointed at the default simulator (no retries: tests see every status)."""
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0, timeout=10.0) as sdk_client:
        yield sdk_client
