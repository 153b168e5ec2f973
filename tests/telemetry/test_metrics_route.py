"""The `/metrics` route in a real server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from litestar import Litestar

from gateway.telemetry import GatewayMetrics, MetricsConfig, metrics_routes
from tests.servers import serve_in_thread
from tests.telemetry.helpers import CHAT_MODEL, deployment_pools, parse, value

TOKEN_VARIABLE = "GATEWAY_TEST_SCRAPE_TOKEN"


@contextmanager
def serving(config: MetricsConfig) -> Iterator[tuple[str, GatewayMetrics]]:
    pools, _ = deployment_pools()
    metrics = GatewayMetrics(pools, config)
    app = Litestar(route_handlers=metrics_routes(metrics, config), openapi_config=None)
    with serve_in_thread(app) as url:
        yield url, metrics


def test_metrics_are_served_in_prometheus_text_format() -> None:
    with serving(MetricsConfig(allow_anonymous=True)) as (url, metrics):
        metrics.request_started(CHAT_MODEL)
        metrics.request_finished("dgfip", "courrier", CHAT_MODEL, "chat", 200, 0.2, 0.01, 10, 5)
        response = httpx.get(f"{url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert response.headers["cache-control"] == "no-store"
    samples = parse(response.text)
    labels = {"department": "dgfip", "service": "courrier", "model": CHAT_MODEL, "operation": "chat"}
    assert value(samples, "gateway_requests_total", labels, status="200") == 1


def test_openmetrics_is_negotiated() -> None:
    with serving(MetricsConfig(allow_anonymous=True)) as (url, _):
        response = httpx.get(
            f"{url}/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}, timeout=5
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_the_path_is_configurable_and_the_route_can_be_left_out() -> None:
    with serving(MetricsConfig(path="/internal/metrics", allow_anonymous=True)) as (url, _):
        assert httpx.get(f"{url}/internal/metrics", timeout=5).status_code == 200
        assert httpx.get(f"{url}/metrics", timeout=5).status_code == 404
    pools, _ = deployment_pools()
    assert metrics_routes(GatewayMetrics(pools), MetricsConfig(enabled=False)) == []


def test_a_configured_token_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, "scrape-secret")
    with serving(MetricsConfig(token_env=TOKEN_VARIABLE)) as (url, _):
        missing = httpx.get(f"{url}/metrics", timeout=5)
        wrong = httpx.get(f"{url}/metrics", headers={"authorization": "Bearer nope"}, timeout=5)
        right = httpx.get(f"{url}/metrics", headers={"authorization": "Bearer scrape-secret"}, timeout=5)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401
    assert "gateway_" not in missing.text + wrong.text
    assert right.status_code == 200 and "gateway_requests_in_flight" in right.text


def test_a_token_variable_that_is_not_set_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    pools, _ = deployment_pools()
    with pytest.raises(ValueError, match=TOKEN_VARIABLE):
        metrics_routes(GatewayMetrics(pools), MetricsConfig(token_env=TOKEN_VARIABLE))


def test_without_a_token_or_allow_anonymous_every_scrape_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="gateway.telemetry"), serving(MetricsConfig()) as (url, metrics):
        metrics.request_finished("dgfip", "courrier", CHAT_MODEL, "chat", 200, 0.2, 0.01, 10, 5)
        refused = httpx.get(f"{url}/metrics", headers={"authorization": "Bearer anything"}, timeout=5)
    assert refused.status_code == 403
    assert "dgfip" not in refused.text and "gateway_" not in refused.text
    assert "refuses every scrape" in caplog.text


def test_a_token_and_anonymous_access_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        MetricsConfig(token_env=TOKEN_VARIABLE, allow_anonymous=True)
