"""Real vLLM servers for the tests: the CPU build, in its own environment (`make vllm`), serving the
tiny random-weight models of backends/vllm/tiny_models.py on free loopback ports.

Each server is its own process group (vLLM forks an engine core), stopped by its PID's group at the
end. Start-up takes one to two minutes on two cores, so the servers are started together, once per
test session, and every real-vLLM test shares them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from backends.vllm import environment
from tests.servers import free_port

GENERATE_MODEL = "tiny-llama"
EMBED_MODEL = "tiny-embed"
RERANK_MODEL = "tiny-rerank"

TINY_MODELS = Path(environment.__file__).with_name("tiny_models.py")
STARTUP_SECONDS = 420.0
STOP_SECONDS = 20.0

# Offline, no usage report, a 1 GiB KV cache: what vLLM needs to run here (reference/real-vllm-cpu.md).
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "VLLM_CPU_KVCACHE_SPACE": "1",
}


@dataclass(frozen=True)
class VllmServers:
    """Base URLs (without /v1) of the three servers."""

    generate: str
    embed: str
    rerank: str


def require_environment() -> Path:
    """The environment's Python; a missing one fails the test run (never skipped): `make test` installs it."""
    if not environment.is_installed():
        pytest.fail(f"real vLLM is not installed in {environment.env_path()}: run `make vllm`", pytrace=False)
    return environment.python()


def build_tiny_models(python: Path, out: Path) -> Path:
    subprocess.run([str(python), str(TINY_MODELS), str(out)], check=True, timeout=120)
    return out


@dataclass
class _Process:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _launch(python: Path, model_dir: Path, name: str, log_dir: Path, *, pooling: bool) -> _Process:
    port = free_port()
    log = log_dir / f"vllm-{name}.log"
    command = [
        str(python), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir),
        "--served-model-name", name,
        "--load-format", "dummy",  # random weights: nothing to download
        "--dtype", "float32",  # bfloat16 needs AVX-512 BF16, which not every machine here has
        "--seed", "0",
        "--enforce-eager",  # no torch.compile: a minute less to start, same answers
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    # Pooling models keep their own 512 positions; the generator gets its whole 1,024.
    command += ["--runner", "pooling"] if pooling else ["--max-model-len", "1024"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **OFFLINE_ENV},
            cwd=log_dir,
            start_new_session=True,  # its own process group: stopping it stops its engine core too
        )
    return _Process(name, f"http://127.0.0.1:{port}", process, log)


def _wait_ready(servers: list[_Process], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    pending = list(servers)
    while pending and time.monotonic() < deadline:
        for server in list(pending):
            if server.process.poll() is not None:
                raise RuntimeError(f"vLLM {server.name} exited during start-up:\n{server.tail()}")
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    pending.remove(server)
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    if pending:
        names = ", ".join(server.name for server in pending)
        raise TimeoutError(f"vLLM {names} not ready after {seconds:.0f} s:\n{pending[0].tail()}")


def _stop(server: _Process) -> None:
    if server.process.poll() is not None:
        return
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(STOP_SECONDS)


@contextmanager
def running_vllm(work_dir: Path) -> Iterator[VllmServers]:
    """The three servers, started side by side; stopped (with their engine cores) on exit."""
    python = require_environment()
    models = build_tiny_models(python, work_dir / "models")
    with ExitStack() as stack:
        servers = []
        for name, folder, pooling in (
            (GENERATE_MODEL, "generate", False),
            (EMBED_MODEL, "embed", True),
            (RERANK_MODEL, "cross-encoder", True),
        ):
            server = _launch(python, models / folder, name, work_dir, pooling=pooling)
            stack.callback(_stop, server)
            servers.append(server)
        _wait_ready(servers, STARTUP_SECONDS)
        yield VllmServers(*(server.url for server in servers))
