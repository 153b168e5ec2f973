"""Every rendered manifest is valid for Kubernetes, on the oldest version the chart supports and the newest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.helm.rendering import Rendered
from tests.helm.scenarios import SCENARIOS

Scenario = Callable[[str], Rendered]

# Chart.yaml's kubeVersion (>=1.25) and the newest schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.25.0", kubernetes_validate.latest_version()]

# Custom resources: kubernetes-validate has schemas for built-in kinds only; these are checked by shape
# in test_service_monitor_targets_the_metrics_endpoint instead.
CUSTOM_RESOURCE_KINDS = {"ServiceMonitor", "PrometheusRule"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_manifest_matches_the_kubernetes_schema(scenario: Scenario, name: str, version: str) -> None:
    rendered = scenario(name)
    for manifest in rendered.manifests:
        if manifest["kind"] in CUSTOM_RESOURCE_KINDS:
            continue
        # strict: unknown fields (a misspelt key) are errors too.
        kubernetes_validate.validate(manifest, version, strict=True)


def test_custom_resources_really_have_no_schema_to_check(scenario: Scenario) -> None:
    """Skipping ServiceMonitor is needed, not convenient: this fails if a schema for it appears."""
    service_monitor = scenario("service-monitor").one("ServiceMonitor")
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(service_monitor, KUBERNETES_VERSIONS[-1], strict=True)


def test_resources_rendered_by_default(scenario: Scenario) -> None:
    assert scenario("defaults").kinds() == {
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    }
    assert scenario("service-monitor").kinds() - scenario("defaults").kinds() == {"ServiceMonitor"}


def test_service_monitor_targets_the_metrics_endpoint(scenario: Scenario) -> None:
    rendered = scenario("service-monitor")
    monitor = rendered.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    service = rendered.one("Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == rendered.gateway_config["metrics"]["path"]
    # The token the gateway asks for is the one Prometheus sends.
    token_env = rendered.gateway_config["metrics"]["token_env"]
    sent: dict[str, Any] = endpoint["authorization"]["credentials"]
    assert rendered.env()[token_env]["valueFrom"]["secretKeyRef"] == sent
