"""vLLM's routes that are not operations (administration, engine control, profiling, LoRA loading)
are never reachable through the gateway: it has no route for them and forwards nothing it has no
declaration for."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.conftest import CHAT_MODEL, Deployment, sim_stats

VLLM_ONLY_ROUTES = (
    "/invocations",
    "/load",
    "/sleep",
    "/wake_up",
    "/is_sleeping",
    "/pause",
    "/resume",
    "/is_paused",
    "/collective_rpc",
    "/reset_prefix_cache",
    "/reset_mm_cache",
    "/update_weights",
    "/scale_elastic_ep",
    "/is_scaling_elastic_ep",
    "/v1/chat/completions/render",
    "/v1/completions/render",
    "/v1/chat/completions/batch",
    "/v1/load_lora_adapter",
    "/v1/unload_lora_adapter",
    "/start_profile",
    "/stop_profile",
    "/server_info",
    "/version",
    "/ping",
    "/kv_event_sources",
    "/generative_scoring",
    "/v1/systemone",
)
# `/v1/responses/{id}` and its `/cancel` are the gateway's own routes now (tests/gateway/test_stored_responses.py).


@pytest.mark.parametrize("path", VLLM_ONLY_ROUTES)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_never_reachable(deployment: Deployment, path: str, method: str) -> None:
    gateway = deployment.gateway
    before = [sim_stats(sim)["requests"] for sim in (deployment.sim_a, deployment.sim_b)]
    reply = httpx.request(
        method, f"{gateway.url}{path}", json={"model": CHAT_MODEL}, headers=gateway.headers, timeout=10
    )
    assert reply.status_code == 404, (method, path, reply.status_code)
    assert [sim_stats(sim)["requests"] for sim in (deployment.sim_a, deployment.sim_b)] == before
