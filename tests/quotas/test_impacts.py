"""Energy and emissions per request: EcoLogits' method, computed offline, with the configured mix."""

from __future__ import annotations

import json
import socket
from typing import Any

import msgspec
import pytest
from openai.types.chat import ChatCompletion

from gateway.quotas import QuotaConfig
from gateway.quotas.impacts import ImpactEstimator, electricity_mix
from gateway.quotas.pricing import Pricing, Spent, spent_headers, with_usage_fields
from gateway.usage import Usage

_SIZED = QuotaConfig.model_validate(
    {
        "models": {
            "small": {
                "price_per_million_input": 0.2,
                "price_per_million_output": 0.6,
                "active_parameters_billions": 7,
            },
            "moe": {"active_parameters_billions": 39, "total_parameters_billions": 141},
            "unsized": {"price_per_million_output": 1},
        }
    }
)


def test_estimates_are_computed_without_any_network_call(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)

    def resolve(*args: Any, **kwargs: Any) -> list[Any]:
        attempts.append(args)
        raise OSError("no name resolution in this test")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    impacts = ImpactEstimator("FRA", 1.2).estimate(7, 7, 200, 5.0)
    assert attempts == []
    assert 0 < impacts.energy_wh < 1 and 0 < impacts.emissions_gco2eq < 1


def test_more_tokens_more_parameters_and_a_dirtier_mix_cost_more() -> None:
    france = ImpactEstimator("FRA", 1.2)
    base = france.estimate(7, 7, 200, 30.0)
    assert france.estimate(7, 7, 400, 30.0).energy_wh > base.energy_wh
    assert france.estimate(70, 70, 200, 30.0).energy_wh > base.energy_wh
    poland = ImpactEstimator("POL", 1.2).estimate(7, 7, 200, 30.0)
    assert poland.energy_wh == pytest.approx(base.energy_wh)  # the same electricity...
    assert poland.emissions_gco2eq > 3 * base.emissions_gco2eq  # ...from coal rather than nuclear
    assert ImpactEstimator("FRA", 1.5).estimate(7, 7, 200, 30.0).energy_wh == pytest.approx(
        base.energy_wh * 1.25
    )
    assert france.estimate(7, 7, 0, 1.0).energy_wh == 0  # nothing generated: nothing estimated


def test_the_mix_is_checked_against_ecologits_table() -> None:
    assert electricity_mix("FRA").gwp == pytest.approx(0.04144, rel=0.2)
    with pytest.raises(ValueError, match="unknown electricity mix 'XXX'"):
        QuotaConfig.model_validate({"impacts": {"electricity_mix": "XXX"}})
    assert QuotaConfig().impacts.electricity_mix == "FRA"
    with pytest.raises(ValueError, match="below active_parameters_billions"):
        QuotaConfig.model_validate(
            {"models": {"m": {"active_parameters_billions": 10, "total_parameters_billions": 5}}}
        )


def test_spend_gives_cost_and_impacts_only_for_sized_models() -> None:
    pricing = Pricing(_SIZED)
    small = pricing.spend("small", Usage(1000, 500), 4.0)
    assert small.cost_eur == pytest.approx((1000 * 0.2 + 500 * 0.6) / 1e6)
    assert small.impacts is not None and small.energy_wh > 0
    moe = pricing.spend("moe", Usage(1000, 500), 4.0)
    assert moe.impacts is not None and moe.cost_eur == 0
    unsized = pricing.spend("unsized", Usage(1000, 500), 4.0)
    assert unsized.impacts is None and unsized.energy_wh == 0
    assert spent_headers(unsized) == {"x-gateway-cost-eur": "0.000500"}
    headers = spent_headers(small)
    assert set(headers) == {"x-gateway-cost-eur", "x-gateway-energy-wh"}
    assert float(headers["x-gateway-energy-wh"]) == pytest.approx(small.energy_wh, rel=1e-5)


def test_usage_fields_are_spliced_in_and_the_openai_sdk_still_parses_the_answer() -> None:
    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "small",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "{usage}"}}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    body = json.dumps(answer).encode()
    spent = Pricing(_SIZED).spend("small", Usage(10, 5), 1.0)
    changed = with_usage_fields(body, spent)
    parsed = ChatCompletion.model_validate_json(changed)
    assert parsed.usage is not None and parsed.usage.total_tokens == 15
    extra = parsed.usage.model_extra or {}
    assert extra["cost_eur"] == pytest.approx(spent.cost_eur, abs=1e-6)
    assert extra["energy_wh"] == pytest.approx(spent.energy_wh, rel=1e-5) and extra["emissions_gco2eq"] > 0
    assert parsed.choices[0].message.content == "{usage}"  # the rest is untouched
    added = changed[changed.rfind(b',"cost_eur"') : changed.rfind(b"}}")]
    assert changed.replace(added, b"") == body
    no_usage = b'{"object": "list", "data": []}'
    assert with_usage_fields(no_usage, spent) == no_usage
    assert json.loads(with_usage_fields(b'{"usage": {}}', Spent(0, 0.25, None))) == {
        "usage": {"cost_eur": 0.25}
    }
    assert msgspec.json.decode(changed)["usage"]["prompt_tokens"] == 10
