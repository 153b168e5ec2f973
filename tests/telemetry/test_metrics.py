"""One worker: known traffic through `GatewayMetrics` gives exact values in the rendered exposition."""

from __future__ import annotations

import math
import time

import pytest
from prometheus_client import CollectorRegistry, Histogram
from pydantic import ValidationError

from gateway.telemetry import (
    REQUEST_DURATION_BUCKETS,
    TIME_TO_FIRST_TOKEN_BUCKETS,
    TOKEN_USAGE_BUCKETS,
    GatewayMetrics,
    MetricsConfig,
)
from gateway.telemetry.backends import backend_label
from gateway.telemetry.histograms import BatchedHistogram, BucketCounts
from tests.telemetry.helpers import (
    BACKEND_A,
    BACKEND_B,
    CHAT_MODEL,
    EMBEDDING_MODEL,
    Samples,
    bucket,
    bucket_bounds,
    deployment_pools,
    label_names,
    parse,
    value,
)

DEPARTMENT = "dgfip"
COURRIER = "assistant-courrier"
RECHERCHE = "recherche"
MADE_UP_MODEL = "gpt-made-up"
KEY_ID = "k:abcdefgh2345"


def record_known_traffic(metrics: GatewayMetrics) -> None:
    # Six requests reach a backend; five of them are over.
    for _ in range(5):
        metrics.request_started(CHAT_MODEL)
    metrics.request_started(EMBEDDING_MODEL)
    chat = (DEPARTMENT, COURRIER, CHAT_MODEL, "chat")
    metrics.request_finished(*chat, 200, 0.05, 0.03, 100, 20)
    metrics.request_finished(*chat, 200, 0.5, 0.3, 2000, 300)
    metrics.request_finished(*chat, 200, 3.0, None, 4, 1)
    metrics.request_finished(*chat, 502, 0.01, None, 0, 0)
    metrics.request_finished(DEPARTMENT, RECHERCHE, EMBEDDING_MODEL, "embeddings", 200, 0.015, None, 16, 0)
    # Refused before their reservation.
    metrics.request_rejected("", "", MADE_UP_MODEL, "chat", 401)
    metrics.request_rejected(DEPARTMENT, COURRIER, MADE_UP_MODEL, "chat", 404)
    metrics.request_rejected(*chat, 429)
    metrics.quota_refused(DEPARTMENT, COURRIER, "service", "tokens_per_day")
    metrics.request_rejected(*chat, 429)
    metrics.quota_refused(DEPARTMENT, COURRIER, "key", "requests_per_minute")
    # A caller passing what must never be a label: it is bounded to `other`.
    metrics.quota_refused(DEPARTMENT, COURRIER, KEY_ID, "weird")
    metrics.pii_detected(DEPARTMENT, {"EMAIL": 2, "IBAN": 1, "PHONE": 0})
    metrics.pii_detected(DEPARTMENT, {"EMAIL": 2, "IBAN": 1})


@pytest.fixture
def rendered() -> tuple[str, Samples]:
    pools, _ = deployment_pools()
    metrics = GatewayMetrics(pools)
    record_known_traffic(metrics)
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    text = body.decode()
    return text, parse(text)


def test_requests_are_counted_by_department_service_model_operation_and_status(
    rendered: tuple[str, Samples],
) -> None:
    _, samples = rendered
    name = "gateway_requests_total"
    chat = {"department": DEPARTMENT, "service": COURRIER, "model": CHAT_MODEL, "operation": "chat"}
    assert value(samples, name, chat, status="200") == 3
    assert value(samples, name, chat, status="502") == 1
    assert value(samples, name, chat, status="429") == 2
    embeddings = {"department": DEPARTMENT, "service": RECHERCHE, "model": EMBEDDING_MODEL}
    assert value(samples, name, embeddings, operation="embeddings", status="200") == 1
    # Refused before the key or the model was known: `unknown`, never the name the client sent.
    unknown = {"department": "unknown", "service": "unknown", "model": "unknown", "operation": "chat"}
    assert value(samples, name, unknown, status="401") == 1
    assert value(samples, name, {**chat, "model": "unknown"}, status="404") == 1
    total = sum(count for (sample, _), count in samples.items() if sample == name)
    assert total == 9


