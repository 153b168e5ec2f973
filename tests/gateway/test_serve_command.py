"""`gateway serve` as operators run it: a real process, several workers, the config from a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.gateway.conftest import SOLO_MODEL, running_simulator
from tests.servers import free_port


def _wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def test_serve_with_two_workers_from_the_environment(tmp_path: Path) -> None:
    with running_simulator(SOLO_MODEL) as sim:
        config = tmp_path / "gateway.yaml"
        config.write_text(
            f"models:\n  - name: {SOLO_MODEL}\n    backends: [{{url: '{sim}'}}]\n", encoding="utf-8"
        )
        port = free_port()
        env = {**os.environ, "GATEWAY_CONFIG": str(config)}
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
            assert _wait_ready(f"{base}/health/ready", process, 30), "the gateway did not become ready"
            for _ in range(4):
                response = httpx.post(
                    f"{base}/v1/chat/completions",
                    json={
                        "model": SOLO_MODEL,
                        "messages": [{"role": "user", "content": "x"}],
                        "max_tokens": 2,
                    },
                    timeout=10,
                )
                assert response.status_code == 200
                assert response.json()["usage"]["completion_tokens"] == 2
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                _, stderr = process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert b"Traceback" not in stderr


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
