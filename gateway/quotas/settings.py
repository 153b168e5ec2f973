"""The `quotas` section of the configuration: budgets, rate limits, weights and prices.

Three levels nest: a department (a ministry's direction), its services (`department/service`), and
single API keys (by key id). Each level may set limits for every model together and, under `models:`,
for one model. A request is charged at every level that has a limit for it, all at once or not at all.

Token limits count *weighted* tokens: `(input * weights.input + output * weights.output) * multiplier`
of the model, rounded up to an integer, so that a large model or long answers use more of a budget.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.identity.keys import is_key_id
from gateway.quotas.impacts import electricity_mix

__all__ = [
    "EURO_KINDS",
    "LIMIT_KINDS",
    "MICRO",
    "BudgetAlerts",
    "ImpactSettings",
    "LevelQuota",
    "LimitKind",
    "Limits",
    "ModelPricing",
    "QuotaConfig",
    "Webhook",
    "Weights",
]

LimitKind = Literal[
    "tokens_per_minute",
    "tokens_per_day",
    "tokens_per_month",
    "requests_per_minute",
    "max_concurrent",
    "eur_per_day",
    "eur_per_month",
]
LIMIT_KINDS: tuple[LimitKind, ...] = (
    "tokens_per_minute",
    "tokens_per_day",
    "tokens_per_month",
    "requests_per_minute",
    "max_concurrent",
    "eur_per_day",
    "eur_per_month",
)
EURO_KINDS: frozenset[LimitKind] = frozenset({"eur_per_day", "eur_per_month"})
MICRO = 1_000_000
"""Euro budgets are counted in whole micro-euros, so that sums are exact."""

# The same rule as key management (gateway.identity.management): lowercase, no slash, no brace, so a
# name is safe in a Redis hash tag, a metric label and a Casbin domain.
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_NAME_RULE = "1 to 63 characters among a-z 0-9 . _ -, starting with a letter or digit"

Amount = Annotated[int, Field(ge=0, le=10**15)]
"""A limit: 0 refuses everything at this level, which is how a model is closed to one service."""
Euros = Annotated[Decimal, Field(ge=0, le=10**9, decimal_places=6)]
"""A euro budget, to the micro-euro."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Limits(_Strict):
    """Limits of one level (for every model together, or for one model). Unset: no limit of that kind."""

    tokens_per_minute: Amount | None = None
    """Weighted tokens within any rolling 60 seconds."""
    tokens_per_day: Amount | None = None
    """Weighted tokens per calendar day in `quotas.timezone`, reset at local midnight."""
    tokens_per_month: Amount | None = None
    """Weighted tokens per calendar month in `quotas.timezone`, reset at local midnight on the 1st."""
    requests_per_minute: Amount | None = None
    """Requests within any rolling 60 seconds."""
    max_concurrent: Amount | None = None
    """Requests in progress at the same time (from reservation to settlement)."""
    eur_per_day: Euros | None = None
    """Euros per calendar day in `quotas.timezone`, at the prices of `quotas.models`: each request
    reserves its worst case in euros before it is forwarded and is charged its actual price after,
    like a token budget. A model without a price costs nothing against it."""
    eur_per_month: Euros | None = None
    """Euros per calendar month in `quotas.timezone`, as `eur_per_day`."""

    def items(self) -> list[tuple[LimitKind, int]]:
        """The limits that are set, in a fixed order; euro budgets in micro-euros."""
        found: list[tuple[LimitKind, int]] = []
        for kind in LIMIT_KINDS:
            value = getattr(self, kind)
            if value is not None:
                found.append((kind, int(value * MICRO) if kind in EURO_KINDS else value))
        return found


class LevelQuota(Limits):
    """The limits of one department, service or key."""

    models: dict[str, Limits] = {}
    """Limits for one model at this level, on top of the ones above (which count every model)."""

    @field_validator("models")
    @classmethod
    def _check_models(cls, value: dict[str, Limits]) -> dict[str, Limits]:
        for name in value:
            _check_model_name(name)
        return value


class Weights(_Strict):
    """How input and output tokens count against budgets."""

    input: Annotated[float, Field(ge=0, le=1000)] = 1.0
    """Weight of one prompt token."""
    output: Annotated[float, Field(ge=0, le=1000)] = 1.0
    """Weight of one generated token; generation costs more GPU time than prefill, so often above 1."""