def test_tokens_are_counted_and_their_distribution_kept_by_type(rendered: tuple[str, Samples]) -> None:
    _, samples = rendered
    courrier = {"department": DEPARTMENT, "service": COURRIER, "model": CHAT_MODEL}
    assert value(samples, "gateway_tokens_total", courrier, type="input") == 2104
    assert value(samples, "gateway_tokens_total", courrier, type="output") == 321
    recherche = {"department": DEPARTMENT, "service": RECHERCHE, "model": EMBEDDING_MODEL}
    assert value(samples, "gateway_tokens_total", recherche, type="input") == 16
    assert value(samples, "gateway_tokens_total", recherche, type="output") == 0

    name = "gateway_request_tokens"
    chat_input = {"model": CHAT_MODEL, "type": "input"}
    assert value(samples, f"{name}_count", chat_input) == 3
    assert value(samples, f"{name}_sum", chat_input) == 2104
    # Buckets are `le`: 4 tokens fall in the bucket whose bound is 4.
    expected_input = {1: 0, 4: 1, 16: 1, 64: 1, 256: 2, 1024: 2, 4096: 3, math.inf: 3}
    for le, count in expected_input.items():
        assert bucket(samples, name, le, **chat_input) == count, le
    chat_output = {"model": CHAT_MODEL, "type": "output"}
    assert value(samples, f"{name}_sum", chat_output) == 321
    expected_output = {1: 1, 4: 1, 16: 1, 64: 2, 256: 2, 1024: 3, math.inf: 3}
    for le, count in expected_output.items():
        assert bucket(samples, name, le, **chat_output) == count, le
    # Embeddings have no output tokens: no observation of 0 is made.
    assert value(samples, f"{name}_count", model=EMBEDDING_MODEL, type="input") == 1
    assert value(samples, f"{name}_count", model=EMBEDDING_MODEL, type="output") == 0


def test_durations_and_time_to_first_token(rendered: tuple[str, Samples]) -> None:
    _, samples = rendered
    name = "gateway_request_duration_seconds"
    chat = {"model": CHAT_MODEL, "operation": "chat"}
    assert value(samples, f"{name}_count", chat) == 4
    assert value(samples, f"{name}_sum", chat) == pytest.approx(3.56)
    expected = {0.01: 1, 0.02: 1, 0.04: 1, 0.08: 2, 0.32: 2, 0.64: 3, 2.56: 3, 5.12: 4, math.inf: 4}
    for le, count in expected.items():
        assert bucket(samples, name, le, **chat) == count, le
    embeddings = {"model": EMBEDDING_MODEL, "operation": "embeddings"}
    assert bucket(samples, name, 0.01, **embeddings) == 0
    assert bucket(samples, name, 0.02, **embeddings) == 1
    # Refusals make no duration series.
    assert not [
        labels for sample, labels in samples if sample == f"{name}_count" and ("model", "unknown") in labels
    ]

    ttft = "gateway_time_to_first_token_seconds"
    assert value(samples, f"{ttft}_count", model=CHAT_MODEL) == 2
    assert value(samples, f"{ttft}_sum", model=CHAT_MODEL) == pytest.approx(0.33)
    for le, count in {0.02: 0, 0.04: 1, 0.25: 1, 0.5: 2, math.inf: 2}.items():
        assert bucket(samples, ttft, le, model=CHAT_MODEL) == count, le
    assert value(samples, f"{ttft}_count", model=EMBEDDING_MODEL) == 0


def test_requests_in_flight(rendered: tuple[str, Samples]) -> None:
    _, samples = rendered
    assert value(samples, "gateway_requests_in_flight", model=CHAT_MODEL) == 1
    assert value(samples, "gateway_requests_in_flight", model=EMBEDDING_MODEL) == 0


def test_quota_refusals_and_pii_detections(rendered: tuple[str, Samples]) -> None:
    _, samples = rendered
    name = "gateway_quota_refusals_total"
    who = {"department": DEPARTMENT, "service": COURRIER}
    assert value(samples, name, who, level="service", limit="tokens_per_day") == 1
    assert value(samples, name, who, level="key", limit="requests_per_minute") == 1
    assert value(samples, name, who, level="other", limit="other") == 1
    pii = "gateway_pii_detections_total"
    assert value(samples, pii, department=DEPARTMENT, entity_type="EMAIL") == 4
    assert value(samples, pii, department=DEPARTMENT, entity_type="IBAN") == 2
    assert not [labels for sample, labels in samples if sample == pii and ("entity_type", "PHONE") in labels]


