"""A request's energy and emissions, estimated with EcoLogits' model of LLM inference.

EcoLogits (https://ecologits.ai, the `ecologits` package) estimates the energy of one generation from
the model's active and total parameters, the tokens it generated and the request's latency: GPU
energy per token fitted on measured open models, the server's other parts in proportion to the time
the generation held it, times the data centre's PUE; emissions are that energy times the electricity
mix's carbon intensity plus the hardware's manufacture shared over its lifetime (its "embodied"
share). docs/chargeback.md gives the formulas and constants. The package computes locally from
constants and a table of mixes it ships: it makes no network call (a test checks).

Only generated tokens count in this method: a request that generates nothing (embeddings, rerank,
tokenize) is estimated at 0. The figures are estimates for sobriety reporting, not measurements.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

__all__ = ["ImpactEstimator", "RequestImpacts", "electricity_mix"]


class RequestImpacts(msgspec.Struct, frozen=True, gc=False):
    energy_wh: float
    """Energy in watt-hours, the data centre's overhead (PUE) included."""
    emissions_gco2eq: float
    """Greenhouse gases in grams of CO2 equivalent: electricity plus the hardware's embodied share."""


NO_IMPACTS = RequestImpacts(0.0, 0.0)


@functools.cache
def electricity_mix(zone: str) -> Any:
    """EcoLogits' electricity mix of `zone` (ISO 3166-1 alpha-3, or `WOR`); ValueError if unknown."""
    from ecologits.electricity_mix_repository import (
        electricity_mixes,
    )  # loaded on use: a gateway without sizes never reads its tables

    mix = electricity_mixes.find_electricity_mix(zone=zone)
    if mix is None:
        raise ValueError(
            f"unknown electricity mix {zone!r}: use an ISO 3166-1 alpha-3 country code (FRA, DEU...) or WOR"
        )
    return mix


class ImpactEstimator:
    """Estimates for one configuration: the mix and PUE are read once."""

    __slots__ = ("_compute", "_mix", "_pue")

    def __init__(self, zone: str, pue: float) -> None:
        from ecologits.impacts.llm import (
            compute_llm_impacts,
        )  # loaded on use: a gateway without sizes never reads its tables

        self._compute = compute_llm_impacts
        self._mix = electricity_mix(zone)
        self._pue = pue

    def estimate(
        self, active_billions: float, total_billions: float, output_tokens: int, latency_s: float
    ) -> RequestImpacts:
        """One request of a model of `active_billions` (of `total_billions`) parameters that
        generated `output_tokens` in `latency_s` seconds."""
        if output_tokens <= 0:
            return NO_IMPACTS
        mix = self._mix
        impacts = self._compute(
            model_active_parameter_count=active_billions,
            model_total_parameter_count=total_billions,
            output_token_count=output_tokens,
            if_electricity_mix_adpe=mix.adpe,
            if_electricity_mix_pe=mix.pe,
            if_electricity_mix_gwp=mix.gwp,
            if_electricity_mix_wue=mix.wue,
            datacenter_pue=self._pue,
            datacenter_wue=0.0,  # water is not reported
            request_latency=max(latency_s, 1e-3),
        )
        energy, gwp = impacts.energy.value, impacts.gwp.value
        # Plain numbers in, plain numbers out: ranges only come from ranges of parameters.
        assert isinstance(energy, int | float) and isinstance(gwp, int | float)
        return RequestImpacts(energy_wh=energy * 1000, emissions_gco2eq=gwp * 1000)
