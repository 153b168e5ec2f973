"""`make demo`: two vLLM simulators and the gateway in front of them, until Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

_ROOT = Path(__file__).resolve().parent.parent
_CONFIG = _ROOT / "docs" / "examples" / "demo.yaml"
_SIMULATORS = [
    ["--port", "8001", "--model", "mistral-small", "--embedding-model", "bge-m3"],
    ["--port", "8002", "--model", "mistral-small", "--model", "llama-3.1-8b"],
]
_GATEWAY_URL = "http://127.0.0.1:8080"

SNIPPET = """
The gateway is listening on {url} (Ctrl-C stops everything).
A key was made for this demo (department `demo`, service `playground`, role `user`): {key}

Python (pip install openai):

    from openai import OpenAI
    client = OpenAI(base_url="{url}/v1", api_key="{key}")
    reply = client.chat.completions.create(
        model="mistral-small", messages=[{{"role": "user", "content": "Bonjour !"}}]
    )
    print(reply.choices[0].message.content)

curl:

    curl -s {url}/v1/chat/completions -H 'authorization: Bearer {key}' \\
      -H 'content-type: application/json' \\
      -d '{{"model": "mistral-small", "messages": [{{"role": "user", "content": "Bonjour !"}}]}}'
"""


def _demo_key(gateway_command: list[str]) -> str | None:
    """A fresh key in the demo's own store, made the way an operator would."""
    arguments = ["--department", "demo", "--service", "playground", "--label", "make demo", "--expires", "7d"]
    made = subprocess.run(
        [*gateway_command, "keys", "create", "--config", str(_CONFIG), *arguments, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        print(made.stderr, file=sys.stderr)
        return None
    key: str = json.loads(made.stdout)["key"]
    return key


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_until_up(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        time.sleep(0.2)
    return False


def main() -> int:
    busy = [port for port in (8001, 8002, 8080) if _port_in_use(port)]
    if busy:
        print(f"demo: port(s) {', '.join(map(str, busy))} already in use; stop what uses them first.")
        return 1
    gateway_command = [sys.executable, "-m", "gateway"]
    # Stopped by SIGTERM (a supervisor, `timeout`, `kill`) as by Ctrl-C: the `finally` below stops the
    # simulators and the gateway, which would otherwise outlive the demo and keep its ports.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    processes = [subprocess.Popen([*gateway_command, "sim", *arguments]) for arguments in _SIMULATORS]
    try:
        for port in (8001, 8002):
            if not _wait_until_up(f"http://127.0.0.1:{port}/health", 30):
                print(f"demo: the simulator on port {port} did not start")
                return 1
        key = _demo_key(gateway_command)
        if key is None:
            print("demo: could not create a key")
            return 1
        processes.append(subprocess.Popen([*gateway_command, "serve", "--config", str(_CONFIG)]))
        if not _wait_until_up(f"{_GATEWAY_URL}/health/ready", 30):
            print("demo: the gateway did not become ready")
            return 1
        print(SNIPPET.format(url=_GATEWAY_URL, key=key), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
        return 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
