"""The planner: which counters one request touches, with what limit, amount and period.

It runs on every request, so everything that depends only on (department, service, key, model) is
computed once and cached: the limits that apply, their store keys, the weights. What remains per
request is a multiplication and, at most once a day per cached entry, new period ids.

A counter is named inside its department (the department is the Redis hash tag, so it is not
repeated): `<level>:<scope>:<kind>[@<model>]`, plus `|<period>` for calendar budgets, e.g.

    d::tokmo|2026-11                     department budget of November
    s:assistant-courrier:tokd|2026-11-03 a service's budget of one day
    k:abcdefgh2345:reqm@mistral-large    a key's requests per minute on one model
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from gateway.quotas.periods import Calendar, Period
from gateway.quotas.settings import LevelQuota, LimitKind, Limits, QuotaConfig

__all__ = ["Counter", "CounterCode", "Level", "Plan", "Planner", "weighted_cost"]

Level = Literal["department", "service", "key"]
CounterCode = Literal["c", "e", "t", "r", "x"]
"""How a store keeps a counter: `c` calendar token budget (one integer per period), `e` calendar euro
budget (the same, in micro-euros), `t` tokens and `r` requests in a rolling minute (buckets), `x`
concurrency (the reservations holding a slot)."""

_CODES: dict[LimitKind, CounterCode] = {
    "tokens_per_minute": "t",
    "tokens_per_day": "c",
    "tokens_per_month": "c",
    "requests_per_minute": "r",
    "max_concurrent": "x",
    "eur_per_day": "e",
    "eur_per_month": "e",
}
_SHORT: dict[LimitKind, str] = {
    "tokens_per_minute": "tokm",
    "tokens_per_day": "tokd",
    "tokens_per_month": "tokmo",
    "requests_per_minute": "reqm",
    "max_concurrent": "conc",
    "eur_per_day": "eurd",
    "eur_per_month": "eurmo",
}
_LEVEL_CHAR: dict[Level, str] = {"department": "d", "service": "s", "key": "k"}
_MICRO = 1_000_000
"""Weights are kept as integers of millionths, so that 1.1 * 3.0 costs 3.3 and not 3.3000000000000003
(which would round 1000 tokens up to 3301)."""


def weighted_cost(input_tokens: int, output_tokens: int, input_weight: int, output_weight: int) -> int:
    """`input * input_weight + output * output_weight` in millionths, rounded up to whole tokens."""
    micro = max(0, input_tokens) * input_weight + max(0, output_tokens) * output_weight
    return -(-micro // _MICRO)


class Counter(msgspec.Struct, frozen=True, gc=False):
    """One limit that a request is charged against."""

    level: Level
    scope: str
    """`dgfip`, `dgfip/assistant-courrier` or a key id."""
    model: str | None
    """The model this limit is for; None when it counts every model."""
    kind: LimitKind
    limit: int
    key: str
    """The counter's name inside its department, period included for calendar budgets."""
    code: CounterCode
    period_end: float = 0.0
    """End of the calendar period (its reset), epoch seconds; 0 for rolling and concurrency limits."""

    @property
    def tokens(self) -> bool:
        """Counts weighted tokens (else requests or slots, one per request)."""
        return self.code in ("c", "t")

    @property
    def euros(self) -> bool:
        """Counts micro-euros."""
        return self.code == "e"

    @property
    def budget(self) -> bool:
        """A calendar budget: refusing it means `insufficient_quota`, not a rate limit."""
        return self.code in ("c", "e")

    def describe(self) -> str:
        """`service dgfip/assistant-courrier, tokens per day on model mistral-large`."""
        who = f"API key {self.scope}" if self.level == "key" else f"{self.level} {self.scope}"
        what = (
            self.kind.replace("_", " ")
            .replace("max concurrent", "concurrent requests")
            .replace("eur ", "euros ")
        )
        on = f" on model {self.model}" if self.model is not None else ""
        return f"{who}, {what}{on}"


class _Spec(msgspec.Struct, frozen=True, gc=False):
    level: Level
    scope: str
    model: str | None
    kind: LimitKind
    limit: int
    name: str
    code: CounterCode


