"""Headers and errors as OpenAI clients read them."""

from __future__ import annotations

import json

import pytest

from gateway.quotas import QuotaExceeded, Refusal, format_duration, rate_limit_headers
from gateway.quotas.ledger import outcome_of
from tests.quotas.conftest import NOON, plan, planner


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0201, "21ms"),
        (0.999, "999ms"),
        (1, "1s"),
        (59.2, "1m0s"),
        (360, "6m0s"),
        (77400, "21h30m0s"),
    ],
)
def test_durations_in_openai_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def _refusal(used: tuple[int, ...], resets_ms: tuple[int, ...], **quotas: object) -> Refusal:
    request = plan(planner(**quotas), NOON)
    outcome = outcome_of(
        request, "id", refused=True, used=used, resets_ms=resets_ms, bucket=0, now=NOON, ttl=900
    )
    assert isinstance(outcome, Refusal)
    return outcome


def test_a_spent_budget_is_insufficient_quota_with_its_level_and_reset() -> None:
    refusal = _refusal(
        (1_000, 999_800),
        (60_000, 43_200_000),
        departments={"dgfip": {"requests_per_minute": 600}},
        services={"dgfip/svc": {"tokens_per_day": 1_000_000}},
    )
    error = QuotaExceeded(refusal)
    assert error.status_code == 429
    body = json.loads(error.body())["error"]
    assert body["code"] == "insufficient_quota" and body["type"] == "insufficient_quota"
    assert body["message"] == (
        "Token budget exhausted for service dgfip/svc, tokens per day: 999,800 of 1,000,000 weighted "
        "tokens used, and this request may need up to 500. The budget resets in 12h0m0s "
        "(at 2026-11-11 00:00 Europe/Paris)."
    )
    assert error.headers["retry-after"] == "43200"
    assert error.headers["x-ratelimit-remaining-tokens"] == "200"
    assert error.headers["x-ratelimit-remaining-requests"] == "0"  # 1000 used of 600, shown as 0


def test_the_refusal_that_frees_last_is_the_one_reported() -> None:
    refusal = _refusal(
        (1000, 10),  # tokens per minute come first in a level's counters
        (20_000, 3_000),
        services={"dgfip/svc": {"requests_per_minute": 10, "tokens_per_minute": 1000}},
    )
    assert refusal.counter.kind == "tokens_per_minute" and refusal.retry_after == 20
    error = QuotaExceeded(refusal)
    assert error.error_type == "tokens" and error.code == "rate_limit_exceeded"
    assert "Retry in 20s" in error.message and error.headers["retry-after-ms"] == "20000"
    assert error.headers["x-ratelimit-reset-requests"] == "3s"


def test_headers_are_empty_without_limits() -> None:
    refusal = _refusal((0,), (1000,), services={"dgfip/svc": {"max_concurrent": 0}})
    assert rate_limit_headers(refusal) == {}
