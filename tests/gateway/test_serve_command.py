"""`gateway serve` as operators run it: a real process, several workers, the config from a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import POLICIES, SOLO_MODEL, running_simulator
from tests.redis_server import running_redis
from tests.servers import free_port, key_from_cli, wait_until_ready


def _requests_by_department_and_status(text: str) -> dict[tuple[str, str], float]:
    totals: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gateway_requests_total":
                key = (sample.labels["department"], sample.labels["status"])
                totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def _metric_settles(url: str, expected: dict[tuple[str, str], float]) -> bool:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _requests_by_department_and_status(httpx.get(url, timeout=5).text) == expected:
            return True
        time.sleep(0.2)
    return False


def test_serve_with_two_workers_on_redis(tmp_path: Path) -> None:
    """The path an operator takes: a key made with `gateway keys create`, two workers sharing Redis."""
    with running_redis() as redis_url, running_simulator(SOLO_MODEL) as sim:
        config = tmp_path / "gateway.yaml"
        config.write_text(
            f"models:\n  - name: {SOLO_MODEL}\n    backends: [{{url: '{sim}'}}]\n"
            f"store: {{kind: redis, url: '{redis_url}'}}\n"
            "metrics: {allow_anonymous: true}\n"
            f"policy: {{model_file: '{POLICIES / 'model.conf'}', policy_file: '{POLICIES / 'policy.csv'}'}}\n",
            encoding="utf-8",
        )
        env = {**os.environ, "GATEWAY_CONFIG": str(config), "GATEWAY_KEY_PEPPER": "p" * 40}
        api_key = key_from_cli(env)

        port = free_port()
        command = [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"
            assert wait_until_ready(f"{base}/health/ready", process, 30), "the gateway did not become ready"
            for _ in range(4):
                response = httpx.post(
                    f"{base}/v1/chat/completions",
                    json={
                        "model": SOLO_MODEL,
                        "messages": [{"role": "user", "content": "x"}],
                        "max_tokens": 2,
                    },
                    headers={"authorization": f"Bearer {api_key}"},
                    timeout=10,
                )
                assert response.status_code == 200
                assert response.json()["usage"]["completion_tokens"] == 2
            refused = httpx.post(f"{base}/v1/chat/completions", json={"model": SOLO_MODEL}, timeout=10)
            assert refused.status_code == 401
            # /metrics sums both workers' figures (each publishes them every second).
            assert _metric_settles(f"{base}/metrics", {("dgfip", "200"): 4.0, ("unknown", "401"): 1.0})
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                _, stderr = process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert b"Traceback" not in stderr
        assert api_key.encode() not in stderr


def test_serve_refuses_several_workers_on_the_embedded_store(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("models: [{name: m, backends: [{url: 'http://127.0.0.1:9'}]}]\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--workers", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "store.kind: redis" in result.stderr


def test_serve_refuses_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("models: [{name: m}]\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "models[0].backends: Field required" in result.stderr
