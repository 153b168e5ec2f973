"""SIGTERM while streams are open: they finish, their usage is settled, and the process exits cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from tests.gateway.conftest import POLICIES, SOLO_MODEL, running_simulator
from tests.servers import free_port, wait_until_ready

STREAMS = 3
TOKENS = 30
ITL_MS = 60  # each stream lasts about 1.8 s: SIGTERM arrives in the middle of every one


def _gateway(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *arguments], env=env, capture_output=True, text=True, timeout=60
    )


def test_sigterm_lets_open_streams_finish_and_settles_them(tmp_path: Path) -> None:
    with running_simulator(SOLO_MODEL, itl_ms=ITL_MS) as sim:
        config = tmp_path / "gateway.yaml"
        config.write_text(
            f"models:\n  - name: {SOLO_MODEL}\n    backends: [{{url: '{sim}'}}]\n"
            f"store: {{kind: embedded, path: '{tmp_path / 'gateway.db'}'}}\n"
            f"policy: {{model_file: '{POLICIES / 'model.conf'}', policy_file: '{POLICIES / 'policy.csv'}'}}\n"
            "server: {shutdown_timeout_seconds: 20}\n",
            encoding="utf-8",
        )
        env = {**os.environ, "GATEWAY_CONFIG": str(config)}
        created = _gateway(env, "keys", "create", "--department", "dgfip", "--service", "courrier", "--json")
        assert created.returncode == 0, created.stderr
        api_key = json.loads(created.stdout)["key"]

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert wait_until_ready(f"{base}/health/ready", process, 30), "the gateway did not become ready"
            started = threading.Barrier(STREAMS + 1, timeout=20)
            bodies: list[str] = []

            def stream() -> None:
                body = {
                    "model": SOLO_MODEL,
                    "messages": [{"role": "user", "content": "x"}],
                    "max_tokens": TOKENS,
                    "stream": True,
                }
                headers = {"authorization": f"Bearer {api_key}"}
                with httpx.stream(
                    "POST", f"{base}/v1/chat/completions", json=body, headers=headers, timeout=30
                ) as r:
                    chunks = r.iter_text()
                    text = next(chunks)  # the first event is out: the stream is open
                    started.wait()
                    text += "".join(chunks)
                bodies.append(text)

            threads = [threading.Thread(target=stream) for _ in range(STREAMS)]
            for thread in threads:
                thread.start()
            started.wait()
            process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            # No new connection is accepted while the open streams finish.
            try:
                httpx.get(f"{base}/health/live", timeout=1)
                refused = False
            except httpx.HTTPError:
                refused = True
            for thread in threads:
                thread.join(timeout=30)
            _, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        # uvicorn re-raises the signal once it has shut down gracefully: a clean exit "by SIGTERM".
        assert process.returncode in (0, -signal.SIGTERM), stderr.decode()
        assert b"Traceback" not in stderr
        assert refused
        assert len(bodies) == STREAMS
        for text in bodies:
            events = [line for line in text.split("\n\n") if line.startswith("data: ")]
            assert events[-1] == "data: [DONE]"
            assert sum('"finish_reason":"length"' in event for event in events) == 1

        # After the exit, the usage store holds all three requests with every generated token.
        period = datetime.now(ZoneInfo("Europe/Paris")).strftime("%Y-%m")
        report = _gateway(env, "usage", "report", "--period", period, "--by", "service", "--format", "json")
        assert report.returncode == 0, report.stderr
        rows = json.loads(report.stdout)["rows"]
        assert [row["requests"] for row in rows] == [STREAMS]
        assert [row["completion_tokens"] for row in rows] == [STREAMS * TOKENS]
