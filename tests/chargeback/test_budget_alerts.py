"""Budget alerts: thresholds become metrics and signed webhook events, delivered with retries to the
configured URL only; tested with real HTTP receivers on loopback and a running gateway."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid

import httpx
import pytest
import redis.asyncio as redis

from gateway.quotas import EmbeddedLedger, Planner, QuotaConfig
from gateway.quotas.alerts import BudgetWatch, RedisAlertClaims
from gateway.quotas.settings import BudgetAlerts, Webhook
from gateway.quotas.webhooks import WebhookSender, sign
from tests.chargeback.receiver import running_receiver
from tests.gateway.conftest import CHAT_MODEL, DEPARTMENT, SERVICE, running_gateway, running_simulator
from tests.gateway.test_metrics_endpoint import _samples, _value
from tests.quotas.conftest import KEY
from tests.redis_server import running_redis
from tests.waiting import async_wait_for, wait_for

SECRET = "s3cret-for-the-finance-office"
ENVIRON = {"ALERT_SECRET": SECRET}


def _settings(url: str, **webhook: object) -> BudgetAlerts:
    return BudgetAlerts(webhooks=(Webhook(url=url, secret_env="ALERT_SECRET", **webhook),))  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_each_threshold_is_announced_once_per_budget_and_period() -> None:
    config = QuotaConfig.model_validate(
        {
            "departments": {"dgfip": {"tokens_per_month": 10_000}},
            "services": {"dgfip/svc": {"eur_per_day": "1"}},
            "models": {"small": {"price_per_million_input": "100"}},
        }
    )
    ratios: list[tuple[str, str, str, str, str, float]] = []
    crossed: list[tuple[str, str, str, str, int]] = []
    watch = BudgetWatch(
        config.alerts, ratio=lambda *a: ratios.append(a), crossed=lambda *a: crossed.append(a)
    )
    planner = Planner(config)
    ledger = await EmbeddedLedger.in_memory()
    try:
        for _ in range(12):  # 1000 tokens (10%) and 0.1 EUR (10%) each
            plan = planner.plan("dgfip", "svc", KEY, "small", 1000, 0, time.time())
            watch.observe("dgfip", "svc", await ledger.reserve(plan))
    finally:
        await ledger.close()
    assert crossed == [
        ("dgfip", "", "department", "tokens_per_month", 50),
        ("dgfip", "svc", "service", "eur_per_day", 50),
        ("dgfip", "", "department", "tokens_per_month", 80),
        ("dgfip", "svc", "service", "eur_per_day", 80),
        ("dgfip", "", "department", "tokens_per_month", 100),
        ("dgfip", "svc", "service", "eur_per_day", 100),
    ]
    assert ratios[-2:] == [
        ("dgfip", "", "department", "tokens_per_month", "", 1.0),
        ("dgfip", "svc", "service", "eur_per_day", "", 1.0),
    ]  # the 11th and 12th were refused: their ratio is the usage before them


@pytest.mark.asyncio
async def test_a_webhook_gets_a_signed_event_retried_until_it_answers() -> None:
    with running_receiver() as receiver:
        receiver.answers = [(503, {}), (500, {})]
        sender = WebhookSender(_settings(f"{receiver.url}/hooks/budget", max_attempts=4), ENVIRON)
        sender.start()
        try:
            sender.send("event-1", "dgfip", {"type": "budget.threshold_reached", "threshold_percent": 80})
            assert await async_wait_for(lambda: sender.delivered == 1, 10)
        finally:
            await sender.close()
    assert [request.path for request in receiver.received] == ["/hooks/budget"] * 3
    last = receiver.received[-1]
    assert json.loads(last.body) == {"type": "budget.threshold_reached", "threshold_percent": 80}
    assert last.headers["x-gateway-event-id"] == "event-1"
    expected = sign(SECRET.encode(), last.headers["x-gateway-timestamp"], last.body)
    assert hmac.compare_digest(last.headers["x-gateway-signature"], expected)
    assert abs(int(last.headers["x-gateway-timestamp"]) - time.time()) < 30


@pytest.mark.asyncio
async def test_a_redirect_is_never_followed_and_attempts_are_bounded() -> None:
    with running_receiver() as elsewhere, running_receiver() as receiver:
        receiver.answers = [(307, {"location": f"{elsewhere.url}/stolen"})] * 3
        sender = WebhookSender(_settings(receiver.url + "/hook", max_attempts=2), ENVIRON)
        sender.start()
        started = time.monotonic()
        try:
            sender.send("event-2", "dgfip", {"type": "budget.threshold_reached"})
            assert await async_wait_for(lambda: sender.dropped == 1, 10)
        finally:
            await sender.close()
        assert time.monotonic() - started < 5  # two attempts, one back-off of 0.5 s
    assert len(receiver.received) == 2 and elsewhere.received == []


@pytest.mark.asyncio
async def test_only_the_departments_a_webhook_names_are_sent_to_it() -> None:
    with running_receiver() as receiver:
        sender = WebhookSender(_settings(receiver.url, departments=("dinum",)), ENVIRON)
        sender.start()
        try:
            sender.send("a", "dgfip", {"n": 1})
            sender.send("b", "dinum", {"n": 2})
            assert await async_wait_for(lambda: sender.delivered == 1, 10)
            await asyncio.sleep(0.2)
        finally:
            await sender.close()
    assert [json.loads(request.body) for request in receiver.received] == [{"n": 2}]


def test_a_missing_secret_is_refused() -> None:
    with pytest.raises(Exception, match="ALERT_SECRET"):
        WebhookSender(_settings("http://127.0.0.1:9/h"), {})


def test_a_gateway_announces_its_budgets_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_SECRET", SECRET)
    with running_receiver() as receiver, running_simulator(CHAT_MODEL) as sim:
        quotas = {
            "services": {f"{DEPARTMENT}/{SERVICE}": {"tokens_per_day": 400}},
            "alerts": {"webhooks": [{"url": f"{receiver.url}/alerts", "secret_env": "ALERT_SECRET"}]},
        }
        with running_gateway(
            [{"name": CHAT_MODEL, "backends": [{"url": sim}]}],
            quotas=quotas,
            metrics={"allow_anonymous": True},
        ) as gateway:
            statuses = []
            for _ in range(6):  # each reserves its prompt and 50 output tokens
                reply = httpx.post(
                    f"{gateway.v1}/chat/completions",
                    json={
                        "model": CHAT_MODEL,
                        "messages": [{"role": "user", "content": "x"}],
                        "max_tokens": 50,
                    },
                    headers=gateway.headers,
                    timeout=10,
                )
                statuses.append(reply.status_code)
                time.sleep(0.05)
            assert wait_for(lambda: len(receiver.received) >= 2, 10)
            samples = _samples(gateway.url)
        events = [json.loads(request.body) for request in receiver.received]
        thresholds = [event["threshold_percent"] for event in events]
        assert thresholds == sorted(thresholds) and thresholds[:2] == [50, 80]
        assert all(event["level"] == "service" and event["limit"] == "tokens_per_day" for event in events)
        assert events[0]["department"] == DEPARTMENT and events[0]["budget"] == 400
        assert _value(samples, "gateway_budget_alerts_total", threshold="50", level="service") == 1
        assert _value(samples, "gateway_budget_used_ratio", service=SERVICE, limit="tokens_per_day") > 0.5


@pytest.mark.asyncio
async def test_processes_sharing_redis_send_each_crossing_once() -> None:
    config = QuotaConfig.model_validate({"departments": {"dgfip": {"tokens_per_month": 1000}}})
    planner = Planner(config)
    crossed: list[tuple[str, str, str, str, int]] = []
    with running_redis() as url, running_receiver() as receiver:
        prefix = f"t{uuid.uuid4().hex[:8]}"
        senders = [WebhookSender(_settings(receiver.url), ENVIRON) for _ in range(3)]
        watches = [
            BudgetWatch(
                config.alerts,
                crossed=lambda *a: crossed.append(a),
                sender=sender,
                claims=RedisAlertClaims(redis.Redis.from_url(url), prefix),
            )
            for sender in senders
        ]
        ledger = await EmbeddedLedger.in_memory()
        try:
            for sender in senders:
                sender.start()
            outcome = await ledger.reserve(planner.plan("dgfip", "svc", KEY, "small", 600, 0, time.time()))
            for watch in watches:  # three processes see the same 60% of the same budget
                watch.observe("dgfip", "svc", outcome)
            assert await async_wait_for(lambda: len(receiver.received) >= 1, 10)
            await asyncio.sleep(0.3)  # time for any duplicate to arrive
        finally:
            for watch in watches:
                await watch.close()
            for sender in senders:
                await sender.close()
            await ledger.close()
    assert len(receiver.received) == 1 and len(crossed) == 1
    assert json.loads(receiver.received[0].body)["threshold_percent"] == 50
