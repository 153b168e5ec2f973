"""A batch whose department runs out of budget pauses, says why in its `errors`, and keeps its
unfinished lines; a batch's tokens weigh `quotas.batch_price_factor` on budgets and prices."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from gateway.quotas import QuotaConfig
from gateway.quotas.plan import Planner
from gateway.quotas.pricing import Pricing
from gateway.usage import Usage
from tests.batches.conftest import chat_file, sdk, wait_for_status
from tests.gateway.conftest import CHAT_MODEL, DEPARTMENT, running_gateway, running_simulator
from tests.waiting import wait_for


def test_a_batch_out_of_budget_pauses_and_says_why(tmp_path: Path) -> None:
    quotas = {"departments": {DEPARTMENT: {"tokens_per_day": 300}}}
    batches = {"directory": str(tmp_path / "files"), "poll_seconds": 0.05, "concurrency": 1}
    with running_simulator(CHAT_MODEL) as sim:
        models = [{"name": CHAT_MODEL, "backends": [{"url": sim}]}]
        with running_gateway(models, quotas=quotas, batches=batches) as gateway:
            client = sdk(gateway)
            uploaded = client.files.create(file=("many.jsonl", chat_file(200)), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            wait_for_status(client, batch.id, {"in_progress"})

            def paused() -> bool:
                errors = client.batches.retrieve(batch.id).errors
                return errors is not None and bool(errors.data)

            assert wait_for(paused, 30), "the batch never paused"
            shown = client.batches.retrieve(batch.id)
            assert shown.status == "in_progress"
            assert shown.errors is not None and shown.errors.data is not None
            (error,) = shown.errors.data
            assert error.code == "batch_paused"
            assert error.message is not None and "Token budget exhausted" in error.message
            assert shown.request_counts is not None
            assert 0 < shown.request_counts.completed < 200 and shown.request_counts.failed == 0


def test_batch_lines_weigh_the_price_factor() -> None:
    config = QuotaConfig.model_validate(
        {
            "batch_price_factor": 0.5,
            "models": {"m": {"price_per_million_input": "2", "price_per_million_output": "4"}},
        }
    )
    planner = Planner(config)
    interactive = planner.plan("d", "s", "k", "m", 1000, 1000, 0.0)
    batch = planner.plan("d", "s", "k", "m", 1000, 1000, 0.0, price_factor=0.5)
    assert batch.amount * 2 == interactive.amount
    assert batch.cost(100, 100) * 2 == interactive.cost(100, 100)
    pricing = Pricing(config)
    usage = Usage(1_000_000, 1_000_000)
    assert Decimal(str(pricing.price_eur("m", usage, 0.5))) == Decimal("3")
    assert pricing.weighted_cost("m", usage, 0.5) * 2 == pricing.weighted_cost("m", usage)
