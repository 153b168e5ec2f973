"""Reading single samples out of Prometheus text (`tests.waiting` waits for them to change)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def _samples(text: str, name: str, labels: dict[str, str]) -> list[float]:
    return [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
    ]


def counter(text: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there are none)."""
    return sum(_samples(text, name, labels))


def gauge(text: str, name: str, **labels: str) -> float:
    values = _samples(text, name, labels)
    assert len(values) == 1, f"{name}{labels}: {len(values)} samples"
    return values[0]