class ModelPricing(_Strict):
    """What one model costs: in budget (multiplier) and in euros (chargeback reports)."""

    multiplier: Annotated[float, Field(gt=0, le=1000)] = 1.0
    """Factor applied to this model's weighted tokens: 3.0 makes a large model use budgets three times
    as fast as a model with multiplier 1."""
    price_per_million_input: Annotated[Decimal, Field(ge=0)] | None = None
    """Euros per million prompt tokens (unweighted), for usage reports. Unset: not priced."""
    price_per_million_output: Annotated[Decimal, Field(ge=0)] | None = None
    """Euros per million generated tokens (unweighted), for usage reports. Unset: not priced."""
    price_per_audio_second: Annotated[Decimal, Field(ge=0)] | None = None
    """Euros per second of audio billed in seconds, whole seconds rounded up: a whole transcription's
    `usage.seconds`, a translation's length as the gateway reads it from the file. A stream reports
    tokens and is priced by them. Unset: audio is not priced."""
    active_parameters_billions: Annotated[float, Field(gt=0, le=100_000)] | None = None
    """Parameters used per generated token, in billions (all of them for a dense model, the active
    experts' for a mixture of experts): with it, each request's energy and emissions are estimated
    (EcoLogits' method, see docs/chargeback.md). Unset: neither is estimated."""
    total_parameters_billions: Annotated[float, Field(gt=0, le=100_000)] | None = None
    """All the model's parameters, in billions (a mixture of experts' total); unset: the active ones."""

    @model_validator(mode="after")
    def _check_parameters(self) -> ModelPricing:
        active, total = self.active_parameters_billions, self.total_parameters_billions
        if total is not None and active is None:
            raise ValueError("total_parameters_billions needs active_parameters_billions")
        if total is not None and active is not None and total < active:
            raise ValueError(
                f"total_parameters_billions ({total}) is below active_parameters_billions ({active})"
            )
        return self


class ImpactSettings(_Strict):
    """How a request's energy and emissions are estimated, for the models whose size is configured."""

    electricity_mix: str = "FRA"
    """Where the backends' electricity comes from: an ISO 3166-1 alpha-3 zone of EcoLogits' table of
    electricity mixes (`FRA`: France, about 41 gCO2eq/kWh; `WOR`: the world's average)."""
    datacenter_pue: Annotated[float, Field(ge=1, le=5)] = 1.2
    """Power usage effectiveness of the data centre hosting the backends: its total energy over its
    servers' (1.2 is a typical recent data centre's)."""

    @field_validator("electricity_mix")
    @classmethod
    def _check_mix(cls, value: str) -> str:
        electricity_mix(value)
        return value


def _check_model_name(name: str) -> str:
    if not 1 <= len(name) <= 256:
        raise ValueError(f"model name {name[:40]!r} must have 1 to 256 characters")
    return name


def _check_department(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"department {name!r} is not a valid name: {_NAME_RULE}")


class Webhook(_Strict):
    """One receiver of budget alerts: the gateway POSTs each event to `url`, and nowhere else."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s/?#@]+(/[^\s#]*)?$", max_length=2048)]
    """`https://finance.example.gouv.fr/hooks/gateway`: the only address events are sent to. Redirects
    are not followed, proxies from the environment are not used."""
    secret_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    """Environment variable holding the HMAC-SHA256 key (or `<NAME>_FILE`, a file holding it): each
    body is signed in `x-gateway-signature: sha256=<hex>` over `<timestamp>.<body>`, the timestamp in
    `x-gateway-timestamp`."""
    departments: tuple[str, ...] = ()
    """Only the events of these departments; empty: every department's."""
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    """Time allowed for one attempt."""
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 6
    """Attempts per event, with back-off doubling from 0.5 s (0.5, 1, 2, 4, 8 s): an answer other than
    2xx, or none, is retried; then the event is dropped and logged."""


class BudgetAlerts(_Strict):
    """Events when a calendar budget (tokens or euros) crosses a share of its limit."""

    thresholds: tuple[Annotated[int, Field(ge=1, le=100)], ...] = (50, 80, 100)
    """Percentages of each budget that raise an event the first time its usage reaches them in a
    period (reservations in progress included): `gateway_budget_alerts_total`, and a POST to each
    webhook. Empty: no event (the `gateway_budget_used_ratio` gauge stays)."""
    webhooks: tuple[Webhook, ...] = ()
    """Receivers of the events (none by default)."""
    max_pending: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    """Events waiting for delivery per process; beyond, the oldest are dropped and logged."""

    @field_validator("thresholds")
    @classmethod
    def _sorted(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sorted(set(value)))


