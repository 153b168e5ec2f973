"""Wrong values fail at install with a message naming the value, from the schema or the templates."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.helm.rendering import CHART, render_error
from tests.helm.scenarios import SCENARIOS

SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
DEFAULTS: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))


def _merged(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Values as helm hands them to the schema: maps merged key by key, lists replaced whole, and a
    null removing the default it overrides."""
    result = copy.deepcopy(dict(defaults))
    for key, value in overrides.items():
        if value is None and key in result:
            del result[key]
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _schema_errors(overrides: Mapping[str, Any]) -> list[jsonschema.ValidationError]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return list(validator.iter_errors(_merged(DEFAULTS, overrides)))


def test_schema_is_valid_draft_7() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_representative_values_pass_the_schema(name: str) -> None:
    assert _schema_errors(SCENARIOS[name]) == []


# (values, where the schema reports the problem, what helm's message contains)
BAD_VALUES: list[tuple[dict[str, Any], str, str]] = [
    ({"redis": {"mode": "replication"}}, "redis.mode", "standalone"),
    ({"redis": {"sentinel": {"addresses": ["redis-sentinel"]}}}, "redis.sentinel.addresses.0", "addresses"),
    ({"redis": {"cluster": {"nodes": "10.0.0.1:6379"}}}, "redis.cluster.nodes", "nodes"),
    ({"redis": {"url": "http://10.0.0.1:6379"}}, "redis.url", "redis"),
    ({"backends": [{"name": "Vllm_A", "url": "http://10.0.0.1:8000"}]}, "backends.0.name", "name"),
    ({"backends": [{"name": "a", "url": "10.0.0.1:8000"}]}, "backends.0.url", "url"),
    ({"resources": {"requests": {"cpu": "two"}}}, "resources.requests.cpu", "cpu"),
    ({"replicas": 3}, "", "replicas"),
    ({"config": {"server": {"port": 9000}}}, "config", "server"),
    ({"tracing": {"protocol": "thrift"}}, "tracing.protocol", "protocol"),
    ({"secrets": {"keyPepper": None}}, "secrets", "keyPepper"),
    ({"server": {"shutdownTimeoutSeconds": 0}}, "server.shutdownTimeoutSeconds", "shutdownTimeoutSeconds"),
    ({"server": {"port": 80}}, "server.port", "port"),
    (
        {"autoscaling": {"targetCPUUtilizationPercentage": "70%"}},
        "autoscaling.targetCPUUtilizationPercentage",
        "targetCPUUtilizationPercentage",
    ),
]


@pytest.mark.parametrize(("values", "where", "_"), BAD_VALUES)
def test_schema_rejects_a_bad_value_where_it_is(values: dict[str, Any], where: str, _: str) -> None:
    errors = _schema_errors(values)
    assert errors, "the schema accepted a bad value"
    assert where in {".".join(str(part) for part in error.absolute_path) for error in errors}


@pytest.mark.parametrize(("values", "_", "named"), BAD_VALUES)
def test_helm_refuses_a_bad_value_before_rendering(
    every_helm: Path, values: dict[str, Any], _: str, named: str
) -> None:
    error = render_error(values, every_helm)
    assert "sovereign-gateway" in error
    assert named in error


# What a schema cannot say clearly is checked by the templates, with a sentence.
TEMPLATE_REFUSALS: list[tuple[dict[str, Any], str]] = [
    (
        {"config": {"auth": {"pepper_env": "MY_PEPPER"}}},
        "config.auth.pepper_env is set by the chart: give the secret in `secrets` instead",
    ),
    (
        {
            "backends": [{"name": "a", "url": "http://10.0.0.1:8000/v1"}],
            "models": [{"name": "m", "backends": ["a"]}],
        },
        "backends[a].url: give the server's base URL without /v1",
    ),
    ({"models": [{"name": "m", "backends": ["nowhere"]}]}, "models: backend nowhere is not in `backends`"),
    (
        {
            "backends": [
                {"name": "a", "url": "http://10.0.0.1:8000"},
                {"name": "a", "url": "http://10.0.0.2:8000"},
            ]
        },
        "backends: a is listed twice",
    ),
    ({"metrics": {"path": "/v1/metrics"}}, "metrics.path must be outside /v1"),
    (
        {"redis": {"url": "redis://:hunter2@10.0.0.1:6379/0"}},
        "redis.url must not contain a password: give it in redis.passwordSecret",
    ),
    (
        {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}},
        "metrics.serviceMonitor.enabled needs metrics.enabled",
    ),
    (
        {"metrics": {"serviceMonitor": {"enabled": True}}},
        "metrics.serviceMonitor.enabled needs metrics.tokenSecret",
    ),
    (
        {"metrics": {"allowAnonymous": True, "tokenSecret": {"name": "gateway-metrics", "key": "token"}}},
        "metrics: give tokenSecret or allowAnonymous: true, not both",
    ),
    ({"redis": {"url": None}}, "redis.url: mode standalone needs the server's URL"),
    ({"redis": {"mode": "sentinel", "url": None}}, "redis.sentinel.addresses: mode sentinel needs host:port"),
    (
        {"redis": {"mode": "sentinel", "sentinel": {"addresses": ["s:26379"]}}},
        "redis.url: with mode sentinel the Sentinels name the master: set redis.url to null",
    ),
    (
        {
            "redis": {
                "mode": "sentinel",
                "url": None,
                "network": None,
                "sentinel": {"addresses": ["10.0.0.1:26379"]},
            }
        },
        "redis.network: with mode sentinel the Sentinels name the master, which may be any of the Redis servers",
    ),
    ({"redis": {"mode": "cluster", "url": None}}, "redis.cluster.nodes: mode cluster needs nodes"),
    ({"redis": {"mode": "cluster", "url": "redis://10.0.0.1:7000/3"}}, "a Redis Cluster has only database 0"),
]


@pytest.mark.parametrize(("values", "message"), TEMPLATE_REFUSALS)
def test_templates_refuse_inconsistent_values_with_a_sentence(
    every_helm: Path, values: dict[str, Any], message: str
) -> None:
    assert message in render_error(values, every_helm)


def _property_names(schema: Mapping[str, Any]) -> Iterator[str]:
    for name, child in schema.get("properties", {}).items():
        yield name
        yield from _property_names(child)
        yield from _property_names(child.get("items", {}))


def test_values_yaml_describes_every_field_the_schema_accepts() -> None:
    text = (CHART / "values.yaml").read_text(encoding="utf-8")
    undocumented = sorted({name for name in _property_names(SCHEMA) if not re.search(rf"\b{name}\b", text)})
    assert undocumented == []
    assert _schema_errors({}) == []