class _Template:
    """What one (department, service, key, model) is limited by; counters rebuilt once per period."""

    __slots__ = ("_current", "calendar", "department", "input_weight", "output_weight", "specs")

    def __init__(
        self,
        department: str,
        specs: tuple[_Spec, ...],
        input_weight: int,
        output_weight: int,
        calendar: Calendar,
    ) -> None:
        self.department = department
        self.specs = specs
        self.input_weight = input_weight
        self.output_weight = output_weight
        self.calendar = calendar
        # Counters and the bounds within which they hold, replaced as one value (a ledger's thread may
        # rebase a plan while the event loop plans another).
        self._current: tuple[tuple[Counter, ...], tuple[float, float]] = ((), (0.0, 0.0))
        if not any(spec.code in ("c", "e") for spec in specs):
            self._current = (tuple(self._counter(spec, None) for spec in specs), (-math.inf, math.inf))

    @staticmethod
    def _counter(spec: _Spec, period: Period | None) -> Counter:
        if period is None:
            return Counter(spec.level, spec.scope, spec.model, spec.kind, spec.limit, spec.name, spec.code)
        return Counter(
            spec.level,
            spec.scope,
            spec.model,
            spec.kind,
            spec.limit,
            f"{spec.name}|{period.id}",
            spec.code,
            period.end,
        )

    def counters_at(self, now: float) -> tuple[tuple[Counter, ...], tuple[float, float]]:
        current = self._current
        valid_from, valid_until = current[1]
        if valid_from <= now < valid_until:
            return current
        day, month = self.calendar.periods(now)
        counters = []
        for spec in self.specs:
            period = None
            if spec.kind in ("tokens_per_day", "eur_per_day"):
                period = day
            elif spec.kind in ("tokens_per_month", "eur_per_month"):
                period = month
            counters.append(self._counter(spec, period))
        # A day lies within its month: the day's bounds are those of every calendar counter.
        current = self._current = (tuple(counters), (day.start, day.end))
        return current


class Plan(msgspec.Struct, frozen=True, gc=False):
    """The counters one request touches and what it reserves on each; from `Planner.plan`."""

    department: str
    model: str
    amount: int
    """Weighted tokens reserved on every token counter: the worst case, prompt plus all the output
    the request may generate. Request and concurrency counters take 1."""
    input_tokens: int
    max_output_tokens: int
    counters: tuple[Counter, ...]
    valid_from: float
    """The plan's calendar periods hold from `valid_from` (included) to `valid_until` (excluded)."""
    valid_until: float
    input_weight: int
    """Weight of an input token, model multiplier included, in millionths."""
    output_weight: int
    template: _Template
    eur_amount: int = 0
    """Micro-euros reserved on every euro budget: the worst case at the model's prices."""
    eur_input_weight: int = 0
    """Price of an input token in millionths of a micro-euro (the price per million tokens, x 10^6)."""
    eur_output_weight: int = 0

    def amount_for(self, counter: Counter) -> int:
        if counter.tokens:
            return self.amount
        return self.eur_amount if counter.euros else 1

    def holds_at(self, now: float) -> bool:
        """True if the plan's calendar periods contain `now` (epoch seconds)."""
        return self.valid_from <= now < self.valid_until

    def at(self, now: float) -> Plan:
        """The same request planned at `now`: what a ledger does when its clock is in another period."""
        counters, (valid_from, valid_until) = self.template.counters_at(now)
        return msgspec.structs.replace(
            self, counters=counters, valid_from=valid_from, valid_until=valid_until
        )

    def cost(self, input_tokens: int, output_tokens: int) -> int:
        """Weighted cost of an actual usage of this model."""
        return weighted_cost(input_tokens, output_tokens, self.input_weight, self.output_weight)

    def local_time(self, when: float) -> str:
        return self.template.calendar.local(when)


def _specs(level: Level, scope: str, local: str, quota: LevelQuota | None, model: str) -> list[_Spec]:
    if quota is None:
        return []
    found: list[_Spec] = []
    char = _LEVEL_CHAR[level]
    limits: list[tuple[Limits, str | None]] = [(quota, None)]
    per_model = quota.models.get(model)
    if per_model is not None:
        limits.append((per_model, model))
    for source, for_model in limits:
        suffix = "" if for_model is None else f"@{for_model}"
        for kind, value in source.items():
            name = f"{char}:{local}:{_SHORT[kind]}{suffix}"
            found.append(_Spec(level, scope, for_model, kind, value, name, _CODES[kind]))
    return found