def test_no_label_carries_an_identifier(rendered: tuple[str, Samples]) -> None:
    text, samples = rendered
    allowed = {
        "department",
        "service",
        "model",
        "operation",
        "status",
        "type",
        "backend",
        "level",
        "limit",
        "entity_type",
        "le",
    }
    assert label_names(samples) <= allowed
    assert KEY_ID not in text
    assert MADE_UP_MODEL not in text
    assert "req-" not in text


def test_every_metric_has_a_help_text(rendered: tuple[str, Samples]) -> None:
    text, _ = rendered
    helps = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}
    expected = {
        "gateway_requests_total",
        "gateway_tokens_total",
        "gateway_request_tokens",
        "gateway_request_duration_seconds",
        "gateway_time_to_first_token_seconds",
        "gateway_requests_in_flight",
        "gateway_backend_up",
        "gateway_backend_ejected",
        "gateway_backend_in_flight",
        "gateway_backend_queue_depth",
        "gateway_backend_running",
        "gateway_backend_kv_cache_usage",
        "gateway_backend_ejections_total",
        "gateway_quota_refusals_total",
        "gateway_pii_detections_total",
        "gateway_identity_provider_keys_unavailable_total",
        "gateway_cost_eur_total",
        "gateway_store_persistent",
        "gateway_budget_used_ratio",
        "gateway_budget_alerts_total",
        "gateway_energy_wh_total",
        "gateway_emissions_gco2eq_total",
        "gateway_admission_queue_length",
        "gateway_admission_wait_seconds",
        "gateway_admission_shed_total",
    }
    assert helps == expected
    assert "_created" not in text


def test_histograms_have_the_genai_bucket_boundaries(rendered: tuple[str, Samples]) -> None:
    _, samples = rendered
    inf = [math.inf]
    assert bucket_bounds(samples, "gateway_request_tokens", model=CHAT_MODEL, type="input") == [
        *TOKEN_USAGE_BUCKETS,
        *inf,
    ]
    assert bucket_bounds(samples, "gateway_request_duration_seconds", model=CHAT_MODEL, operation="chat") == [
        *REQUEST_DURATION_BUCKETS,
        *inf,
    ]
    assert bucket_bounds(samples, "gateway_time_to_first_token_seconds", model=CHAT_MODEL) == [
        *TIME_TO_FIRST_TOKEN_BUCKETS,
        *inf,
    ]


def test_the_bucket_lists_are_the_semantic_conventions() -> None:
    # OpenTelemetry GenAI metrics: gen_ai.client.token.usage, gen_ai.client.operation.duration,
    # gen_ai.server.time_to_first_token (ExplicitBucketBoundaries).
    assert [4**power for power in range(14)] == list(TOKEN_USAGE_BUCKETS)
    assert [round(0.01 * 2**power, 2) for power in range(14)] == list(REQUEST_DURATION_BUCKETS)
    assert list(TIME_TO_FIRST_TOKEN_BUCKETS) == [
        0.001,
        0.005,
        0.01,
        0.02,
        0.04,
        0.06,
        0.08,
        0.1,
        0.25,
        0.5,
        0.75,
        1.0,
        2.5,
        5.0,
        7.5,
        10.0,
    ]


def test_rendering_again_adds_nothing() -> None:
    pools, _ = deployment_pools()
    metrics = GatewayMetrics(pools)
    record_known_traffic(metrics)
    first = parse(metrics.render()[0].decode())
    assert parse(metrics.render()[0].decode()) == first
    metrics.request_started(CHAT_MODEL)
    metrics.request_finished(DEPARTMENT, COURRIER, CHAT_MODEL, "chat", 200, 0.05, 0.03, 100, 20)
    third = parse(metrics.render()[0].decode())
    chat = {"department": DEPARTMENT, "service": COURRIER, "model": CHAT_MODEL, "operation": "chat"}
    assert value(third, "gateway_requests_total", chat, status="200") == 4
    assert value(third, "gateway_requests_in_flight", model=CHAT_MODEL) == 1


