"""`GET /metrics` after known traffic through a gateway: requests, tokens, refusals, PII types."""

from __future__ import annotations

import time

import httpx
import openai
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import DEPARTMENT, SERVICE, SOLO_MODEL, running_gateway, running_simulator

EMAIL = "claire.dupont@interieur.gouv.fr"


def _samples(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=5).text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(
        value for found, value in samples.get(name, []) if all(found.get(k) == v for k, v in labels.items())
    )


def test_metrics_after_known_traffic() -> None:
    quotas = {"services": {f"{DEPARTMENT}/{SERVICE}": {"requests_per_minute": 3}}}
    with (
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            pii={"mode": "mask", "names": "off"},
            quotas=quotas,
            metrics={"allow_anonymous": True},
        ) as gateway,
        openai.OpenAI(base_url=gateway.v1, api_key=gateway.api_key, max_retries=0) as client,
    ):
        usage = [0, 0]
        for content in (f"Écrire à {EMAIL} et {EMAIL}", "Bonjour", "Merci"):
            reply = client.chat.completions.create(
                model=SOLO_MODEL, messages=[{"role": "user", "content": content}]
            )
            assert reply.usage is not None
            usage[0] += reply.usage.prompt_tokens
            usage[1] += reply.usage.completion_tokens
        refused = httpx.post(
            f"{gateway.v1}/chat/completions",
            json={"model": SOLO_MODEL, "messages": [{"role": "user", "content": "encore"}]},
            headers=gateway.headers,
            timeout=10,
        )
        assert refused.status_code == 429
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # accounting ends after the answer is sent
            samples = _samples(gateway.url)
            if _value(samples, "gateway_requests_total", status="200") == 3:
                break
            time.sleep(0.05)
        mine = {"department": DEPARTMENT, "service": SERVICE, "model": SOLO_MODEL}
        assert _value(samples, "gateway_requests_total", status="200", operation="chat", **mine) == 3
        assert _value(samples, "gateway_requests_total", status="429", **mine) == 1
        assert _value(samples, "gateway_tokens_total", type="input", **mine) == usage[0]
        assert _value(samples, "gateway_tokens_total", type="output", **mine) == usage[1]
        assert _value(samples, "gateway_request_duration_seconds_count", model=SOLO_MODEL) == 3
        assert (
            _value(samples, "gateway_quota_refusals_total", level="service", limit="requests_per_minute") == 1
        )
        assert (
            _value(samples, "gateway_pii_detections_total", department=DEPARTMENT, entity_type="EMAIL") == 2
        )
        assert _value(samples, "gateway_requests_in_flight") == 0
        assert _value(samples, "gateway_backend_up", backend=sim) == 1
        # Bounded labels only: no key id, no request id, no personal data anywhere.
        text = httpx.get(f"{gateway.url}/metrics", timeout=5).text
        key_id = gateway.api_key.split("_")[1]
        assert key_id not in text and "req-" not in text and EMAIL not in text


def test_metrics_need_a_token_unless_told_otherwise() -> None:
    """They name departments, services and backends, and count personal data found: not for anyone
    who reaches the API port."""
    with (
        running_simulator(SOLO_MODEL) as sim,
        running_gateway([{"name": SOLO_MODEL, "backends": [{"url": sim}]}]) as gateway,
    ):
        answer = httpx.post(
            f"{gateway.v1}/chat/completions",
            json={"model": SOLO_MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 1},
            headers=gateway.headers,
            timeout=10,
        )
        assert answer.status_code == 200
        refused = httpx.get(f"{gateway.url}/metrics", timeout=5)
        with_a_key = httpx.get(f"{gateway.url}/metrics", headers=gateway.headers, timeout=5)
    for response in (refused, with_a_key):
        assert response.status_code == 403
        assert "metrics.token_env" in response.text
        assert (
            DEPARTMENT not in response.text and sim not in response.text and "gateway_" not in response.text
        )
