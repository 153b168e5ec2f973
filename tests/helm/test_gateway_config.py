"""The configuration the chart writes is one the gateway accepts, and says what the values say."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.config import GatewayConfig, ServerConfig
from tests.helm.rendering import ROOT, Rendered, render
from tests.helm.scenarios import REDIS_CLUSTER, REDIS_SENTINEL, SCENARIOS, SEVERAL_BACKENDS

Scenario = Callable[[str], Rendered]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_rendered_configuration_passes_the_gateways_validation(scenario: Scenario, name: str) -> None:
    config = GatewayConfig.model_validate(scenario(name).gateway_config)
    assert config.server.host == "0.0.0.0"
    assert config.store.kind == "redis"


def test_configuration_carries_the_values(scenario: Scenario) -> None:
    config = GatewayConfig.model_validate(scenario("several-backends").gateway_config)
    backends = {model.name: [backend.url for backend in model.backends] for model in config.models}
    assert backends == {
        "mistral-small": [
            "http://vllm-mistral-small.inference.svc.cluster.local",
            "https://gpu-node-3.dc1.internal:8443",
        ],
        "mistral-small-long-context": ["https://gpu-node-3.dc1.internal:8443"],
        "bge-m3": ["http://10.0.0.11:8001"],
    }
    mistral = config.models[0]
    assert mistral.backends[0].weight == 2
    assert mistral.timeouts.first_byte == 300
    assert mistral.routing.max_attempts == 2
    assert config.models[2].backends[0].max_concurrent == 64
    assert mistral.backends[1].scheduling_policy == "priority"
    assert mistral.backends[0].scheduling_policy == "fcfs"
    assert config.admission.class_of("dgfip", "any", "key") == "interactive"
    assert config.admission.weight_of("dgfip") == 2
    # A model's kind reaches the gateway: the embedder serves no chat, the others everything.
    assert "chat" not in config.models[2].served_operations
    assert "embeddings" in config.models[2].served_operations
    assert "chat" in config.models[1].served_operations
    assert config.server.shutdown_timeout_seconds == 120
    assert config.server.trusted_proxies == ("10.42.0.0/16",)
    assert config.server.max_header_bytes == 65536
    assert (config.server.header_timeout_seconds, config.server.body_timeout_seconds) == (10, 120)
    assert config.store.url == "rediss://gateway@10.0.5.20:6380/2"
    assert config.store.prefix == "sgw-prod"
    assert config.tracing.enabled
    assert config.pii.mode == "pseudonymize"
    assert config.audit.enabled
    assert config.health.interval == 10
    assert config.auth.failed_auth_per_minute == 50


def test_forwarded_headers_are_believed_from_the_listed_proxies_only(scenario: Scenario) -> None:
    """The gateway, not uvicorn's FORWARDED_ALLOW_IPS, decides whose X-Forwarded-For is believed."""
    defaults = scenario("defaults")
    assert GatewayConfig.model_validate(defaults.gateway_config).server.trusted_proxies == ()
    for name in ("defaults", "several-backends"):
        assert "FORWARDED_ALLOW_IPS" not in scenario(name).env()


def test_request_limits_default_to_the_gateways_own(scenario: Scenario) -> None:
    server = GatewayConfig.model_validate(scenario("defaults").gateway_config).server
    gateway_defaults = ServerConfig()
    for name in ("max_header_bytes", "header_timeout_seconds", "body_timeout_seconds", "max_body_bytes"):
        assert getattr(server, name) == getattr(gateway_defaults, name), name


def test_metrics_need_a_token_unless_the_values_open_them(scenario: Scenario, helm: Path) -> None:
    defaults = GatewayConfig.model_validate(scenario("defaults").gateway_config).metrics
    assert defaults.token_env is None and not defaults.allow_anonymous
    monitored = GatewayConfig.model_validate(scenario("service-monitor").gateway_config).metrics
    assert monitored.token_env == "GATEWAY_METRICS_TOKEN" and not monitored.allow_anonymous
    opened = render({"metrics": {"allowAnonymous": True}}, helm).gateway_config
    assert GatewayConfig.model_validate(opened).metrics.allow_anonymous


def test_large_budgets_stay_integers(scenario: Scenario) -> None:
    """Helm holds numbers from values as floats; printed one by one, 50000000 would become 5e+07,
    which YAML reads back as a string."""
    quotas: dict[str, Any] = scenario("several-backends").gateway_config["quotas"]
    assert quotas["departments"]["dgfip"]["tokens_per_month"] == 50_000_000
    assert isinstance(quotas["departments"]["dgfip"]["tokens_per_month"], int)


