"""``main``: flags, a real process, a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from backends.simulator.cli import settings_from_args
from tests.servers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_flags_map_onto_settings() -> None:
    settings = settings_from_args(
        [
            "--port", "9000", "--model", "a", "--model", "b", "--embedding-model", "e",
            "--max-model-len", "4096", "--max-num-seqs", "8", "--max-queue", "3", "--ttft-ms", "0",
            "--itl-ms", "1.5", "--seed", "9", "--mode", "echo", "--error-rate", "0.25", "--api-key", "k",
            "--embedding-dim", "16", "--legacy-metric-names",
        ]
    )  # fmt: skip

    assert settings.models == ("a", "b")
    assert settings.embedding_models == ("e",)
    assert (settings.port, settings.max_model_len, settings.max_num_seqs, settings.max_queue) == (
        9000,
        4096,
        8,
        3,
    )
    assert (settings.ttft_ms, settings.itl_ms, settings.seed, settings.mode) == (0.0, 1.5, 9, "echo")
    assert (settings.error_rate, settings.api_key, settings.embedding_dim) == (0.25, "k", 16)
    assert settings.legacy_metric_names is True
    assert settings.host == "127.0.0.1"


def test_model_kind_flags_and_the_responses_store(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from_args(
        ["--port", "1", "--rerank-model", "r", "--cross-encoder-model", "c", "--transcription-model", "w"]
    )
    assert settings.rerank_models == ("r", "c")
    assert settings.transcription_models == ("w",)
    assert settings.responses_store is False
    # vLLM turns its store on with an environment variable; the simulator reads it too.
    monkeypatch.setenv("VLLM_ENABLE_RESPONSES_API_STORE", "1")
    assert settings_from_args(["--port", "1", "--model", "m"]).responses_store is True
    monkeypatch.setenv("VLLM_ENABLE_RESPONSES_API_STORE", "0")
    assert (
        settings_from_args(["--port", "1", "--model", "m", "--enable-responses-store"]).responses_store
        is True
    )


def test_a_model_is_required() -> None:
    with pytest.raises(SystemExit) as exit_info:
        settings_from_args(["--port", "9000"])

    assert exit_info.value.code == 2


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_main_serves_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "backends.simulator", "--port", str(port), "--model", "cli-model"]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        models = None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2.0) as http:
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    models = http.get("/v1/models").json()
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
        assert models is not None, "the simulator did not answer within 10 s"
        assert models["data"][0]["id"] == "cli-model"

        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=10.0)
        assert process.returncode == 0, stderr.decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10.0)
