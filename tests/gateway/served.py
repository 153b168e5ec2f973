"""`gateway serve` in a subprocess, for tests of what uvicorn itself does with connections and headers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.gateway.conftest import POLICIES
from tests.servers import free_port, wait_until_ready

ADMIN_KEY = "bootstrap-admin-key-for-tests-" + "k" * 16
"""The bootstrap admin key the served gateway is started with: a valid key without a store write."""


@dataclass
class ServedGateway:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    """Where the process writes its standard error (a file: a full pipe would stall the server)."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def write_config(folder: Path, extra: str = "") -> Path:
    """A configuration with one model on a backend nobody listens on (these tests never reach it)."""
    config = folder / "gateway.yaml"
    config.write_text(
        "models: [{name: m, backends: [{url: 'http://127.0.0.1:9'}]}]\n"
        f"store: {{kind: embedded, path: '{folder / 'gateway.db'}'}}\n"
        f"policy: {{model_file: '{POLICIES / 'model.conf'}', policy_file: '{POLICIES / 'policy.csv'}'}}\n"
        f"{extra}",
        encoding="utf-8",
    )
    return config


@contextmanager
def served_gateway(folder: Path, extra: str = "", *, log_level: str = "warning") -> Iterator[ServedGateway]:
    """`gateway serve` with the configuration above plus `extra` YAML, until the block ends (SIGTERM)."""
    config = write_config(folder, extra)
    port = free_port()
    env = {**os.environ, "GATEWAY_KEY_PEPPER": "p" * 40, "GATEWAY_ADMIN_KEY": ADMIN_KEY}
    env.pop("FORWARDED_ALLOW_IPS", None)
    command = [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--port", str(port)]
    command += ["--log-level", log_level]
    log = folder / "gateway.stderr"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    served = ServedGateway("127.0.0.1", port, process, log)
    try:
        assert wait_until_ready(f"{served.url}/health/live", process, 30), served.stderr()
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