def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    pools, _ = deployment_pools()
    metrics = GatewayMetrics(pools)
    record_known_traffic(metrics)
    body, content_type = metrics.render("application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
    assert content_type.startswith("application/openmetrics-text")
    text = body.decode()
    assert text.endswith("# EOF\n")
    assert "gateway_requests_total{" in text


def test_backend_gauges_follow_the_routers_backend_objects() -> None:
    pools, backends = deployment_pools()
    metrics = GatewayMetrics(pools)
    a, b = backends[BACKEND_A], backends[BACKEND_B]
    a.in_flight = 3
    a.record_load(running=5, waiting=2, kv_cache_usage=0.75)
    b.record_health(False)
    a.record_failure(time.monotonic(), eject_after=1, eject_seconds=30)

    samples = parse(metrics.render()[0].decode())
    a_chat = {"model": CHAT_MODEL, "backend": BACKEND_A}
    a_embeddings = {"model": EMBEDDING_MODEL, "backend": BACKEND_A}
    b_chat = {"model": CHAT_MODEL, "backend": BACKEND_B}
    for labels in (a_chat, a_embeddings):
        # One server, one load: the same figures under each model it serves.
        assert value(samples, "gateway_backend_up", labels) == 1
        assert value(samples, "gateway_backend_ejected", labels) == 1
        assert value(samples, "gateway_backend_in_flight", labels) == 3
        assert value(samples, "gateway_backend_running", labels) == 5
        assert value(samples, "gateway_backend_queue_depth", labels) == 2
        assert value(samples, "gateway_backend_kv_cache_usage", labels) == 0.75
        assert value(samples, "gateway_backend_ejections_total", labels) == 1
    assert value(samples, "gateway_backend_up", b_chat) == 0
    assert value(samples, "gateway_backend_ejected", b_chat) == 0
    assert value(samples, "gateway_backend_ejections_total", b_chat) == 0

    # The counter follows the Backend's own count: a second ejection adds one, a re-render nothing.
    a.ejected_until = 0.0
    a.record_failure(time.monotonic(), eject_after=1, eject_seconds=30)
    metrics.render()
    samples = parse(metrics.render()[0].decode())
    assert value(samples, "gateway_backend_ejections_total", a_chat) == 2
    a.ejected_until = 0.0
    a.in_flight = 0
    b.record_health(True)
    samples = parse(metrics.render()[0].decode())
    assert value(samples, "gateway_backend_ejected", a_chat) == 0
    assert value(samples, "gateway_backend_in_flight", a_chat) == 0
    assert value(samples, "gateway_backend_up", b_chat) == 1


def test_backend_labels_never_carry_credentials() -> None:
    assert backend_label("http://user:secret@10.0.0.5:8000/vllm") == "http://10.0.0.5:8000/vllm"
    assert backend_label("https://[::1]:8443") == "https://[::1]:8443"


def test_batched_histogram_matches_observe() -> None:
    # add_counts writes prometheus_client's own bucket and sum values: if an upgrade changes them,
    # this is where it shows.
    observations = [0.0, 0.01, 0.0100001, 0.5, 81.92, 100.0, 3.0, 0.02]
    reference_registry, batched_registry = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("h", "h", ("m",), registry=reference_registry, buckets=REQUEST_DURATION_BUCKETS)
    batched = BatchedHistogram("h", "h", ("m",), registry=batched_registry, buckets=REQUEST_DURATION_BUCKETS)
    counts = BucketCounts(batched.labels("x"))
    for observation in observations:
        reference.labels("x").observe(observation)
        counts.add(observation)
    counts.flush()
    counts.flush()  # nothing pending: nothing added twice

    def samples_of(registry: CollectorRegistry) -> list[tuple[str, dict[str, str], float]]:
        return [
            (sample.name, sample.labels, sample.value)
            for family in registry.collect()
            for sample in family.samples
            if not sample.name.endswith("_created")
        ]

    assert samples_of(batched_registry) == samples_of(reference_registry)


def test_configuration() -> None:
    config = MetricsConfig()
    assert config.enabled and config.path == "/metrics" and config.multiprocess_directory is None
    assert not config.allow_anonymous, "metrics are for scrapers with a token unless told otherwise"
    with pytest.raises(ValidationError):
        MetricsConfig.model_validate({"enabled": True, "unknown": 1})
    for bad in ("metrics", "/v1/metrics", "/v1"):
        with pytest.raises(ValidationError):
            MetricsConfig(path=bad)
    with pytest.raises(ValidationError):
        MetricsConfig(flush_interval_seconds=0)
    assert MetricsConfig().scrape_token() is None


def test_a_token_variable_that_is_not_set_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_TEST_METRICS_TOKEN", raising=False)
    config = MetricsConfig(token_env="GATEWAY_TEST_METRICS_TOKEN")
    with pytest.raises(ValueError, match="GATEWAY_TEST_METRICS_TOKEN"):
        config.scrape_token()
    monkeypatch.setenv("GATEWAY_TEST_METRICS_TOKEN", "s3cret")
    token = config.scrape_token()
    assert token is not None and token.get_secret_value() == "s3cret"