def test_every_secret_variable_the_configuration_names_comes_from_a_secret(scenario: Scenario) -> None:
    rendered = scenario("several-backends")
    config = GatewayConfig.model_validate(rendered.gateway_config)
    backend_keys = {backend.api_key_env for model in config.models for backend in model.backends}
    named = {config.auth.pepper_env, config.auth.admin_key_env, config.store.password_env, *backend_keys}
    assert named >= {"VLLM_API_KEY_VLLM_MISTRAL_SMALL", "VLLM_API_KEY_GPU_NODE_3", "GATEWAY_REDIS_PASSWORD"}
    env = rendered.env()
    for variable in named - {None}:
        assert variable is not None
        assert "secretKeyRef" in env[variable]["valueFrom"], variable
    assert env["VLLM_API_KEY_GPU_NODE_3"]["valueFrom"]["secretKeyRef"] == {
        "name": "vllm-keys",
        "key": "gpu-node-3",
    }
    # The bootstrap admin key may be removed from its Secret once the first keys exist.
    assert env["GATEWAY_ADMIN_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert "optional" not in env["GATEWAY_KEY_PEPPER"]["valueFrom"]["secretKeyRef"]


def test_pod_reads_the_rendered_file_and_policies(scenario: Scenario) -> None:
    rendered = scenario("defaults")
    config = GatewayConfig.model_validate(rendered.gateway_config)
    mounts = {mount["name"]: mount for mount in rendered.container["volumeMounts"]}
    assert rendered.env()["GATEWAY_CONFIG"]["value"] == mounts["config"]["mountPath"] + "/gateway.yaml"
    policy_directory = Path(mounts["policies"]["mountPath"])
    assert config.policy.model_file == policy_directory / "model.conf"
    assert config.policy.policy_file == policy_directory / "policy.csv"
    assert str(config.metrics.multiprocess_directory) == mounts["metrics"]["mountPath"]


def test_default_policies_are_the_repositorys(scenario: Scenario) -> None:
    policies = scenario("defaults").policy_files
    for name in ("model.conf", "policy.csv"):
        assert policies[name] == (ROOT / "policies" / name).read_text(encoding="utf-8"), name


def test_policies_given_in_values_replace_the_defaults(helm: Path) -> None:
    policy = "p, user, *, *, chat, allow\n"
    policies = render({"policy": {"policyCsv": policy}}, helm).policy_files
    assert policies["policy.csv"] == policy
    assert policies["model.conf"] == (ROOT / "policies" / "model.conf").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("cpu", "workers"), [("2", 2), (4, 4), ("1500m", 1), ("500m", 1), (2.5, 2), ("3000m", 3)]
)
def test_one_worker_per_whole_cpu_requested(helm: Path, cpu: str | float, workers: int) -> None:
    rendered = render({"resources": {"requests": {"cpu": cpu, "memory": "1Gi"}}}, helm)
    assert rendered.container["args"][:2] == ["--workers", str(workers)]
    assert GatewayConfig.model_validate(rendered.gateway_config).server.workers == workers


def test_backend_served_under_two_names_is_configured_the_same_in_both(scenario: Scenario) -> None:
    """The gateway refuses a server configured differently in two models; the chart lists it once."""
    models = scenario("several-backends").gateway_config["models"]
    gpu_node = [b for m in models for b in m["backends"] if b["url"].startswith("https://gpu-node-3")]
    assert len(gpu_node) == 2
    assert gpu_node[0] == gpu_node[1]
    assert len(SEVERAL_BACKENDS["backends"]) == 3


def test_redis_cluster_configuration(scenario: Scenario) -> None:
    rendered = scenario("redis-cluster")
    store = GatewayConfig.model_validate(rendered.gateway_config).store
    assert store.redis_mode == "cluster"
    assert store.url == "rediss://gateway@/0"
    assert store.cluster_nodes == tuple(REDIS_CLUSTER["redis"]["cluster"]["nodes"])
    assert store.password_env == "GATEWAY_REDIS_PASSWORD"
    assert "secretKeyRef" in rendered.env()["GATEWAY_REDIS_PASSWORD"]["valueFrom"]


def test_redis_sentinel_configuration(scenario: Scenario) -> None:
    rendered = scenario("redis-sentinel")
    store = GatewayConfig.model_validate(rendered.gateway_config).store
    sentinel = REDIS_SENTINEL["redis"]["sentinel"]
    assert store.redis_mode == "sentinel"
    assert store.url is None
    assert store.sentinels == tuple(sentinel["addresses"])
    assert store.sentinel_master == "mymaster"
    env = rendered.env()
    for variable, secret in (
        (store.password_env, REDIS_SENTINEL["redis"]["passwordSecret"]),
        (store.sentinel_password_env, sentinel["passwordSecret"]),
    ):
        assert variable is not None
        assert env[variable]["valueFrom"]["secretKeyRef"] == secret


def test_standalone_configuration_names_its_mode_and_no_other_topology(scenario: Scenario) -> None:
    store = GatewayConfig.model_validate(scenario("defaults").gateway_config).store
    assert store.redis_mode == "standalone"
    assert store.url == "redis://redis.redis.svc.cluster.local:6379/0"
    assert store.sentinels == store.cluster_nodes == ()
    assert "GATEWAY_REDIS_SENTINEL_PASSWORD" not in scenario("defaults").env()


def test_batch_files_live_on_the_claim_every_pod_mounts(helm: Path) -> None:
    rendered = render(
        {"batches": {"existingClaim": "gateway-batch-files"}, "config": {"batches": {"concurrency": 4}}}, helm
    )
    config = GatewayConfig.model_validate(rendered.gateway_config)
    assert config.batches.enabled and config.batches.concurrency == 4
    assert str(config.batches.directory) == "/var/lib/gateway/files"
    volumes = {volume["name"]: volume for volume in rendered.pod_spec["volumes"]}
    assert volumes["batch-files"]["persistentVolumeClaim"] == {"claimName": "gateway-batch-files"}
    mounts = {mount["name"]: mount for mount in rendered.container["volumeMounts"]}
    assert mounts["batch-files"]["mountPath"] == "/var/lib/gateway/files"


def test_batches_turned_off_mount_nothing(helm: Path) -> None:
    rendered = render({"batches": {"enabled": False}}, helm)
    assert GatewayConfig.model_validate(rendered.gateway_config).batches.enabled is False
    assert "batch-files" not in {volume["name"] for volume in rendered.pod_spec["volumes"]}