class QuotaConfig(_Strict):
    """Token budgets, rate and concurrency limits per department, service and key.

    With no department, service or key listed, nothing is limited and no store is asked.
    """

    timezone: str = "Europe/Paris"
    """Time zone of calendar periods: days and months begin at local midnight (summer time included)."""
    default_max_tokens: Annotated[int, Field(ge=1, le=10_000_000)] = 4096
    """Output tokens reserved for a request that gives no `max_tokens` (capped by what remains of the
    model's context when it is known). The gateway forwards this value as the request's `max_tokens`, so
    that no answer can outgrow its reservation."""
    reservation_ttl_seconds: Annotated[float, Field(gt=0, le=86_400)] = 4500.0
    """A reservation not settled or released by then is given back: a gateway that died cannot hold
    budget or concurrency slots for longer. It must be longer than every model's `timeouts.total` (the
    configuration is refused otherwise), best longer than `connect` + `first_byte` + `total`, the
    longest a request can take: the default leaves some five minutes to spare over the default timeouts'
    4210 s. A request outliving its reservation is still charged, once, when it settles."""
    on_store_error: Literal["fail_closed", "fail_open"] = "fail_closed"
    """When the store cannot be reached: `fail_closed` answers 503; `fail_open` keeps serving on
    counters kept in each gateway process (starting from the last usage seen in the store) and writes
    the usage to the store when it answers again, so that none is lost; keys already seen keep working
    too (none can be revoked while the store is down, and caches are flushed when it is back)."""
    weights: Weights = Weights()
    """Weights of input and output tokens, for every model."""
    batch_price_factor: Annotated[float, Field(gt=0, le=1)] = 0.5
    """What the lines of a batch job (`/v1/batches`) cost relative to the same requests sent
    interactively: their tokens weigh this much on every budget, and their euro price is multiplied
    by it. Batches fill the backends' idle time, so they are usually cheaper."""
    models: dict[str, ModelPricing] = {}
    """Budget multiplier, prices and size per model name (the name clients send). Unlisted:
    multiplier 1, no price, no energy estimate."""
    impacts: ImpactSettings = ImpactSettings()
    """The electricity mix and data centre of the energy and emissions estimates."""
    alerts: BudgetAlerts = BudgetAlerts()
    """Events when budgets cross 50, 80 and 100% (metrics, and webhooks when configured)."""
    usage_fields_in_answer: bool = False
    """Add `cost_eur`, and `energy_wh` and `emissions_gco2eq` when the model's size is configured, to
    the `usage` object of whole (not streamed) answers. Off by default: the `x-gateway-cost-eur` and
    `x-gateway-energy-wh` headers say the same without touching the body."""
    departments: dict[str, LevelQuota] = {}
    """Limits per department name, e.g. `dgfip: {tokens_per_month: 50000000}`."""
    services: dict[str, LevelQuota] = {}
    """Limits per service, written `department/service`, e.g. `dgfip/assistant-courrier`."""
    keys: dict[str, LevelQuota] = {}
    """Limits per API key, by key id (the 12 characters after `sgw_`, as `gateway keys list` shows)."""

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Paris") from None
        return value

    @field_validator("models")
    @classmethod
    def _check_models(cls, value: dict[str, ModelPricing]) -> dict[str, ModelPricing]:
        for name in value:
            _check_model_name(name)
        return value

    @field_validator("departments")
    @classmethod
    def _check_departments(cls, value: dict[str, LevelQuota]) -> dict[str, LevelQuota]:
        for name in value:
            _check_department(name)
        return value

    @field_validator("services")
    @classmethod
    def _check_services(cls, value: dict[str, LevelQuota]) -> dict[str, LevelQuota]:
        for name in value:
            department, slash, service = name.partition("/")
            if not slash:
                raise ValueError(
                    f"service {name!r} must be written department/service, e.g. dgfip/{name or 'chatbot'}"
                )
            _check_department(department)
            if not _NAME.fullmatch(service):
                raise ValueError(f"service {service!r} in {name!r} is not a valid name: {_NAME_RULE}")
        return value

    @field_validator("keys")
    @classmethod
    def _check_keys(cls, value: dict[str, LevelQuota]) -> dict[str, LevelQuota]:
        for name in value:
            if not is_key_id(name):
                raise ValueError(
                    f"key {name!r} is not a key id: the 12 characters (a-z, 2-7) after `sgw_` in the key, "
                    "as `gateway keys list` shows them"
                )
        return value

    @model_validator(mode="after")
    def _check_weights(self) -> QuotaConfig:
        if self.weights.input == 0 and self.weights.output == 0:
            raise ValueError("weights.input and weights.output are both 0: every request would be free")
        return self

    @cached_property
    def zone(self) -> ZoneInfo:
        """The time zone of calendar periods."""
        return ZoneInfo(self.timezone)

    @property
    def enabled(self) -> bool:
        """True when some level has limits: requests then go through the store."""
        return bool(self.departments or self.services or self.keys)

    def unpriced_euro_budgets(self) -> list[str]:
        """The euro budgets of one model that has no price: they can never be used (a mistake)."""
        found = []
        for levels in (self.departments, self.services, self.keys):
            for scope, quota in levels.items():
                for model, limits in quota.models.items():
                    pricing = self.models.get(model)
                    priced = pricing is not None and any(
                        price
                        for price in (
                            pricing.price_per_million_input,
                            pricing.price_per_million_output,
                            pricing.price_per_audio_second,
                        )
                    )
                    if not priced and (limits.eur_per_day is not None or limits.eur_per_month is not None):
                        found.append(f"{scope}, model {model}")
        return found

    def multiplier(self, model: str) -> float:
        pricing = self.models.get(model)
        return 1.0 if pricing is None else pricing.multiplier

    def model_names(self) -> set[str]:
        """Every model name this section mentions, to check against the configured models."""
        names = set(self.models)
        for levels in (self.departments, self.services, self.keys):
            for quota in levels.values():
                names.update(quota.models)
        return names
