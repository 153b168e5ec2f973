"""`make demo`: three vLLM simulators and the gateway in front of them, until Ctrl-C.

It makes a key for a service of each of two departments (with budgets and prices in
docs/examples/demo.yaml), a bootstrap admin key for the console, sends a little traffic of its own
so that the console's charts and request log have something to show, and prints how to go on.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

_ROOT = Path(__file__).resolve().parent.parent
_CONFIG = _ROOT / "docs" / "examples" / "demo.yaml"
_SIMULATORS = [
    ["--port", "8001", "--model", "mistral-small", "--embedding-model", "bge-m3"],
    ["--port", "8002", "--model", "mistral-small", "--model", "llama-3.1-8b"],
    ["--port", "8003", "--model", "echo", "--mode", "echo"],
]
_SIMULATOR_PORTS = (8001, 8002, 8003)
_GATEWAY_URL = "http://127.0.0.1:8080"

DEPARTMENTS = {"dgfip": "assistant-courrier", "drees": "statistiques"}
"""The two departments of the demo, and the service each key is made for."""
IBAN = "FR76 3000 6000 0112 3456 7890 189"

SNIPPET = """
The gateway is listening on {url} (Ctrl-C stops everything).

Console: {url}/console/  sign in with the demo's admin key (platform administrator):
    {admin_key}
  It shows the two departments' usage against their budgets, in tokens and euros, and the
  request log ({traffic} requests sent at start), with what was refused and why.

Keys made for this demo (role `user`, valid 7 days):
    dgfip / assistant-courrier   {dgfip}
    drees / statistiques         {drees}

Python (pip install openai):

    from openai import OpenAI
    client = OpenAI(base_url="{url}/v1", api_key="{dgfip}")
    reply = client.chat.completions.create(
        model="mistral-small", messages=[{{"role": "user", "content": "Bonjour !"}}]
    )
    print(reply.choices[0].message.content)

Personal data: the `echo` model repeats the last message as its backend received it. The backend got
    {echo_backend}
and the gateway gave the client its own IBAN back:
    {echo_client}

    curl -s {url}/v1/chat/completions -H 'authorization: Bearer {dgfip}' \\
      -H 'content-type: application/json' \\
      -d '{{"model": "echo", "messages": [{{"role": "user", "content": "Virement sur {iban}"}}]}}'

Metrics: {url}/metrics   API reference: {url}/docs   Audit log: data/audit.jsonl
"""


def _make_key(gateway_command: list[str], department: str, service: str) -> str | None:
    """A fresh key in the demo's own store, made the way an operator would."""
    arguments = ["--department", department, "--service", service, "--label", "make demo", "--expires", "7d"]
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


@dataclass(frozen=True)
class Traffic:
    """What the demo's own traffic did."""

    sent: int
    statuses: dict[int, int]
    echo_backend: str
    """The IBAN message as the echo backend received it (a placeholder in place of the IBAN)."""
    echo_client: str
    """The same answer as the client got it (the IBAN restored)."""


def _chat(model: str, content: str, max_tokens: int = 60) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens}


def send_traffic(url: str, keys: Mapping[str, str], *, echo_backend_url: str) -> Traffic:
    """A little traffic of each department's key: chats on both chat models, embeddings, a message
    with an IBAN to the echo model, and a few mistakes (a chat sent to the embedding model, a bad key)
    so that the request log shows refusals too."""
    statuses: dict[int, int] = {}
    sent = 0
    echo_client = ""
    with httpx.Client(base_url=f"{url}/v1", timeout=30) as client:

        def post(path: str, key: str, body: Mapping[str, object]) -> httpx.Response:
            nonlocal sent
            answer = client.post(path, json=body, headers={"authorization": f"Bearer {key}"})
            sent += 1
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
            return answer

        for department, key in keys.items():
            rounds = 6 if department == "dgfip" else 3
            for index in range(rounds):
                post("/chat/completions", key, _chat("mistral-small", f"Résume le courrier n°{index + 1}."))
                post("/chat/completions", key, _chat("llama-3.1-8b", f"Question {index + 1} sur le budget."))
            post("/embeddings", key, {"model": "bge-m3", "input": ["circulaire", "arrêté", "décret"]})
            post(
                "/chat/completions",
                key,
                _chat("mistral-small", "Écrire à claire.martin@finances.gouv.fr au sujet du dossier."),
            )
            post("/chat/completions", key, _chat("bge-m3", "Une embedding ne sait pas discuter."))  # 400
        answer = post("/chat/completions", keys["dgfip"], _chat("echo", f"Virement sur {IBAN}"))
        if answer.status_code == 200:
            echo_client = str(answer.json()["choices"][0]["message"]["content"])
        post("/chat/completions", "sgw_not_a_real_key", _chat("mistral-small", "x"))  # 401
    # The echo simulator served only that request: its last one is what it received.
    seen = httpx.get(f"{echo_backend_url}/sim/last-request", timeout=10)
    echo_backend = ""
    if seen.status_code == 200:
        echo_backend = str(json.loads(seen.json()["body"])["messages"][-1]["content"])
    return Traffic(sent, statuses, echo_backend, echo_client)


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
    busy = [port for port in (*_SIMULATOR_PORTS, 8080) if _port_in_use(port)]
    if busy:
        print(f"demo: port(s) {', '.join(map(str, busy))} already in use; stop what uses them first.")
        return 1
    gateway_command = [sys.executable, "-m", "gateway"]
    # Stopped by SIGTERM (a supervisor, `timeout`, `kill`) as by Ctrl-C: the `finally` below stops the
    # simulators and the gateway, which would otherwise outlive the demo and keep its ports.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    processes = [subprocess.Popen([*gateway_command, "sim", *arguments]) for arguments in _SIMULATORS]
    try:
        for port in _SIMULATOR_PORTS:
            if not _wait_until_up(f"http://127.0.0.1:{port}/health", 30):
                print(f"demo: the simulator on port {port} did not start")
                return 1
        keys: dict[str, str] = {}
        for department, service in DEPARTMENTS.items():
            key = _make_key(gateway_command, department, service)
            if key is None:
                print("demo: could not create a key")
                return 1
            keys[department] = key
        # The bootstrap admin key, new at every start and known only to this run: the console's sign-in.
        admin_key = "demo-admin-" + secrets.token_urlsafe(32)
        environment = {**os.environ, "GATEWAY_ADMIN_KEY": admin_key}
        processes.append(
            subprocess.Popen([*gateway_command, "serve", "--config", str(_CONFIG)], env=environment)
        )
        if not _wait_until_up(f"{_GATEWAY_URL}/health/ready", 30):
            print("demo: the gateway did not become ready")
            return 1
        traffic = send_traffic(_GATEWAY_URL, keys, echo_backend_url="http://127.0.0.1:8003")
        print(
            SNIPPET.format(
                url=_GATEWAY_URL,
                admin_key=admin_key,
                traffic=traffic.sent,
                iban=IBAN,
                echo_backend=traffic.echo_backend,
                echo_client=traffic.echo_client,
                **keys,
            ),
            flush=True,
        )
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
