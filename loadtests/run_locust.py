"""`make loadtest`: a bounded, headless locust run against simulators on loopback.

Starts two vLLM simulators and a gateway (embedded store, default policies, a quota for one
service), makes a key per service the way an operator would, runs `loadtests/locustfile.py`
headless, and writes locust's CSV files and HTML report under `results/locust/<time>/`.

    python -m loadtests.run_locust [--users 20] [--spawn-rate 10] [--run-time 30]
    python -m loadtests.run_locust --ramp 10,10,100     # +10 users every 10 s up to 100

Against a real deployment, run locust itself (see the locustfile's docstring).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.servers import free_port

_ROOT = Path(__file__).resolve().parent.parent
_LOCUSTFILE = _ROOT / "loadtests" / "locustfile.py"
_CHAT_MODEL = "mistral-small"
_EMBEDDING_MODEL = "bge-m3"
SERVICES = (("dgfip", "assistant-courrier"), ("dgfip", "recherche-juridique"), ("drees", "statistiques"))
QUOTA_SERVICE = ("dgfip", "petit-budget")
_STARTUP_SECONDS = 30.0


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        time.sleep(0.2)
    return False


def write_config(folder: Path, simulators: list[int], port: int) -> Path:
    backends = [{"url": f"http://127.0.0.1:{sim}"} for sim in simulators]
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "models": [
            {"name": _CHAT_MODEL, "backends": backends},
            {"name": _EMBEDDING_MODEL, "backends": backends[:1]},
        ],
        "store": {"kind": "embedded", "path": str(folder / "gateway.db")},
        "policy": {
            "model_file": str(_ROOT / "policies" / "model.conf"),
            "policy_file": str(_ROOT / "policies" / "policy.csv"),
        },
        # One service with a small budget: its users must meet 429s, counted as expected.
        "quotas": {"services": {"/".join(QUOTA_SERVICE): {"tokens_per_minute": 600}}},
    }
    path = folder / "gateway.yaml"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
    return path


def _make_key(config: Path, department: str, service: str) -> str:
    arguments = ["--department", department, "--service", service, "--label", "loadtest", "--json"]
    made = subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "create", "--config", str(config), *arguments],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    key: str = json.loads(made.stdout)["key"]
    return key


@contextlib.contextmanager
def _running(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run(users: int, spawn_rate: float, run_time: int, ramp: str | None, results: Path) -> int:
    results.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    sim_ports = [free_port(), free_port()]
    gateway_port = free_port()
    sims = [
        ["--port", str(sim_ports[0]), "--model", _CHAT_MODEL, "--embedding-model", _EMBEDDING_MODEL],
        ["--port", str(sim_ports[1]), "--model", _CHAT_MODEL],
    ]
    config = write_config(results, sim_ports, gateway_port)
    with contextlib.ExitStack() as stack:
        for number, arguments in enumerate(sims):
            process = stack.enter_context(
                _running([python, "-m", "gateway", "sim", *arguments], results / f"simulator-{number}.log")
            )
            if not _wait_until_up(f"http://127.0.0.1:{sim_ports[number]}/health", process, _STARTUP_SECONDS):
                print(f"loadtest: simulator {number} did not start", file=sys.stderr)
                return 1
        keys = {
            "services": [
                {"department": department, "service": service, "key": _make_key(config, department, service)}
                for department, service in SERVICES
            ],
            "quota_key": _make_key(config, *QUOTA_SERVICE),
        }
        keys_file = results / "keys.json"  # removed below: keys never outlive the run's results
        keys_file.write_text(json.dumps(keys), encoding="utf-8")
        gateway = stack.enter_context(
            _running(
                [python, "-m", "gateway", "serve", "--config", str(config), "--log-level", "warning"],
                results / "gateway.log",
            )
        )
        if not _wait_until_up(f"http://127.0.0.1:{gateway_port}/health/ready", gateway, _STARTUP_SECONDS):
            print("loadtest: the gateway did not become ready", file=sys.stderr)
            return 1
        env = {**os.environ, "LOADTEST_KEYS_FILE": str(keys_file)}
        if ramp:
            env["LOADTEST_RAMP"] = ramp
        command = [
            python, "-m", "locust", "-f", str(_LOCUSTFILE), "--headless",
            "--host", f"http://127.0.0.1:{gateway_port}",
            "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time", f"{run_time}s",
            "--stop-timeout", "10", "--csv", str(results / "locust"), "--html", str(results / "report.html"),
            "--only-summary",
        ]  # fmt: skip
        try:
            # Bounded twice: by --run-time, and by this timeout if locust itself hangs.
            finished = subprocess.run(command, env=env, timeout=run_time + 60, check=False)
        finally:
            keys_file.unlink(missing_ok=True)
    print(f"loadtest: results in {results}")
    # Locust exits 1 when any request failed; the over-quota 429s are not failures.
    return finished.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtests.run_locust", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--run-time", type=int, default=30, help="seconds (at most 3600)")
    parser.add_argument("--ramp", help="users_per_step,step_seconds,max_users")
    parser.add_argument("--results", type=Path, help="default: results/locust/<time>")
    args = parser.parse_args(argv)
    if not 1 <= args.run_time <= 3600 or args.users < 1:
        parser.error("--run-time must be in [1, 3600] and --users at least 1")
    results = args.results or _ROOT / "results" / "locust" / time.strftime("%Y%m%d-%H%M%S")
    return run(args.users, args.spawn_rate, args.run_time, args.ramp, results)


if __name__ == "__main__":
    sys.exit(main())
