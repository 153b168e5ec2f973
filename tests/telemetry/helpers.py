"""A small deployment's pools, and the rendered exposition read back as numbers."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

from gateway.config import GatewayConfig
from gateway.routing import Backend, ModelPool, build_pools

CHAT_MODEL = "mistral-small"
EMBEDDING_MODEL = "bge-m3"
# Nothing listens on these: the tests set the backends' state themselves, no request is sent.
BACKEND_A = "http://127.0.0.1:9"
BACKEND_B = "http://127.0.0.1:10"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def deployment_config() -> GatewayConfig:
    """Two models; backend A serves both (one Backend object, two label pairs)."""
    return GatewayConfig.model_validate(
        {
            "models": [
                {"name": CHAT_MODEL, "backends": [{"url": BACKEND_A}, {"url": BACKEND_B}]},
                {"name": EMBEDDING_MODEL, "backends": [{"url": BACKEND_A}]},
            ]
        }
    )


def deployment_pools() -> tuple[dict[str, ModelPool], dict[str, Backend]]:
    pools, backends = build_pools(deployment_config())
    return pools, {backend.url: backend for backend in backends}


def parse(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and label set."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(samples: Samples, name: str, labels: Mapping[str, str] | None = None, **more: str) -> float:
    """The sample `name` with exactly these labels; KeyError (listing its label sets) if absent."""
    wanted = frozenset({**(labels or {}), **more}.items())
    try:
        return samples[(name, wanted)]
    except KeyError:
        present = [dict(found) for sample_name, found in samples if sample_name == name]
        raise KeyError(f"{name}{dict(wanted)} not in the exposition; present: {present}") from None


def bucket_bounds(samples: Samples, name: str, **labels: str) -> list[float]:
    """The `le` bounds of histogram `name`'s buckets for one label set, in increasing order."""
    wanted = set(labels.items())
    bounds = [
        float(dict(found)["le"])
        for sample_name, found in samples
        if sample_name == f"{name}_bucket" and wanted <= set(found)
    ]
    return sorted(bounds)


def label_names(samples: Samples) -> set[str]:
    return {label for _, found in samples for label, _ in found}


def bucket(samples: Samples, name: str, le: float, **labels: str) -> float:
    """The cumulative count of histogram `name`'s bucket `le` (compared as numbers, not as text)."""
    wanted = set(labels.items())
    for (sample_name, found), count in samples.items():
        found_labels = dict(found)
        if (
            sample_name == f"{name}_bucket"
            and float(found_labels["le"]) == le
            and wanted == set(found) - {("le", found_labels["le"])}
        ):
            return count
    raise KeyError(f"{name}_bucket{{le={le}, {labels}}} not in the exposition")
