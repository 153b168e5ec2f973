"""The chart's PrometheusRule and Grafana dashboard: they query metrics the gateway exports, with
the labels it gives them, and the dashboard reaches Grafana's sidecar."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
from prometheus_client import CollectorRegistry

from gateway.telemetry.families import create_families
from tests.helm.rendering import Rendered

Scenario = Callable[[str], Rendered]

_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def _exported() -> dict[str, set[str]]:
    """Every metric name the gateway exports (histograms' series included), with its labels."""
    registry = CollectorRegistry()
    families = create_families(registry)
    found: dict[str, set[str]] = {}
    for name in families.__dataclass_fields__:
        metric: Any = getattr(families, name)
        labels = set(getattr(metric, "_labelnames", ()) or getattr(metric, "labelnames", ()))
        base = metric._name if hasattr(metric, "_name") else metric.name
        for suffix in ("", *_SUFFIXES):
            found[base + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
        if base.endswith("_total"):
            found[base] = labels
    return found


def _metric_names(expression: str) -> Iterator[tuple[str, set[str]]]:
    """(metric, labels it is filtered or grouped by) in a PromQL expression, roughly but enough."""
    for match in re.finditer(r"\b(gateway_[a-z0-9_]+)\b(\{([^}]*)\})?", expression):
        selectors = match.group(3) or ""
        yield match.group(1), set(re.findall(r"([a-z_]+)\s*[=!]~?", selectors))


def _grouped(expression: str) -> set[str]:
    return {
        label.strip() for group in re.findall(r"by \(([^)]*)\)", expression) for label in group.split(",")
    }


def _check(expression: str, exported: dict[str, set[str]]) -> None:
    names = set()
    for name, labels in _metric_names(expression):
        assert name in exported, f"{name} is not a gateway metric ({expression})"
        assert labels <= exported[name], f"{name} has no label {labels - exported[name]}"
        names.add(name)
    if len(names) == 1:  # what it is grouped by must be its labels
        (name,) = names
        assert _grouped(expression) <= exported[name], f"{expression} groups by a label {name} lacks"


def test_the_rules_query_exported_metrics_by_their_labels(scenario: Scenario) -> None:
    rendered = scenario("monitoring")
    rule = rendered.one("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    exported = _exported()
    alerts = {}
    for group in rule["spec"]["groups"]:
        for entry in group["rules"]:
            _check(entry["expr"], exported)
            alerts[entry["alert"]] = entry
    assert {"GatewayBudgetNearlySpent", "GatewayBudgetExhausted", "GatewayStoreNotPersistent"} <= set(alerts)
    assert alerts["GatewayBudgetNearlySpent"]["expr"].endswith(">= 0.8")
    # Prometheus' own templates reach Prometheus untouched by Helm.
    assert "{{ $labels.department }}" in alerts["GatewayBudgetExhausted"]["annotations"]["summary"]
    assert scenario("defaults").kinds() == scenario("defaults").kinds() - {"PrometheusRule"}


def test_the_dashboard_reaches_the_sidecar_and_charts_what_sres_need(scenario: Scenario) -> None:
    rendered = scenario("monitoring")
    (config_map,) = [
        manifest
        for manifest in rendered.manifests
        if manifest["kind"] == "ConfigMap" and manifest["metadata"]["name"].endswith("-dashboard")
    ]
    kubernetes_validate.validate(config_map, kubernetes_validate.latest_version(), strict=True)
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Gateway"}
    dashboard = json.loads(config_map["data"]["sovereign-gateway.json"])
    assert dashboard["uid"] == "sovereign-gateway"
    exported = _exported()
    queried: set[str] = set()
    grouped: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            _check(target["expr"], exported)
            queried |= {name for name, _ in _metric_names(target["expr"])}
            grouped |= _grouped(target["expr"])
    # Requests, errors, latency, tokens, cost, energy, backend load and queues.
    assert {
        "gateway_requests_total",
        "gateway_request_duration_seconds_bucket",
        "gateway_tokens_total",
        "gateway_cost_eur_total",
        "gateway_energy_wh_total",
        "gateway_backend_running",
        "gateway_backend_queue_depth",
        "gateway_budget_used_ratio",
    } <= queried
    assert {"department", "model", "backend"} <= grouped
    assert not any("dashboard" in manifest["metadata"]["name"] for manifest in scenario("defaults").manifests)
