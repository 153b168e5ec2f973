"""Rolling and stopping pods: the config checksum, graceful shutdown timings, replicas and autoscaling."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from tests.helm.rendering import Rendered, render

Scenario = Callable[[str], Rendered]


def _checksum(rendered: Rendered) -> str:
    annotations: dict[str, str] = rendered.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    return annotations["checksum/config"]


def test_checksum_is_the_hash_of_the_configuration(scenario: Scenario) -> None:
    rendered = scenario("defaults")
    # The ConfigMap's block scalar ends the file with a newline the template's text does not have.
    text = rendered.config_text.removesuffix("\n")
    assert _checksum(rendered) == hashlib.sha256(text.encode()).hexdigest()


def test_configuration_change_rolls_the_pods(helm: Path) -> None:
    before = render({}, helm)
    after = render({"config": {"quotas": {"departments": {"dgfip": {"requests_per_minute": 60}}}}}, helm)
    assert after.config_text != before.config_text
    assert _checksum(after) != _checksum(before)
    assert _checksum(render({"server": {"shutdownTimeoutSeconds": 45}}, helm)) != _checksum(before)


def test_policy_change_does_not_roll_the_pods(helm: Path) -> None:
    """Policies are hot-reloaded: the new ConfigMap content reaches running pods, which keep running."""
    before = render({}, helm)
    after = render({"policy": {"policyCsv": "p, admin, *, *, *, allow\n"}}, helm)
    assert after.policy_files != before.policy_files
    assert _checksum(after) == _checksum(before)
    assert after.one("Deployment") == before.one("Deployment")


def test_grace_period_covers_the_pre_stop_sleep_and_the_drain(scenario: Scenario) -> None:
    for name in ("defaults", "several-backends"):
        rendered = scenario(name)
        pre_stop = rendered.container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        drain = rendered.gateway_config["server"]["shutdown_timeout_seconds"]
        assert rendered.pod_spec["terminationGracePeriodSeconds"] > int(pre_stop[1]) + drain
    assert scenario("several-backends").gateway_config["server"]["shutdown_timeout_seconds"] == 120


def test_autoscaler_owns_the_replica_count(scenario: Scenario) -> None:
    rendered = scenario("defaults")
    assert "replicas" not in rendered.one("Deployment")["spec"]
    autoscaler = rendered.one("HorizontalPodAutoscaler")
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == rendered.one("Deployment")["metadata"]["name"]
    (metric,) = autoscaler["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert rendered.one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_fixed_replicas_without_autoscaler(scenario: Scenario) -> None:
    rendered = scenario("fixed-replicas")
    assert rendered.one("Deployment")["spec"]["replicas"] == 3
    assert "HorizontalPodAutoscaler" not in rendered.kinds()
    assert "PodDisruptionBudget" not in rendered.kinds()


def test_rolling_update_never_drops_capacity(scenario: Scenario) -> None:
    strategy = scenario("defaults").one("Deployment")["spec"]["strategy"]
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