class Planner:
    """Builds plans from the `quotas` configuration. One per worker; not shared between threads."""

    def __init__(self, config: QuotaConfig, *, cache_size: int = 10_000) -> None:
        self.config = config
        self.calendar = Calendar(config.zone)
        self._cache_size = cache_size
        self._templates: dict[tuple[str, str, str, str], _Template] = {}
        self._price_cache: dict[str, tuple[int, int, int]] = {}

    def _template(self, department: str, service: str, key_id: str, model: str) -> _Template:
        config = self.config
        specs = [
            *_specs("department", department, "", config.departments.get(department), model),
            *_specs(
                "service",
                f"{department}/{service}",
                service,
                config.services.get(f"{department}/{service}"),
                model,
            ),
            *_specs("key", key_id, key_id, config.keys.get(key_id), model),
        ]
        multiplier = config.multiplier(model)
        return _Template(
            department,
            tuple(specs),
            round(config.weights.input * multiplier * _MICRO),
            round(config.weights.output * multiplier * _MICRO),
            self.calendar,
        )

    def plan(
        self,
        department: str,
        service: str,
        key_id: str,
        model: str,
        input_tokens: int,
        max_output_tokens: int,
        now: float,
        *,
        audio_seconds: int = 0,
        price_factor: float = 1.0,
    ) -> Plan:
        """What a request reserves: `input_tokens` must not underestimate the prompt, and
        `max_output_tokens` is what the backend is allowed to generate (see `output_allowance`);
        `audio_seconds`, an upload's length, at the model's price per second on euro budgets.
        `price_factor` scales the weights and prices of its tokens (a batch's lines are cheaper)."""
        cache_key = (department, service, key_id, model)
        template = self._templates.get(cache_key)
        if template is None:
            if len(self._templates) >= self._cache_size:
                self._templates.clear()
            template = self._templates[cache_key] = self._template(department, service, key_id, model)
        counters, (valid_from, valid_until) = template.counters_at(now)
        input_tokens = max(0, input_tokens)
        max_output_tokens = max(0, max_output_tokens)
        input_weight, output_weight = template.input_weight, template.output_weight
        eur_input, eur_output, eur_second = self._prices(model)
        if price_factor != 1.0:
            input_weight, output_weight = (
                round(input_weight * price_factor),
                round(output_weight * price_factor),
            )
            eur_input, eur_output, eur_second = (
                round(eur_input * price_factor),
                round(eur_output * price_factor),
                round(eur_second * price_factor),
            )
        amount = weighted_cost(input_tokens, max_output_tokens, input_weight, output_weight)
        eur_amount = weighted_cost(input_tokens, max_output_tokens, eur_input, eur_output)
        if audio_seconds > 0:
            eur_amount += -(-audio_seconds * eur_second // _MICRO)
        return Plan(
            department,
            model,
            amount,
            input_tokens,
            max_output_tokens,
            counters,
            valid_from,
            valid_until,
            input_weight,
            output_weight,
            template,
            eur_amount,
            eur_input,
            eur_output,
        )

    def _prices(self, model: str) -> tuple[int, int, int]:
        """The model's prices per token (input, output) and per second of audio, in millionths of
        a micro-euro: the price per million tokens in euros is exactly micro-euros per token."""
        prices = self._price_cache.get(model)
        if prices is None:
            pricing = self.config.models.get(model)
            prices = (0, 0, 0)
            if pricing is not None:
                prices = (
                    int((pricing.price_per_million_input or 0) * _MICRO),
                    int((pricing.price_per_million_output or 0) * _MICRO),
                    int((pricing.price_per_audio_second or 0) * _MICRO * _MICRO),
                )
            if len(self._price_cache) < self._cache_size:  # model names are the configured ones
                self._price_cache[model] = prices
        return prices

    def eur_cost(self, model: str, input_tokens: int, output_tokens: int) -> int:
        """Micro-euros of an actual usage in tokens, rounded up (the euro budgets' charge)."""
        eur_input, eur_output, _ = self._prices(model)
        return weighted_cost(input_tokens, output_tokens, eur_input, eur_output)

    def output_allowance(
        self, max_tokens: int | None, *, context_left: int | None = None, choices: int = 1
    ) -> int:
        """The output tokens a request may generate, all choices together: its `max_tokens` (or
        `default_max_tokens` when absent), capped by what remains of the model's context when known,
        times `n`. When the client gave no `max_tokens`, forward the capped per-choice value as
        `max_tokens`, so that the backend cannot generate more than was reserved."""
        per_choice = self.config.default_max_tokens if max_tokens is None else max(0, max_tokens)
        if context_left is not None:
            per_choice = min(per_choice, max(0, context_left))
        return per_choice * max(1, choices)

    def cost(self, model: str, input_tokens: int, output_tokens: int, price_factor: float = 1.0) -> int:
        """Weighted cost of an actual usage (for usage records)."""
        multiplier = self.config.multiplier(model) * price_factor
        return weighted_cost(
            input_tokens,
            output_tokens,
            round(self.config.weights.input * multiplier * _MICRO),
            round(self.config.weights.output * multiplier * _MICRO),
        )
