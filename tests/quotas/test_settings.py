"""The `quotas` configuration section: the shape from the issue, defaults, and clear refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from gateway.quotas import QuotaConfig

EXAMPLE = """
timezone: Europe/Paris
default_max_tokens: 4096
reservation_ttl_seconds: 900
on_store_error: fail_closed
weights: {input: 1.0, output: 1.0}
models: {mistral-large: {multiplier: 3.0, price_per_million_input: 0.5, price_per_million_output: 1.5}}
departments:
  dgfip: {tokens_per_month: 50000000, requests_per_minute: 600, models: {mistral-large: {tokens_per_day: 100000}}}
services:
  dgfip/assistant-courrier: {tokens_per_day: 1000000, tokens_per_minute: 100000, max_concurrent: 20}
keys:
  abcdefgh2345: {requests_per_minute: 60}
"""


def test_the_documented_example_loads() -> None:
    config = QuotaConfig.model_validate(yaml.safe_load(EXAMPLE))
    assert config.enabled
    assert config.zone.key == "Europe/Paris"
    assert config.departments["dgfip"].models["mistral-large"].tokens_per_day == 100_000
    assert config.services["dgfip/assistant-courrier"].items() == [
        ("tokens_per_minute", 100_000),
        ("tokens_per_day", 1_000_000),
        ("max_concurrent", 20),
    ]
    assert config.models["mistral-large"].price_per_million_output == Decimal("1.5")
    assert config.multiplier("mistral-large") == 3.0 and config.multiplier("other") == 1.0
    assert config.model_names() == {"mistral-large"}


def test_defaults_limit_nothing() -> None:
    config = QuotaConfig()
    assert not config.enabled
    assert (config.timezone, config.default_max_tokens, config.reservation_ttl_seconds) == (
        "Europe/Paris",
        4096,
        4500.0,
    )
    assert config.on_store_error == "fail_closed"
    assert (config.weights.input, config.weights.output) == (1.0, 1.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"services": {"assistant": {}}}, "must be written department/service, e.g. dgfip/assistant"),
        ({"services": {"DGFiP/assistant": {}}}, "department 'DGFiP' is not a valid name"),
        ({"services": {"dgfip/mon assistant": {}}}, "service 'mon assistant' in 'dgfip/mon assistant'"),
        ({"services": {"dgfip/a/b": {}}}, "service 'a/b'"),
        ({"departments": {"dgfip/x": {}}}, "department 'dgfip/x' is not a valid name"),
        ({"departments": {"{dgfip}": {}}}, "is not a valid name"),
        ({"keys": {"sgw_abcdefgh2345": {}}}, "is not a key id"),
        ({"timezone": "Europe/Pari"}, "unknown time zone 'Europe/Pari'"),
        ({"departments": {"dgfip": {"tokens_per_mnth": 5}}}, "Extra inputs are not permitted"),
        ({"departments": {"dgfip": {"tokens_per_day": -1}}}, "greater than or equal to 0"),
        ({"weights": {"input": 0, "output": 0}}, "both 0"),
        ({"models": {"big": {"multiplier": 0}}}, "greater than 0"),
        ({"models": {"": {}}}, "must have 1 to 256 characters"),
        ({"services": {"dgfip/x": {"models": {"": {}}}}}, "must have 1 to 256 characters"),
        ({"on_store_error": "fail_silently"}, "fail_closed"),
        ({"default_max_tokens": 0}, "greater than or equal to 1"),
    ],
)
def test_mistakes_are_refused_with_a_clear_message(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        QuotaConfig.model_validate(data)
    assert message in str(caught.value)


def test_it_is_frozen() -> None:
    config = QuotaConfig.model_validate(yaml.safe_load(EXAMPLE))
    with pytest.raises(ValidationError):
        config.default_max_tokens = 1
