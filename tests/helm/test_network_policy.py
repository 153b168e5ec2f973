"""The NetworkPolicy lets the gateway reach its backends, Redis (and its Sentinels), the collector and DNS, and
nothing else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helm.rendering import NAMESPACE, Rendered, render, render_error

Scenario = Callable[[str], Rendered]


def _pods(namespace: str, **labels: str) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "podSelector": {"matchLabels": labels},
    }


def _cidr(cidr: str) -> dict[str, Any]:
    return {"ipBlock": {"cidr": cidr}}


def _tcp(port: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port}]


DNS = {
    "to": [_pods("kube-system", **{"k8s-app": "kube-dns"})],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def _egress(rendered: Rendered) -> list[dict[str, Any]]:
    spec = rendered.one("NetworkPolicy")["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["podSelector"]["matchLabels"] == rendered.one("Deployment")["spec"]["selector"]["matchLabels"]
    egress: list[dict[str, Any]] = spec["egress"]
    return egress


def _ingress(rendered: Rendered) -> list[dict[str, Any]]:
    ingress: list[dict[str, Any]] = rendered.one("NetworkPolicy")["spec"]["ingress"]
    return ingress


def test_egress_is_exactly_the_backends_redis_collector_and_dns(scenario: Scenario) -> None:
    assert _egress(scenario("several-backends")) == [
        # In the cluster, behind a Service on port 80: the pods' own port is opened.
        {"to": [_pods("inference", **{"app.kubernetes.io/instance": "mistral-small"})], "ports": _tcp(8000)},
        # Given by its IP address: that address alone, on the URL's port.
        {"to": [_cidr("10.0.0.11/32")], "ports": _tcp(8001)},
        # Outside the cluster, named by DNS: the declared range, on the URL's port.
        {"to": [_cidr("10.20.3.0/28")], "ports": _tcp(8443)},
        {"to": [_cidr("10.0.5.20/32")], "ports": _tcp(6380)},  # Redis
        {
            "to": [_pods("observability", **{"app.kubernetes.io/name": "opentelemetry-collector"})],
            "ports": _tcp(4317),
        },
        DNS,
    ]


def test_default_egress_has_no_collector_while_tracing_is_off(scenario: Scenario) -> None:
    assert _egress(scenario("defaults")) == [
        {"to": [_pods("inference", **{"app.kubernetes.io/name": "vllm-mistral-small"})], "ports": _tcp(8000)},
        {"to": [_pods("redis")], "ports": _tcp(6379)},
        DNS,
    ]


def test_egress_to_a_redis_cluster_opens_its_nodes(scenario: Scenario) -> None:
    # Three nodes matched by one selector, on one port: one rule.
    redis_pods = _pods("redis", **{"app.kubernetes.io/name": "redis-cluster"})
    assert _egress(scenario("redis-cluster"))[1:-1] == [{"to": [redis_pods], "ports": _tcp(6379)}]


def test_egress_to_cluster_nodes_given_by_address_opens_each_of_them(helm: Path) -> None:
    rendered = render(
        {
            "redis": {
                "mode": "cluster",
                "url": "redis://10.0.6.1:7000",
                "network": None,
                "cluster": {"nodes": ["10.0.6.1:7000", "10.0.6.2:7001", "10.0.6.3:7002"]},
            }
        },
        helm,
    )
    assert _egress(rendered)[1:-1] == [
        {"to": [_cidr("10.0.6.1/32")], "ports": _tcp(7000)},
        {"to": [_cidr("10.0.6.2/32")], "ports": _tcp(7001)},
        {"to": [_cidr("10.0.6.3/32")], "ports": _tcp(7002)},
    ]


def test_egress_with_sentinel_opens_every_redis_server_and_every_sentinel(scenario: Scenario) -> None:
    redis_pods = _pods("redis", **{"app.kubernetes.io/name": "redis"})
    assert _egress(scenario("redis-sentinel"))[1:-1] == [
        # Any server may become the master: all of them, on Redis's port.
        {"to": [redis_pods], "ports": _tcp(6379)},
        # The Sentinels, in the same pods here, on theirs.
        {"to": [redis_pods], "ports": _tcp(26379)},
    ]


def test_sentinels_elsewhere_have_a_network_of_their_own(helm: Path) -> None:
    rendered = render(
        {
            "redis": {
                "mode": "sentinel",
                "url": None,
                "network": {"namespace": None, "cidr": "10.0.7.0/24", "port": 6380},
                "sentinel": {
                    "addresses": ["sentinel-a.dc1.internal:5000", "sentinel-b.dc1.internal:5001"],
                    "network": {"cidr": "10.0.8.0/28"},
                },
            }
        },
        helm,
    )
    assert _egress(rendered)[1:-1] == [
        {"to": [_cidr("10.0.7.0/24")], "ports": _tcp(6380)},
        {"to": [_cidr("10.0.8.0/28")], "ports": _tcp(5000)},
        {"to": [_cidr("10.0.8.0/28")], "ports": _tcp(5001)},
    ]


def test_ports_default_to_the_schemes_own(helm: Path) -> None:
    rendered = render(
        {
            "backends": [{"name": "tls", "url": "https://10.1.0.1", "network": None}],
            "models": [{"name": "m", "backends": ["tls"]}],
            "redis": {"url": "redis://10.1.0.2/0", "network": None},
        },
        helm,
    )
    assert [rule["ports"] for rule in _egress(rendered)[:2]] == [_tcp(443), _tcp(6379)]


def test_ingress_only_from_allowed_namespaces_on_the_gateway_port(scenario: Scenario) -> None:
    (rule,) = _ingress(scenario("several-backends"))
    (peer,) = rule["from"]
    assert peer == {
        "namespaceSelector": {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "In",
                    "values": [NAMESPACE, "open-webui", "ingress-nginx"],
                }
            ]
        }
    }
    assert rule["ports"] == _tcp(8080)


def test_monitoring_namespace_let_in_only_with_the_service_monitor(scenario: Scenario) -> None:
    assert len(_ingress(scenario("defaults"))) == 1
    callers, prometheus = _ingress(scenario("service-monitor"))
    assert prometheus["from"] == [_pods("monitoring", **{"app.kubernetes.io/name": "prometheus"})]
    assert prometheus["ports"] == callers["ports"]


def test_no_caller_at_all_means_no_ingress_rule(helm: Path) -> None:
    rendered = render(
        {"networkPolicy": {"ingress": {"allowReleaseNamespace": False, "namespaces": []}}}, helm
    )
    assert _ingress(rendered) == []


def test_a_server_named_by_dns_without_a_network_is_refused(helm: Path) -> None:
    error = render_error(
        {
            "backends": [{"name": "far", "url": "http://vllm.example.internal:8000", "network": None}],
            "models": [{"name": "m", "backends": ["far"]}],
        },
        helm,
    )
    assert "backends[far]: the NetworkPolicy cannot tell where http://vllm.example.internal:8000 is" in error


def test_cidr_and_selectors_together_are_refused(helm: Path) -> None:
    error = render_error({"redis": {"network": {"cidr": "10.0.0.0/24"}}}, helm)
    assert "redis: network.cidr and network.namespace/podLabels exclude each other" in error
    # As the message says: null the default that does not apply.
    rendered = render({"redis": {"network": {"cidr": "10.0.0.0/24", "namespace": None}}}, helm)
    assert {"to": [_cidr("10.0.0.0/24")], "ports": _tcp(6379)} in _egress(rendered)


def test_network_policy_can_be_left_to_the_platform(helm: Path) -> None:
    assert "NetworkPolicy" not in render({"networkPolicy": {"enabled": False}}, helm).kinds()


def test_egress_to_the_identity_providers(helm: Path) -> None:
    rendered = render(
        {
            "identityProviders": [
                {
                    "name": "keycloak",
                    "url": "https://sso.interieur.gouv.fr/realms/agents",
                    "network": {"cidr": "10.30.0.0/24"},
                },
                {
                    "name": "in-cluster",
                    "url": "http://keycloak.iam:8080/realms/x",
                    "network": {"namespace": "iam"},
                },
            ],
            "config": {"console": {"key_sign_in": True}},
        },
        helm,
    )
    assert _egress(rendered)[1:3] == [
        {"to": [_cidr("10.30.0.0/24")], "ports": _tcp(443)},
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "iam"}},
                    "podSelector": {"matchLabels": {}},
                }
            ],
            "ports": _tcp(8080),
        },
    ]
    error = render_error(
        {"identityProviders": [{"name": "proconnect", "url": "https://auth.agentconnect.gouv.fr/api/v2"}]},
        helm,
    )
    assert "identityProviders[proconnect]" in error and "network.cidr" in error
