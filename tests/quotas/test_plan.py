"""The planner: which counters a request touches, what it reserves, and the calendar behind it."""

from __future__ import annotations

import time

from gateway.quotas import Calendar, Planner, QuotaConfig, weighted_cost
from tests.quotas.conftest import KEY, NOON, PARIS, paris, plan, planner

FULL = {
    "models": {"big": {"multiplier": 2.0}},
    "departments": {"dgfip": {"tokens_per_month": 1_000_000, "models": {"big": {"tokens_per_day": 5000}}}},
    "services": {"dgfip/svc": {"tokens_per_minute": 9000, "requests_per_minute": 60, "max_concurrent": 4}},
    "keys": {KEY: {"requests_per_minute": 10, "models": {"big": {"max_concurrent": 1}}}},
}


def test_every_level_and_model_limit_becomes_a_counter() -> None:
    request = plan(planner(**FULL), NOON, model="big")
    assert [(c.level, c.model, c.kind, c.limit) for c in request.counters] == [
        ("department", None, "tokens_per_month", 1_000_000),
        ("department", "big", "tokens_per_day", 5000),
        ("service", None, "tokens_per_minute", 9000),
        ("service", None, "requests_per_minute", 60),
        ("service", None, "max_concurrent", 4),
        ("key", None, "requests_per_minute", 10),
        ("key", "big", "max_concurrent", 1),
    ]
    assert [c.key for c in request.counters] == [
        "d::tokmo|2026-11",
        "d::tokd@big|2026-11-10",
        "s:svc:tokm",
        "s:svc:reqm",
        "s:svc:conc",
        f"k:{KEY}:reqm",
        f"k:{KEY}:conc@big",
    ]
    assert [c.code for c in request.counters] == ["c", "c", "t", "r", "x", "r", "x"]
    assert request.amount == 1000  # (100 + 400) x 2
    assert [request.amount_for(c) for c in request.counters] == [1000, 1000, 1000, 1, 1, 1, 1]
    assert request.counters[0].period_end == paris(2026, 12, 1)
    assert request.counters[2].period_end == 0.0
    assert request.counters[1].describe() == "department dgfip, tokens per day on model big"
    assert request.counters[6].describe() == f"API key {KEY}, concurrent requests on model big"


def test_other_services_keys_and_models_are_not_touched() -> None:
    quotas = planner(**FULL)
    assert [
        c.kind for c in plan(quotas, NOON, model="small", service="other", key="zzzzzzzzzzzz").counters
    ] == ["tokens_per_month"]
    assert plan(quotas, NOON, department="dinum", key="zzzzzzzzzzzz").counters == ()


def test_weights_are_exact_to_the_millionth() -> None:
    quotas = planner(weights={"input": 1.1, "output": 1.0}, models={"big": {"multiplier": 3.0}})
    # 1.1 x 3.0 is 3.3000000000000003 in floating point: 1000 tokens would round up to 3301.
    assert plan(quotas, NOON, model="big", input_tokens=1000, output_tokens=0).amount == 3300
    assert quotas.cost("big", 1000, 0) == 3300
    assert quotas.cost("big", 1, 0) == 4  # 3.3 rounded up
    assert weighted_cost(3, 0, 333_334, 0) == 2  # 1.000002 -> 2: always up, never down
    assert weighted_cost(-5, -5, 1_000_000, 1_000_000) == 0


def test_output_allowance() -> None:
    quotas = Planner(QuotaConfig(default_max_tokens=2048))
    assert quotas.output_allowance(None) == 2048
    assert quotas.output_allowance(None, context_left=1000) == 1000
    assert quotas.output_allowance(50, context_left=1000) == 50
    assert quotas.output_allowance(5000, context_left=1000) == 1000
    assert quotas.output_allowance(100, choices=3) == 300  # n completions, each up to max_tokens
    assert quotas.output_allowance(-1) == 0


def test_templates_are_cached_and_rebuilt_at_midnight() -> None:
    quotas = planner(**FULL)
    first = plan(quotas, NOON)
    assert plan(quotas, NOON + 60).counters is first.counters  # nothing rebuilt within the day
    tomorrow = plan(quotas, paris(2026, 11, 11, 0, 0))
    assert tomorrow.counters[0].key == "d::tokmo|2026-11"
    assert first.holds_at(paris(2026, 11, 10, 23, 59, 59)) and not first.holds_at(paris(2026, 11, 11))
    back = tomorrow.at(NOON)
    assert back.counters == first.counters and back.amount == first.amount


def test_the_cache_is_bounded() -> None:
    quotas = Planner(QuotaConfig.model_validate(FULL), cache_size=10)
    for index in range(25):
        quotas.plan("dgfip", f"s{index}", KEY, "small", 1, 1, NOON)
    assert len(quotas._templates) <= 10


def test_planning_is_cheap() -> None:
    quotas = planner(**FULL)
    started = time.perf_counter()
    for index in range(20_000):
        quotas.plan("dgfip", "svc", KEY, "big", 100 + index, 400, NOON)
    per_plan = (time.perf_counter() - started) / 20_000
    assert per_plan < 50e-6  # about 2 µs here; generous for slow machines


def test_days_and_months_follow_summer_time() -> None:
    calendar = Calendar(PARIS)
    spring, march = calendar.periods(paris(2026, 3, 29, 12))
    assert spring.id == "2026-03-29" and spring.end - spring.start == 23 * 3600
    assert march.id == "2026-03" and march.end - march.start == 31 * 86400 - 3600
    autumn, october = calendar.periods(paris(2026, 10, 25, 12))
    assert autumn.end - autumn.start == 25 * 3600
    assert october.end - october.start == 31 * 86400 + 3600
    day, month = calendar.periods(paris(2026, 12, 31, 23, 59, 59))
    assert (day.id, month.id, month.end) == ("2026-12-31", "2026-12", paris(2027, 1, 1))
    assert calendar.local(paris(2027, 1, 1)) == "2027-01-01 00:00 Europe/Paris"
