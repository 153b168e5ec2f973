"""Real vLLM servers for the session, and one gateway in front of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.conftest import RunningGateway, running_gateway
from tests.real_vllm.servers import EMBED_MODEL, GENERATE_MODEL, RERANK_MODEL, VllmServers, running_vllm


@pytest.fixture(scope="session")
def vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServers]:
    with running_vllm(tmp_path_factory.mktemp("vllm")) as servers:
        yield servers


@pytest.fixture(scope="session")
def gateway(vllm: VllmServers) -> Iterator[RunningGateway]:
    """Each tiny model behind the gateway under its served name."""
    with running_gateway(
        [
            {"name": GENERATE_MODEL, "kind": "generative", "backends": [{"url": vllm.generate}]},
            {"name": EMBED_MODEL, "kind": "embedding", "backends": [{"url": vllm.embed}]},
            {"name": RERANK_MODEL, "kind": "cross-encoder", "backends": [{"url": vllm.rerank}]},
        ],
        metrics={"allow_anonymous": True},  # the backend gauges are read from the gateway's /metrics
    ) as running:
        yield running
