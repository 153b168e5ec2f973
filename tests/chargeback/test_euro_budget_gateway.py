"""A euro budget through a running gateway: requests are charged their price until the budget is
spent, then refused with OpenAI's `insufficient_quota`, as the openai SDK reads it."""

from __future__ import annotations

import time

import openai

from tests.gateway.conftest import CHAT_MODEL, DEPARTMENT, SERVICE, running_gateway, running_simulator


def test_requests_are_refused_once_the_euro_budget_is_spent() -> None:
    # 1000 euros per million output tokens: 20 output tokens reserve 0.02 EUR; the budget holds 0.05.
    quotas = {
        "models": {CHAT_MODEL: {"price_per_million_output": "1000"}},
        "services": {f"{DEPARTMENT}/{SERVICE}": {"eur_per_day": "0.05"}},
    }
    with (
        running_simulator(CHAT_MODEL) as sim,
        running_gateway([{"name": CHAT_MODEL, "backends": [{"url": sim}]}], quotas=quotas) as gateway,
        openai.OpenAI(base_url=gateway.v1, api_key=gateway.api_key, max_retries=0) as client,
    ):
        spent = 0.0
        answered = 0
        refusal: openai.RateLimitError | None = None
        for _ in range(20):
            try:
                raw = client.chat.completions.with_raw_response.create(
                    model=CHAT_MODEL, messages=[{"role": "user", "content": "Bonjour"}], max_tokens=20
                )
            except openai.RateLimitError as exc:
                refusal = exc
                break
            spent += float(raw.headers["x-gateway-cost-eur"])
            answered += 1
            time.sleep(0.05)  # the settlement runs after the answer
        assert refusal is not None
        assert 2 <= answered <= 5 and spent <= 0.05
        error = refusal
        assert error.code == "insufficient_quota" and "Euro budget exhausted" in error.message
        assert "service dgfip/assistant-courrier, euros per day" in error.message
